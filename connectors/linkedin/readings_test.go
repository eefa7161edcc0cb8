package linkedin

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
)

// Where LinkedIn's documents differ, the destination reads either: a
// create answered with the new segment in the body instead of
// x-restli-id, a segment without account or destinations, and a refused
// element whose code stands beside its status.
func TestOtherReadings(t *testing.T) {
	t.Parallel()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.Method + " " + r.URL.Path {
		case "POST /rest/dmpSegments":
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"id":777,"name":"Cart abandoners"}`))
		case "GET /rest/dmpSegments/777":
			_, _ = w.Write([]byte(`{"id":777,"name":"Cart abandoners","status":"READY","matchedCount":12}`))
		case "POST /rest/dmpSegments/777/users":
			_, _ = w.Write([]byte(`{"elements":[{"status":201},{"status":400,"code":"INVALID_VALUE","message":"bad"}]}`))
		default:
			w.WriteHeader(http.StatusNotFound)
		}
	}))
	t.Cleanup(ts.Close)
	d, err := newDestination(&Settings{AccountID: "1", OAuth2: platformconn.OAuth2{AccessToken: auth.NewSecret("t")},
		Settings: platformconn.Settings{Endpoint: ts.URL}}, connectors.Env{}, testLimits())
	require.NoError(t, err)
	aud, err := d.Ensure(t.Context(), connectors.AudienceSpec{ID: "", Name: "Cart abandoners", Create: true, KnownID: "777"})
	require.NoError(t, err)
	require.Equal(t, "777", aud.ID, "found by the recorded id though the answer names no account")

	created, err := d.createSegment(t.Context(), connectors.AudienceSpec{Name: "Cart abandoners"})
	require.NoError(t, err)
	require.Equal(t, "777", created.ID, "the id from the body")

	res, err := d.Apply(t.Context(), aud, connectors.Batch{Op: connectors.OpAdd, Seq: 1, Members: []connectors.Upload{upload(1), upload(2)}})
	require.NoError(t, err)
	require.Equal(t, []connectors.MemberRejection{{Index: 1, Reason: "linkedin.INVALID_VALUE"}}, res.Rejected)
}

func TestSegmentStatusReadings(t *testing.T) {
	t.Parallel()
	type dest = struct {
		Destination  string `json:"destination"`
		Status       string `json:"status"`
		MatchedCount int64  `json:"matchedCount"`
		AudienceSize int64  `json:"audienceSize"`
	}
	for _, tc := range []struct {
		name string
		seg  dmpSegment
		want string
	}{
		{"top level only", dmpSegment{Status: "READY"}, "READY"},
		{"destination only", dmpSegment{Destinations: []dest{{Destination: "LINKEDIN", Status: "BUILDING"}}}, "BUILDING"},
		{"destination first", dmpSegment{Status: "READY", Destinations: []dest{{Destination: "LINKEDIN", Status: "EXPIRED"}}}, "EXPIRED"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, tc.seg.status())
		})
	}
}
