package wire

// SetOf returns a set holding values, for rebuilding a membership from a
// saved snapshot.
func SetOf(values []string) Set {
	s := make(Set, len(values))
	for _, v := range values {
		s[v] = struct{}{}
	}
	return s
}
