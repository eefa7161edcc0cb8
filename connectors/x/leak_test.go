package x

import (
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

// TestNoCredentialInErrorsOrLogs: the failures of redacttest.Faults (a
// dropped connection, a redirect to a URL with a token, platform errors
// quoting a URL with a token, refused or retried until the retries run
// out) leave neither that token nor the OAuth secrets in any error string
// or log record.
func TestNoCredentialInErrorsOrLogs(t *testing.T) {
	t.Parallel()
	faults := redacttest.Faults(func(_ int, msg string) any {
		return map[string]any{"errors": []map[string]any{{"code": "INVALID_PARAMETER", "message": msg}}}
	})
	for _, tt := range faults {
		t.Run(tt.Name, func(t *testing.T) {
			t.Parallel()
			r := newReplica(t, "", 0, nil)
			r.rec.setHook(func(w http.ResponseWriter, req *http.Request, _ []byte) bool { tt.Handle(w, req); return true })
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
