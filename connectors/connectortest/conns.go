package connectortest

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/connectors"
)

// ConnServer is a loopback test server that knows how many connections
// clients hold open to it, for the tests that a connector's Close releases
// its idle connections (a transport wrapped by a signer, a token or a
// rate gate hides them from http.Client).
type ConnServer struct {
	*httptest.Server
	mu   sync.Mutex
	open map[net.Conn]bool
}

// NewConnServer serves h on a ConnServer, closed when t ends.
func NewConnServer(t testing.TB, h http.Handler) *ConnServer {
	t.Helper()
	s := &ConnServer{Server: httptest.NewUnstartedServer(h), open: map[net.Conn]bool{}}
	s.Config.ConnState = func(c net.Conn, st http.ConnState) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if st == http.StateClosed || st == http.StateHijacked {
			delete(s.open, c)
		} else {
			s.open[c] = true
		}
	}
	s.Start()
	t.Cleanup(s.Close)
	return s
}

// Open is how many connections are open to the server.
func (s *ConnServer) Open() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.open)
}

// RequireClosed fails t unless every connection to the server closes
// within 5 seconds.
func (s *ConnServer) RequireClosed(t testing.TB) {
	t.Helper()
	require.Eventually(t, func() bool { return s.Open() == 0 }, 5*time.Second, 10*time.Millisecond,
		"connections left open after Close")
}

// CloseReleasesConnections checks that a destination's Close closes the
// connections its client kept alive: newDest builds the destination for
// a server at endpoint serving h, one audience is created through it, and
// once it is closed no connection may stay open.
func CloseReleasesConnections(t *testing.T, h http.Handler, newDest func(endpoint string) (connectors.Destination, error)) {
	t.Helper()
	ts := NewConnServer(t, h)
	d, err := newDest(ts.URL)
	require.NoError(t, err)
	_, err = d.Ensure(t.Context(), connectors.AudienceSpec{Name: "Kept alive", Create: true})
	require.NoError(t, err)
	require.Positive(t, ts.Open(), "the client keeps its connections alive")
	require.NoError(t, d.Close())
	ts.RequireClosed(t)
}
