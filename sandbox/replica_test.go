package sandbox_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/sandbox"
	"github.com/audiencesync/audiencesync/sandbox/fault"
	"github.com/audiencesync/audiencesync/sandbox/googledm"
)

// echoReplica owns /echo/ and remembers nothing.
type echoReplica struct{ name string }

func (e echoReplica) ServeHTTP(w http.ResponseWriter, _ *http.Request) {
	w.WriteHeader(http.StatusTeapot)
}
func (e echoReplica) Platform() string               { return e.name }
func (e echoReplica) Owns(r *http.Request) bool      { return r.URL.Path == "/echo/" }
func (e echoReplica) Reset()                         {}
func (e echoReplica) Inspect(bool) any               { return map[string]int{"calls": 0} }
func (e echoReplica) Members(string) []string        { return nil }
func (e echoReplica) Save() (json.RawMessage, error) { return json.RawMessage(`{}`), nil }
func (e echoReplica) Load(json.RawMessage) error     { return nil }

func echo(name string) sandbox.NewReplica {
	return func(sandbox.Options, *fault.Injector) sandbox.Replica { return echoReplica{name: name} }
}

func TestReplicasRouteStateAndFaults(t *testing.T) {
	t.Parallel()
	srv := sandbox.New(sandbox.Options{Replicas: append(sandbox.Builtin(), echo("echo"))})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)

	resp, err := http.Get(ts.URL + "/echo/")
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusTeapot, resp.StatusCode, "the owning replica serves")
	resp, err = http.Get(ts.URL + "/nobody/")
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusNotFound, resp.StatusCode, "a path no replica owns")

	raw, err := json.Marshal(srv.State(false))
	require.NoError(t, err)
	var parts map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(raw, &parts))
	var crm struct {
		Lists []struct {
			Name string `json:"name"`
		} `json:"lists"`
	}
	require.NoError(t, json.Unmarshal(parts["hubspot"], &crm))
	require.Len(t, crm.Lists, 4, "the CRM replica starts with its seeded lists")
	delete(parts, "hubspot")
	var sfdc struct {
		Campaigns []struct {
			Name string `json:"name"`
		} `json:"campaigns"`
	}
	require.NoError(t, json.Unmarshal(parts["salesforce"], &sfdc))
	require.Len(t, sfdc.Campaigns, 3, "the Salesforce replica starts with its seeded campaigns")
	delete(parts, "salesforce")
	raw, err = json.Marshal(parts)
	require.NoError(t, err)
	require.JSONEq(t, `{"google":{"user_lists":[]},"meta":{"audiences":[]},"x":{"custom_audiences":[]},
		"linkedin":{"dmp_segments":[]},"mailchimp":{"lists":[{"id":"a1b2c3d4e5","name":"Sandbox shop","member_count":0,"tags":[]}]},
		"echo":{"calls":0},"faults":{"spec":"","fired":{}}}`, string(raw))

	require.Equal(t, []string{"accounts", "custom_audiences", "users"}, sandbox.FaultTargets(sandbox.Options{})["x"])
	require.NoError(t, srv.SetFaults("echo:500*1"))
	require.Error(t, srv.SetFaults("echo.users:500"), "echo names no endpoints")
	require.Error(t, srv.SetFaults("tiktok:500"))
	_, err = sandbox.Open(sandbox.Options{Faults: fault.MustParse("tiktok:500")})
	require.Error(t, err, "a spec for no replica is refused at start")

	require.IsType(t, &googledm.Server{}, sandbox.ReplicaOf[*googledm.Server](srv))
	require.Panics(t, func() { sandbox.ReplicaOf[echoReplica](sandbox.New(sandbox.Options{})) })
	require.Len(t, srv.Replicas(), 8)
}

func TestReplicaNamesAreUnique(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"google", "", "faults", "version"} {
		require.Panics(t, func() { sandbox.New(sandbox.Options{Replicas: append(sandbox.Builtin(), echo(name))}) }, name)
	}
}
