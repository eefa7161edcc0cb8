package platformconn_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
	"github.com/audiencesync/audiencesync/connectors/platformhttp"
)

var limits = platformconn.Limits{
	Type: "acme", Platform: "acme", Endpoint: "https://api.acme.test/",
	Concurrency: 3, MaxConcurrency: 8, RequestsPerSecond: 5,
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		s    platformconn.Settings
		want string
	}{
		"zero":              {platformconn.Settings{}, ""},
		"sandbox endpoint":  {platformconn.Settings{Sandbox: true, Endpoint: "http://127.0.0.1:8089/"}, ""},
		"no scheme":         {platformconn.Settings{Endpoint: "api.acme.test"}, "acme: endpoint \"api.acme.test\" is not an http(s) base URL: write it like https://api.acme.test/"},
		"query":             {platformconn.Settings{Endpoint: "https://api.acme.test/?token=1"}, "must be a plain base URL"},
		"user info":         {platformconn.Settings{Endpoint: "https://me:pw@api.acme.test/"}, "must be a plain base URL"},
		"concurrency high":  {platformconn.Settings{Concurrency: 9}, "concurrency 9 is out of range: use 1 to 8 (default 3)"},
		"concurrency below": {platformconn.Settings{Concurrency: -1}, "concurrency -1"},
		"negative rate":     {platformconn.Settings{RequestsPerSecond: -1}, "requests_per_second -1 is negative"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			err := tc.s.Validate(limits)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestNewAppliesDefaults(t *testing.T) {
	t.Parallel()
	c, err := platformconn.New(platformconn.Settings{}, limits, connectors.Env{}, nil)
	require.NoError(t, err)
	require.Equal(t, 3, c.Concurrency)
	require.Equal(t, 5.0, c.RequestsPerSecond)
	require.NotNil(t, c.Log)
	require.NotNil(t, c.Now)
	u, err := c.BaseURL(t.Context())
	require.NoError(t, err)
	require.Equal(t, "https://api.acme.test/", u)

	c, err = platformconn.New(platformconn.Settings{Concurrency: 2, Endpoint: "http://127.0.0.1:1/"}, limits, connectors.Env{}, nil)
	require.NoError(t, err)
	require.Equal(t, 2, c.Concurrency)
	u, ok := c.StaticURL()
	require.True(t, ok)
	require.Equal(t, "http://127.0.0.1:1/", u)

	_, err = platformconn.New(platformconn.Settings{Concurrency: 99}, limits, connectors.Env{}, nil)
	require.ErrorContains(t, err, "concurrency 99")
}

func TestSandboxEndpoint(t *testing.T) {
	t.Parallel()
	_, err := platformconn.New(platformconn.Settings{Sandbox: true}, limits, connectors.Env{}, nil)
	require.ErrorContains(t, err, "audiencesync sandbox --addr", "without a sandbox it says how to start one")

	var asked []string
	env := connectors.Env{Endpoint: func(_ context.Context, platform string) (string, error) {
		asked = append(asked, platform)
		return "http://127.0.0.1:2/", nil
	}}
	c, err := platformconn.New(platformconn.Settings{Sandbox: true}, limits, env, nil)
	require.NoError(t, err)
	require.Empty(t, asked, "the sandbox starts on first use, not in New")
	_, ok := c.StaticURL()
	require.False(t, ok)
	u, err := c.BaseURL(t.Context())
	require.NoError(t, err)
	require.Equal(t, "http://127.0.0.1:2/", u)
	require.Equal(t, []string{"acme"}, asked, "the platform's replica is asked for")

	failing := connectors.Env{Endpoint: func(context.Context, string) (string, error) { return "", errors.New("port in use") }}
	c, err = platformconn.New(platformconn.Settings{Sandbox: true}, limits, failing, nil)
	require.NoError(t, err)
	_, err = c.BaseURL(t.Context())
	require.EqualError(t, err, "acme: start the sandbox: port in use")

	c, err = platformconn.New(platformconn.Settings{Sandbox: true, Endpoint: "http://127.0.0.1:3/"}, limits, failing, nil)
	require.NoError(t, err)
	u, err = c.BaseURL(t.Context())
	require.NoError(t, err, "an endpoint wins over the in-process sandbox")
	require.Equal(t, "http://127.0.0.1:3/", u)
}

func TestNewRunsTheConnectorsValidation(t *testing.T) {
	t.Parallel()
	_, err := platformconn.New(platformconn.Settings{}, limits, connectors.Env{}, func() error { return errors.New("acme: token is required") })
	require.EqualError(t, err, "acme: token is required")
}

// TestConnHTTP checks that the client Conn.HTTP builds keeps to the
// connection's requests_per_second with a burst of its concurrency: at a
// rate of one request in 1,000 s, the first three of a concurrency-3
// connection go at once and the fourth cannot go before its deadline.
func TestConnHTTP(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits.Add(1) }))
	t.Cleanup(srv.Close)
	conn, err := platformconn.New(platformconn.Settings{Concurrency: 3, RequestsPerSecond: 0.001}, limits, connectors.Env{}, nil)
	require.NoError(t, err)
	wire := platformconn.Wire(5)
	require.Equal(t, 5, wire.MaxIdleConnsPerHost)
	require.NotSame(t, http.DefaultTransport, wire, "each connection has a transport of its own")
	hc := conn.HTTP(platformhttp.Options{Attempts: 1, Transport: wire})
	send := func(ctx context.Context) error {
		req, err := platformhttp.NewJSONRequest(ctx, http.MethodGet, srv.URL, nil)
		require.NoError(t, err)
		resp, err := hc.Do(req)
		if resp != nil {
			_ = resp.Body.Close()
		}
		return err
	}
	for i := range 3 {
		require.NoError(t, send(t.Context()), "request %d is within the burst", i+1)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
	defer cancel()
	require.Error(t, send(ctx), "the fourth waits for the rate")
	require.Equal(t, int32(3), hits.Load())
}
