package meta_test

import (
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
	faults := redacttest.Faults(func(_ int, msg string) any {
		return map[string]any{"error": map[string]any{"message": msg, "type": "GraphMethodException", "code": 100}}
	})
	for _, tt := range faults {
		t.Run(tt.Name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, "")
			var sawProof atomic.Bool
			ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Query().Get("appsecret_proof") == proof {
					sawProof.Store(true)
				}
				tt.Handle(w, r)
			}))
			t.Cleanup(ts.Close)
			d := b.dest(func(s *meta.Settings) { s.Endpoint = ts.URL })
			_, err := d.Ensure(t.Context(), connectors.AudienceSpec{Name: "Leaky", Create: true})
			require.True(t, sawProof.Load(), "the proof travelled in the URL, as Graph GETs send it")
			redacttest.RequireClean(t, err, b.logs, proof, metaplatform.ReplicaToken, metaplatform.ReplicaAppSecret, redacttest.Token)
		})
	}
}
