package linkedin

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/connectortest"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
	"github.com/audiencesync/audiencesync/connectors/retry/retrytest"
	"github.com/audiencesync/audiencesync/engine"
	liplatform "github.com/audiencesync/audiencesync/platform/linkedin"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/sandbox/linkedindmp"
)

// Every call carries the bearer token and the versioned Rest.li headers;
// a users batch says BATCH_CREATE.
func TestHeaders(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, version, want string }{
		{name: "default version", want: DefaultAPIVersion},
		{name: "configured version", version: "202507", want: "202507"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newReplica(t, "", nil)
			set := r.settings()
			set.APIVersion = tc.version
			_, err := newSyncer(t, r.dest(t, set)).run(crmMembers(0, 10, 0), engine.Options{})
			require.NoError(t, err)
			calls := r.rec.all()
			require.NotEmpty(t, calls)
			users := 0
			for _, c := range calls {
				if c.path == "/oauth/v2/accessToken" {
					require.Empty(t, c.header.Get("Authorization"), "the token endpoint takes the client in the form")
					continue
				}
				require.Equal(t, tc.want, c.header.Get("LinkedIn-Version"), c.path)
				require.Equal(t, "2.0.0", c.header.Get("X-Restli-Protocol-Version"), c.path)
				require.True(t, strings.HasPrefix(c.header.Get("Authorization"), "Bearer sandbox-linkedin-issued-"), c.path)
				require.Less(t, c.status, 300, "%s %s", c.method, c.path)
				if strings.HasSuffix(c.path, "/users") {
					users++
					require.Equal(t, "BATCH_CREATE", c.header.Get("X-RestLi-Method"))
				}
			}
			require.Equal(t, 1, users)
		})
	}
}

// A retired or malformed LinkedIn-Version stops the destination with
// what to change.
func TestRetiredVersion(t *testing.T) {
	t.Parallel()
	r := newReplica(t, "", nil)
	set := r.settings()
	set.APIVersion = "202301"
	_, err := r.dest(t, set).Ensure(t.Context(), connectors.AudienceSpec{Name: "Cart abandoners", Create: true})
	require.Error(t, err)
	act, _ := connectors.Classify(err)
	require.Equal(t, connectors.ActionStop, act)
	require.ErrorContains(t, err, "set api_version")
}

// An access token that expired is replaced with the refresh token, once,
// and the sync goes on.
func TestTokenRefreshedWhenRefused(t *testing.T) {
	t.Parallel()
	r := newReplica(t, "", nil)
	s := newSyncer(t, r.dest(t, nil))
	_, err := s.run(crmMembers(0, 30, 0), engine.Options{})
	require.NoError(t, err)
	require.Equal(t, int64(1), r.li.Issued())

	r.li.ExpireTokens()
	ms := crmMembers(5, 40, 0)
	rep, err := s.run(ms, engine.Options{})
	require.NoError(t, err)
	require.Equal(t, report.StatusSucceeded, rep.Status, "errors: %v", rep.Errors)
	require.Equal(t, want(t, ms), r.members(r.segmentOf(t)))
	require.Equal(t, int64(2), r.li.Issued(), "one new token for the whole run")
	require.Equal(t, 1, r.rec.count(http.MethodGet, "", http.StatusUnauthorized)+r.rec.count(http.MethodPost, "", http.StatusUnauthorized),
		"only the first call after the expiry was refused")
}

// Credentials LinkedIn refuses ask the user to authorise again.
func TestRefusedCredentials(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		mod  func(*Settings)
	}{
		{"revoked refresh token", func(s *Settings) { s.RefreshToken = auth.NewSecret(liplatform.ReplicaRevokedToken) }},
		{"wrong client secret", func(s *Settings) { s.ClientSecret = auth.NewSecret("not-the-secret") }},
		{"revoked access token alone", func(s *Settings) {
			s.ClientID, s.ClientSecret, s.RefreshToken = auth.Secret{}, auth.Secret{}, auth.Secret{}
			s.AccessToken = auth.NewSecret(liplatform.ReplicaRevokedToken)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newReplica(t, "", nil)
			set := r.settings()
			tc.mod(set)
			d := r.dest(t, set)
			err := d.Check(t.Context())
			require.ErrorIs(t, err, connectors.ErrReauthenticate)
			_, err = d.Ensure(t.Context(), connectors.AudienceSpec{Name: "x", Create: true})
			require.ErrorIs(t, err, connectors.ErrReauthenticate)
			require.NotContains(t, err.Error(), "sandbox-linkedin", "no credential in the message")
		})
	}
}

// An access token given alone is used as it is: no token endpoint.
func TestStaticAccessToken(t *testing.T) {
	t.Parallel()
	r := newReplica(t, "", nil)
	set := r.settings()
	set.ClientID, set.ClientSecret, set.RefreshToken = auth.Secret{}, auth.Secret{}, auth.Secret{}
	set.AccessToken = auth.NewSecret(liplatform.ReplicaAccessToken)
	d := r.dest(t, set)
	require.NoError(t, d.Check(t.Context()))
	ms := crmMembers(0, 20, 0)
	_, err := newSyncer(t, d).run(ms, engine.Options{})
	require.NoError(t, err)
	require.Equal(t, want(t, ms), r.members(r.segmentOf(t)))
	require.Zero(t, r.li.Issued())
}

// A new segment is read at once and, while it is BUILDING, again after
// each wait on the batch's clock; one that stays BUILDING is used after a
// bounded number of polls.
func TestEnsureWaitsUntilReady(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		polls     int // reads before the replica says READY
		wantPolls int
	}{
		{name: "ready at once", polls: -1, wantPolls: 1},
		{name: "ready after three reads", polls: 3, wantPolls: 4},
		{name: "never ready in time", polls: 1000, wantPolls: 13},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newReplica(t, "", &linkedindmp.Options{PollsBeforeReady: tc.polls})
			d := r.dest(t, nil, func(l *limits) { l.readyWait = 5 * time.Second })
			clock := retrytest.NewClock(time.Now())
			aud, err := d.Ensure(clock.Batch(t, 8), connectors.AudienceSpec{Name: "Cart abandoners", Create: true})
			require.NoError(t, err)
			require.True(t, aud.Created)
			require.Equal(t, tc.wantPolls, r.rec.count(http.MethodGet, "/dmpSegments/"+aud.ID, http.StatusOK))
			slept := clock.Slept()
			require.Len(t, slept, tc.wantPolls-1, "a new segment is read at once, then after a wait each time")
			if len(slept) > 0 {
				require.Equal(t, []time.Duration{5 * time.Second}, slices.Compact(slept), "LinkedIn asks for 5 seconds after creation")
			}

			// Found again, it is READY (or given up on) and not waited for.
			again, err := d.Ensure(clock.Batch(t, 8), connectors.AudienceSpec{Name: "Cart abandoners", Create: true})
			require.NoError(t, err)
			require.Equal(t, aud.ID, again.ID)
			require.False(t, again.Created)
		})
	}
}

// A segment is found by id, by the id state recorded, and by name among
// the account's user segments; two of one name are the user's call.
func TestEnsureFinds(t *testing.T) {
	t.Parallel()
	r := newReplica(t, "", nil)
	d := r.dest(t, nil)
	other := r.li.CreateSegment("42", "Cart abandoners")
	mine := r.li.CreateSegment(liplatform.ReplicaAccount, "Cart abandoners")

	aud, err := d.Ensure(t.Context(), connectors.AudienceSpec{Name: "Cart abandoners"})
	require.NoError(t, err)
	require.Equal(t, mine, aud.ID, "the segment of this ad account")
	aud, err = d.Ensure(t.Context(), connectors.AudienceSpec{ID: mine})
	require.NoError(t, err)
	require.Equal(t, "Cart abandoners", aud.Name)

	_, err = d.Ensure(t.Context(), connectors.AudienceSpec{ID: other})
	require.ErrorContains(t, err, "does not exist in ad account", "another account's segment is not this one's")
	aud, err = d.Ensure(t.Context(), connectors.AudienceSpec{KnownID: "999999", Name: "Cart abandoners"})
	require.NoError(t, err)
	require.Equal(t, mine, aud.ID, "a recorded id that is gone falls back to the name")

	_, err = d.Ensure(t.Context(), connectors.AudienceSpec{Name: "Nobody"})
	require.ErrorContains(t, err, "no DMP segment named")

	r.li.CreateSegment(liplatform.ReplicaAccount, "Cart abandoners")
	_, err = d.Ensure(t.Context(), connectors.AudienceSpec{Name: "Cart abandoners"})
	require.ErrorContains(t, err, "2 user DMP segments named")
}

// The size of an existing segment is read for the engine's adoption
// guard: people (the replica's inputCount, one a member however many ids
// it carries), not the 63 ids the 50 members hold.
func TestAudienceSize(t *testing.T) {
	t.Parallel()
	r := newReplica(t, "", nil)
	d := r.dest(t, nil)
	_, err := newSyncer(t, d).run(crmMembers(0, 50, 0), engine.Options{})
	require.NoError(t, err)
	size, err := d.AudienceSize(t.Context(), connectors.Audience{ID: r.segmentOf(t)})
	require.NoError(t, err)
	require.True(t, size.Known)
	require.Greater(t, len(want(t, crmMembers(0, 50, 0))), 50, "some members carry two ids")
	require.Equal(t, int64(50), size.Members)
}

// Members without an identifier LinkedIn takes are refused before
// anything is sent.
func TestApplyNoIdentifiers(t *testing.T) {
	t.Parallel()
	r := newReplica(t, "", nil)
	d := r.dest(t, nil)
	aud, err := d.Ensure(t.Context(), connectors.AudienceSpec{Name: "a", Create: true})
	require.NoError(t, err)
	res, err := d.Apply(t.Context(), aud, connectors.Batch{Op: connectors.OpAdd, Seq: 1, Members: []connectors.Upload{{}, upload(1)}})
	require.NoError(t, err)
	require.Equal(t, []connectors.MemberRejection{{Index: 0, Reason: ReasonNoIdentifiers}}, res.Rejected)
	require.Equal(t, []int{1}, r.rec.requestElements())
}

// With sandbox: true and nothing else, the sandbox's own credentials and
// account are used, and the token endpoint is the sandbox's.
func TestSandboxDefaults(t *testing.T) {
	t.Parallel()
	r := newReplica(t, "", nil)
	s := &Settings{Settings: platformconn.Settings{Sandbox: true, Endpoint: r.ts.URL}}
	d := r.dest(t, s)
	require.NoError(t, d.Check(t.Context()))
	require.Equal(t, int64(1), r.li.Issued(), "the sandbox's refresh token was exchanged")
	require.Equal(t, liplatform.ReplicaAccount, d.account)
}

// Tokens come from LinkedIn's token endpoint for LinkedIn's API, from the
// same server for any other, or from token_url.
func TestTokenEndpoint(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, tokenURL, base, want string }{
		{"LinkedIn", "", DefaultEndpoint, DefaultTokenURL},
		{"a sandbox", "", "http://127.0.0.1:8089", "http://127.0.0.1:8089/oauth/v2/accessToken"},
		{"token_url", "https://proxy.example/token", DefaultEndpoint, "https://proxy.example/token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d := &Destination{tokenURL: tc.tokenURL}
			require.Equal(t, tc.want, d.tokenEndpoint(tc.base))
		})
	}
}

// Close closes the destination's idle connections, so a sandbox shutting
// down after a run has none left open.
func TestCloseReleasesConnections(t *testing.T) {
	t.Parallel()
	ts := connectortest.NewConnServer(t, linkedindmp.New(linkedindmp.Options{}))
	d, err := newDestination(&Settings{Settings: platformconn.Settings{Sandbox: true, Endpoint: ts.URL}}, connectors.Env{}, testLimits())
	require.NoError(t, err)
	_, err = newSyncer(t, d).run(crmMembers(0, 40, 0), engine.Options{})
	require.NoError(t, err)
	require.Positive(t, ts.Open(), "the client keeps its connections alive")
	require.NoError(t, d.Close())
	ts.RequireClosed(t)
}
