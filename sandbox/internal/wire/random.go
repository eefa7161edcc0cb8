package wire

import (
	"crypto/rand"
	"encoding/hex"
)

// RandomHex is n random bytes in lowercase hex, 2n characters: what the
// replicas mint tokens, cursors, job and correlation ids from, so that
// one replica's ids cannot be guessed from another's.
func RandomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}
