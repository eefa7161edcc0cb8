package wire

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/sandbox/fault"
)

// faultWriter writes every injected fault as a 599, so a test tells it
// from the handlers' and the gate's own answers.
type faultWriter struct{}

func (faultWriter) RenderFault(w http.ResponseWriter, _ *http.Request, _ fault.Fault) {
	w.WriteHeader(599)
}

// TestGateOrder checks the order a CRM platform answers in: no route,
// then (but for the token endpoint) authentication and limits, and only
// then injected faults, which count admitted calls only.
func TestGateOrder(t *testing.T) {
	t.Parallel()
	handler := func(w http.ResponseWriter, _ *http.Request, c Call) {
		w.Header().Set("X-Call", c.Endpoint+"/"+c.ID)
		w.WriteHeader(http.StatusOK)
	}
	for _, tc := range []struct {
		name     string
		call     Call
		admit    bool
		faults   string
		want     int
		answered string // X-Call of the handler's answer, when it answered
	}{
		{name: "no route", call: Call{}, admit: true, want: http.StatusNotFound},
		{name: "admitted", call: Call{Endpoint: "lists", Handler: handler, ID: "7"}, admit: true, want: http.StatusOK, answered: "lists/7"},
		{name: "refused", call: Call{Endpoint: "lists", Handler: handler}, want: http.StatusUnauthorized},
		{name: "token needs no admission", call: Call{Endpoint: "token", Handler: handler}, want: http.StatusOK, answered: "token/"},
		{name: "fault after admission", call: Call{Endpoint: "lists", Handler: handler}, admit: true, faults: "acme.lists:500*1", want: 599},
		{name: "refused before the fault", call: Call{Endpoint: "lists", Handler: handler}, faults: "acme.lists:500*1", want: http.StatusUnauthorized},
		{name: "fault on the token endpoint", call: Call{Endpoint: "token", Handler: handler}, faults: "acme.token:500*1", want: 599},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var in *fault.Injector
			if tc.faults != "" {
				in = fault.MustParse(tc.faults)
			}
			admitted := 0
			g := Gate{Platform: "acme", Render: faultWriter{}, Faults: in, TokenEndpoint: "token",
				NotFound: func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotFound) },
				Admit: func(w http.ResponseWriter, _ *http.Request, c Call) bool {
					require.NotEqual(t, "token", c.Endpoint, "the token endpoint is not admitted")
					admitted++
					if !tc.admit {
						w.WriteHeader(http.StatusUnauthorized)
					}
					return tc.admit
				}}
			rec := httptest.NewRecorder()
			g.Serve(rec, httptest.NewRequest("GET", "/x", nil), tc.call)
			require.Equal(t, tc.want, rec.Code)
			require.Equal(t, tc.answered, rec.Header().Get("X-Call"))
			if in != nil && tc.want != 599 {
				for rule, n := range in.Fired() {
					require.Zero(t, n, "a refused call uses up no fault: %s", rule)
				}
			}
			if tc.call.Handler == nil {
				require.Zero(t, admitted, "an unrouted call is not counted")
			}
		})
	}
}
