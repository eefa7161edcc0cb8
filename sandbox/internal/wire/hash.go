package wire

// IsSHA256Hex reports whether s has the shape of a SHA-256 digest in
// lowercase hex: 64 characters from 0-9a-f. Every replica accepts only this
// form for hashed identifiers, so a value sent in clear, in uppercase or
// truncated is caught here.
func IsSHA256Hex(s string) bool {
	if len(s) != 64 {
		return false
	}
	// Branch-free: digits and letters alternate at random in a hash, which
	// defeats branch prediction when each byte is compared.
	bad := byte(0)
	for i := range 64 {
		bad |= notLowerHex[s[i]]
	}
	return bad == 0
}

var notLowerHex = func() (t [256]byte) {
	for c := range t {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			t[c] = 1
		}
	}
	return t
}()

// Matches reports whether a hashed identifier counts as matched to a
// platform user: deterministically, when its first byte is below threshold.
// Replicas use it for match rates so feedback is reproducible.
func Matches(hexHash string, threshold byte) bool {
	if len(hexHash) < 2 {
		return false
	}
	return unhex(hexHash[0])<<4|unhex(hexHash[1]) < threshold
}

func unhex(c byte) byte {
	switch {
	case c >= '0' && c <= '9':
		return c - '0'
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10
	}
	return 0
}
