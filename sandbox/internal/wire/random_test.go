package wire

import (
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRandomHex(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 6, 8, 16} {
		a, b := RandomHex(n), RandomHex(n)
		require.Len(t, a, 2*n)
		_, err := hex.DecodeString(a)
		require.NoError(t, err)
		if n > 0 {
			require.NotEqual(t, a, b, "each call draws new bytes")
		}
	}
}
