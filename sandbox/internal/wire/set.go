package wire

import "sort"

// Set is a set of identifier values: an audience's membership in a replica.
type Set map[string]struct{}

// Add inserts v and reports whether it was new.
func (s Set) Add(v string) bool {
	if _, ok := s[v]; ok {
		return false
	}
	s[v] = struct{}{}
	return true
}

// Remove deletes v and reports whether it was present.
func (s Set) Remove(v string) bool {
	if _, ok := s[v]; !ok {
		return false
	}
	delete(s, v)
	return true
}

// Sorted returns the values in ascending order.
func (s Set) Sorted() []string {
	out := make([]string, 0, len(s))
	for v := range s {
		out = append(out, v)
	}
	sort.Strings(out)
	return out
}
