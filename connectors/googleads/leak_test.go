package googleads_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/audiencesync/audiencesync/auth/redacttest"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/sandbox"
)

// TestNoCredentialInErrorsOrLogs: a transport error on a URL that carries
// a token (a redirect to one), and platform errors whose message quotes a
// URL with a token, once refused and once retried until the retries run
// out, leave the token in no error string and no log record.
func TestNoCredentialInErrorsOrLogs(t *testing.T) {
	t.Parallel()
	quote := func(status int) func(w http.ResponseWriter, r *http.Request) {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_ = json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{
				"code": status, "status": "INVALID_ARGUMENT", "message": "Request " + redacttest.Quoting(r) + " was refused.",
			}})
		}
	}
	tests := []struct {
		name   string
		handle func(w http.ResponseWriter, r *http.Request)
	}{
		{"transport error", redacttest.Redirect},
		{"platform error", quote(http.StatusBadRequest)},
		{"retried platform error", quote(http.StatusServiceUnavailable)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			rm := newRemote(t, sandbox.Options{})
			rm.setIntercept(func(w http.ResponseWriter, r *http.Request, _ []byte) bool { tt.handle(w, r); return true })
			d, logs := newDest(t, rm, settings())
			_, err := d.Ensure(t.Context(), connectors.AudienceSpec{Name: "Leaky", Create: true})
			redacttest.RequireClean(t, err, logs, redacttest.Token)
		})
	}
}
