package x

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/audiencesync/audiencesync/auth/redacttest"
	"github.com/audiencesync/audiencesync/connectors"
	xplatform "github.com/audiencesync/audiencesync/platform/x"
)

// TestNoCredentialInErrorsOrLogs: a transport error (the connection
// dropped, or a redirect to a URL with a token) and platform errors whose
// message quotes a URL with a token, refused or retried until the
// retries run out, leave neither that token nor the OAuth secrets in any
// error string or log record.
func TestNoCredentialInErrorsOrLogs(t *testing.T) {
	t.Parallel()
	quote := func(status int) func(w http.ResponseWriter, r *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]any{
				{"code": "INVALID_PARAMETER", "message": "Request " + redacttest.Quoting(r) + " was refused"},
			}})
		}
	}
	tests := []struct {
		name   string
		handle func(w http.ResponseWriter, r *http.Request)
	}{
		{"connection dropped", func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }},
		{"redirected to a URL with a token", redacttest.Redirect},
		{"platform error", quote(http.StatusBadRequest)},
		{"retried platform error", quote(http.StatusServiceUnavailable)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := newReplica(t, "", 0, nil)
			r.rec.setHook(func(w http.ResponseWriter, req *http.Request, _ []byte) bool { tt.handle(w, req); return true })
			core, logs := observer.New(zap.DebugLevel)
			d, err := newDestination(r.settings(), connectors.Env{Now: time.Now, Logger: zap.New(core)}, testLimits())
			require.NoError(t, err)
			t.Cleanup(func() { _ = d.Close() })
			_, err = d.Ensure(t.Context(), connectors.AudienceSpec{Name: "Leaky", Create: true})
			redacttest.RequireClean(t, err, logs, redacttest.Token, xplatform.ReplicaAccessToken,
				xplatform.ReplicaAccessSecret, xplatform.ReplicaConsumerSecret)
		})
	}
}
