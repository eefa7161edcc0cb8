package meta_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/auth/redacttest"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/meta"
	metaplatform "github.com/audiencesync/audiencesync/platform/meta"
)

// TestNoCredentialInErrorsOrLogs: every Graph GET carries appsecret_proof
// in its query. A transport error (the connection dropped, or a redirect
// to a URL with a token) and platform errors whose message quotes the URL,
// refused or retried until the retries run out, leave neither the proof,
// the token nor the app secret in any error string or log record.
func TestNoCredentialInErrorsOrLogs(t *testing.T) {
	t.Parallel()
	proof := auth.AppsecretProof(metaplatform.ReplicaAppSecret, metaplatform.ReplicaToken)
	quote := func(status int) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
				"message": "Unsupported get request " + redacttest.Quoting(r), "type": "GraphMethodException", "code": 100,
			}})
		}
	}
	tests := []struct {
		name   string
		handle http.HandlerFunc
	}{
		{"connection dropped", func(http.ResponseWriter, *http.Request) { panic(http.ErrAbortHandler) }},
		{"redirected to a URL with a token", redacttest.Redirect},
		{"platform error", quote(http.StatusBadRequest)},
		{"retried platform error", quote(http.StatusInternalServerError)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, "")
			var sawProof atomic.Bool
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Query().Get("appsecret_proof") == proof {
					sawProof.Store(true)
				}
				tt.handle(w, r)
			}))
			t.Cleanup(ts.Close)
			d := b.dest(func(s *meta.Settings) { s.Endpoint = ts.URL })
			_, err := d.Ensure(t.Context(), connectors.AudienceSpec{Name: "Leaky", Create: true})
			require.True(t, sawProof.Load(), "the proof travelled in the URL, as Graph GETs send it")
			redacttest.RequireClean(t, err, b.logs, proof, metaplatform.ReplicaToken, metaplatform.ReplicaAppSecret, redacttest.Token)
		})
	}
}
