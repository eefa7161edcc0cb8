package wire

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestOptedOut(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{1: "false", 9: "false", 10: "true", 11: "false", 20: "true", 1_000_000: "true"} {
		require.Equal(t, want, OptedOut(n), "person %d", n)
	}
}
