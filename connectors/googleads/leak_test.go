package googleads_test

import (
	"net/http"
	"testing"

	"github.com/audiencesync/audiencesync/auth/redacttest"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/sandbox"
)

// TestNoCredentialInErrorsOrLogs: the failures of redacttest.Faults (a
// dropped connection, a redirect to a URL with a token, platform errors
// quoting a URL with a token, refused or retried until the retries run
// out) leave the token in no error string and no log record.
func TestNoCredentialInErrorsOrLogs(t *testing.T) {
	t.Parallel()
	faults := redacttest.Faults(func(status int, msg string) any {
		return map[string]any{"error": map[string]any{"code": status, "status": "INVALID_ARGUMENT", "message": msg}}
	})
	for _, tt := range faults {
		t.Run(tt.Name, func(t *testing.T) {
			t.Parallel()
			rm := newRemote(t, sandbox.Options{})
			rm.setIntercept(func(w http.ResponseWriter, r *http.Request, _ []byte) bool { tt.Handle(w, r); return true })
			d, logs := newDest(t, rm, settings())
			_, err := d.Ensure(t.Context(), connectors.AudienceSpec{Name: "Leaky", Create: true})
			redacttest.RequireClean(t, err, logs, redacttest.Token)
		})
	}
}
