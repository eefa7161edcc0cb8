package wire

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSet(t *testing.T) {
	t.Parallel()
	sum := sha256.Sum256([]byte("member.1@example.com"))
	hash := hex.EncodeToString(sum[:])
	values := []string{
		hash,
		strings.ToUpper(hash), // not the canonical spelling: kept as written
		"address:" + hash + "|" + hash + "|US|10001",
		"mobile:00000000-0000-4000-8000-000000000001",
		"",
	}
	var s Set
	require.Zero(t, s.Len())
	require.Empty(t, s.Sorted())
	require.False(t, s.Remove(hash), "removing from the zero set")
	for _, v := range values {
		require.True(t, s.Add(v), "add %q", v)
		require.False(t, s.Add(v), "add %q again", v)
	}
	require.Equal(t, len(values), s.Len())
	want := slices.Clone(values)
	slices.Sort(want)
	require.Equal(t, want, s.Sorted())

	copied := s
	require.True(t, copied.Remove(values[2]))
	require.Equal(t, len(values)-1, s.Len(), "a copy shares its contents")
	require.False(t, s.Remove(values[2]))
	require.True(t, s.Remove(hash))
	require.Equal(t, []string{"", strings.ToUpper(hash), values[3]}, s.Sorted())

	require.Equal(t, s.Sorted(), SetOf(s.Sorted()).Sorted())
}

// TestSetCompacts removes most of a large set of values that are not
// hashes, so the shared text is rewritten, and checks what is left.
func TestSetCompacts(t *testing.T) {
	t.Parallel()
	var s Set
	var kept []string
	for i := range 40000 {
		v := fmt.Sprintf("address:%064d|%064d|US|%05d", i, i, i%100000)
		require.True(t, s.Add(v))
		if i%10 == 0 {
			kept = append(kept, v)
		}
	}
	for i := range 40000 {
		if i%10 != 0 {
			require.True(t, s.Remove(fmt.Sprintf("address:%064d|%064d|US|%05d", i, i, i%100000)))
		}
	}
	require.Less(t, s.size, 40000*150/2, "the text was compacted")
	slices.Sort(kept)
	require.Equal(t, kept, s.Sorted())
	for _, v := range kept {
		require.False(t, s.Add(v), "%q is still found after compaction", v)
	}
}
