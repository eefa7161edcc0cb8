package wire

import "github.com/audiencesync/audiencesync/audience"

// IsSHA256Hex reports whether s has the shape of a SHA-256 digest in
// lowercase hex: 64 characters from 0-9a-f. Every replica accepts only this
// form for hashed identifiers, so a value sent in clear, in uppercase or
// truncated is caught here. It is audience.IsHashHex, the check the
// connectors make of a hash they send: one definition of the form for
// both sides.
func IsSHA256Hex(s string) bool { return audience.IsHashHex(s) }

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
