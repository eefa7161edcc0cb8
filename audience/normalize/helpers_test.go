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

// LookupForTest finds a platform's profile. The platform packages build
// their profiles with this package, so only an external test package can
// import them: platforms_test.go sets it.
var LookupForTest func(name string) (*Profile, error)

// Lookup is LookupForTest for the internal tests.
func Lookup(name string) (*Profile, error) { return LookupForTest(name) }

func mustProfile(tb testing.TB, name string) *Profile {
	tb.Helper()
	p, err := Lookup(name)
	require.NoError(tb, err)
	return p
}
