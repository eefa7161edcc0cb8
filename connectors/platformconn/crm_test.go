package platformconn_test

import (
	"context"
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

func TestNewCRM(t *testing.T) {
	t.Parallel()
	defaults := []string{"HasOptedOutOfEmail"}
	tests := []struct {
		name   string
		optOut []string
		want   []string
	}{
		{"not configured takes the defaults", nil, defaults},
		{"configured", []string{"opt_out", "unsubscribed"}, []string{"opt_out", "unsubscribed"}},
		{"empty turns them off", []string{}, []string{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := platformconn.NewCRM(platformconn.Settings{}, limits, connectors.Env{}, nil, tt.optOut, defaults)
			require.NoError(t, err)
			require.Equal(t, tt.want, c.OptOut)
			require.Equal(t, 3, c.Concurrency, "the connection is set up as New does")
			require.NotNil(t, c.Log)
			given := tt.optOut
			if given == nil {
				given = defaults
			}
			if len(c.OptOut) > 0 {
				c.OptOut[0] = "changed"
				require.NotEqual(t, "changed", given[0], "OptOut is a copy of what it was given")
			}
		})
	}
	_, err := platformconn.NewCRM(platformconn.Settings{Concurrency: 99}, limits, connectors.Env{}, nil, nil, defaults)
	require.Error(t, err, "settings are validated as New validates them")
}

func TestCRMHTTPPacing(t *testing.T) {
	t.Parallel()
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		hits.Add(1)
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	t.Cleanup(srv.Close)
	c, err := platformconn.NewCRM(platformconn.Settings{}, limits, connectors.Env{}, nil, nil, nil)
	require.NoError(t, err)
	var slept []time.Duration
	p := platformconn.Pacing{Attempts: 3, MinWait: time.Millisecond, MaxWait: 2 * time.Millisecond,
		Sleep: func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }}
	hc := c.HTTP(p, platformhttp.Options{})
	req, err := platformhttp.NewJSONRequest(t.Context(), http.MethodGet, srv.URL, nil)
	require.NoError(t, err)
	resp, err := hc.Do(req)
	if resp != nil {
		_ = resp.Body.Close()
	}
	_ = err // the last 503 comes back as an answer or an error, by policy
	require.Equal(t, int32(3), hits.Load(), "Attempts is the most attempts")
	require.Len(t, slept, 2, "the pacing's Sleep waits between attempts")
	for _, d := range slept {
		require.LessOrEqual(t, d, 2*time.Millisecond)
	}
	require.Equal(t, platformconn.Pacing{Attempts: 5, MinWait: time.Second, MaxWait: time.Minute},
		func() platformconn.Pacing { d := platformconn.DefaultPacing(); d.Sleep = nil; return d }())
}
