package audience

// IsHashHex reports whether s is a SHA-256 digest written as 64 lowercase
// hex digits, the form the platforms take hashed identifiers in.
func IsHashHex(s string) bool {
	if len(s) != 64 {
		return false
	}
	// A table lookup and an AND per byte: hashes mix digits and letters at
	// random, so a comparison per byte is a mispredicted branch half the
	// time, which made this check ten times slower.
	ok := byte(1)
	for i := range 64 {
		ok &= lowerHexDigit[s[i]]
	}
	return ok == 1
}

var lowerHexDigit = [256]byte{
	'0': 1, '1': 1, '2': 1, '3': 1, '4': 1, '5': 1, '6': 1, '7': 1, '8': 1, '9': 1,
	'a': 1, 'b': 1, 'c': 1, 'd': 1, 'e': 1, 'f': 1,
}
