package audience

// IsHashHex reports whether s is a SHA-256 digest written as 64 lowercase
// hex digits, the form the platforms take hashed identifiers in.
func IsHashHex(s string) bool {
	if len(s) != 64 {
		return false
	}
	// A table lookup and an OR per byte: hashes mix digits and letters at
	// random, so a comparison per byte is a mispredicted branch half the
	// time, which made this check ten times slower.
	bad := byte(0)
	for i := range 64 {
		bad |= hexValue[s[i]]
	}
	return bad&0xf0 == 0
}

// appendHash appends the 32 bytes of s when s is a SHA-256 digest in
// lowercase hex, checking and decoding in one pass.
func appendHash(dst []byte, s string) ([]byte, bool) {
	if len(s) != 64 {
		return dst, false
	}
	var raw [32]byte
	bad := byte(0)
	for i := range 32 {
		hi, lo := hexValue[s[2*i]], hexValue[s[2*i+1]]
		bad |= hi | lo
		raw[i] = hi<<4 | lo&0x0f
	}
	if bad&0xf0 != 0 {
		return dst, false
	}
	return append(dst, raw[:]...), true
}

// hexValue is the value of a lowercase hex digit, or 0xf0 for any other
// byte.
var hexValue = func() (t [256]byte) {
	for c := range t {
		switch {
		case '0' <= c && c <= '9':
			t[c] = byte(c - '0')
		case 'a' <= c && c <= 'f':
			t[c] = byte(c - 'a' + 10)
		default:
			t[c] = 0xf0
		}
	}
	return t
}()
