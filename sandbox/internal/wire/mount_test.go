package wire

import (
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestMount(t *testing.T) {
	t.Parallel()
	m := NewMount("acme", Prefixes("/v1/", "/oauth/"), "upload", "token")
	require.Equal(t, "acme", m.Platform())
	for path, want := range map[string]bool{"/v1/lists": true, "/oauth/token": true, "/v2/lists": false, "/": false, "/v1": false} {
		require.Equal(t, want, m.Owns(httptest.NewRequest("GET", path, nil)), path)
	}
	eps := m.FaultEndpoints()
	require.Equal(t, []string{"upload", "token"}, eps)
	eps[0] = "changed"
	require.Equal(t, []string{"upload", "token"}, m.FaultEndpoints(), "a caller cannot change the mount's endpoints")
}
