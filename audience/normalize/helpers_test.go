package normalize

import (
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"
)

func regexpFor(tb testing.TB, pattern string) *regexp.Regexp {
	tb.Helper()
	re, err := regexp.Compile(pattern)
	require.NoError(tb, err)
	return re
}

func mustProfile(tb testing.TB, name string) *Profile {
	tb.Helper()
	p, err := Lookup(name)
	require.NoError(tb, err)
	return p
}
