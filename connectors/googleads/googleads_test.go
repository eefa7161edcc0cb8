package googleads_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/connectortest"
	"github.com/audiencesync/audiencesync/connectors/googleads"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
	"github.com/audiencesync/audiencesync/engine"
	"github.com/audiencesync/audiencesync/platform/google"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/sandbox"
	"github.com/audiencesync/audiencesync/sandbox/fault"
	"github.com/audiencesync/audiencesync/sandbox/googledm"
	"github.com/audiencesync/audiencesync/state"
)

func TestConformance(t *testing.T) {
	t.Parallel()
	connectortest.Destination(t, connectortest.DestinationHarness{
		New: func(t *testing.T) (connectors.Destination, connectortest.Remote) {
			// One poll answers PROCESSING, so Feedback's pending path runs.
			in := fault.MustParse("")
			rm := newRemote(t, sandbox.Options{Faults: in, GooglePollsBeforeDone: 1})
			d, _ := newDest(t, rm, settings())
			return d, connectortest.Remote{
				Members: func(t *testing.T) map[string]bool {
					lists := sandbox.ReplicaOf[*googledm.Server](rm.srv).State(false)
					require.Len(t, lists, 1)
					return rm.members(lists[0].ID)
				},
				RequestSizes: func(*testing.T) []int { return rm.requestSizes() },
				Faults:       connectortest.InjectorFaults(in, "google", "ingest", "remove"),
			}
		},
		Upload: upload,
		RejectingMember: func() connectors.Upload {
			u := upload(0)
			u.Identifiers = []audience.Identifier{{Kind: audience.Email, Value: "not-a-hash@example.com", Hashed: true}}
			return u
		},
	})
}

func TestSpec(t *testing.T) {
	t.Parallel()
	s := connectortest.Spec(t, googleads.Spec()).(*googleads.Settings)
	require.Equal(t, "123-456-7890", s.OperatingAccount)
	require.True(t, *s.TermsOfServiceAccepted)
}

func TestSettingsValidate(t *testing.T) {
	t.Parallel()
	ref := func(s string) auth.Secret { return auth.NewSecret(s) }
	yes := true
	cases := []struct {
		name string
		mod  func(*googleads.Settings)
		want string // "" for valid
	}{
		{"sandbox needs no credentials", func(s *googleads.Settings) {}, ""},
		{"dashes allowed", func(s *googleads.Settings) { s.OperatingAccount = "123-456-7890" }, ""},
		{"account required", func(s *googleads.Settings) { s.OperatingAccount = "" }, "operating_account is required"},
		{"account too short", func(s *googleads.Settings) { s.OperatingAccount = "12345" }, "not a Google Ads customer id"},
		{"account letters", func(s *googleads.Settings) { s.OperatingAccount = "12345abcde" }, "not a Google Ads customer id"},
		{"login account checked", func(s *googleads.Settings) { s.LoginAccount = "1-2" }, "login_account"},
		{"login account ok", func(s *googleads.Settings) { s.LoginAccount = "111-222-3333" }, ""},
		{"unknown account type", func(s *googleads.Settings) { s.AccountType = "ADWORDS" }, "account_type"},
		{"real account needs credentials", func(s *googleads.Settings) { s.Sandbox = false }, "no credentials"},
		{"service account", func(s *googleads.Settings) { s.Sandbox = false; s.Credentials = ref("{}") }, ""},
		{"access token", func(s *googleads.Settings) { s.Sandbox = false; s.AccessToken = ref("t") }, ""},
		{"refresh token", func(s *googleads.Settings) {
			s.Sandbox, s.ClientID, s.ClientSecret, s.RefreshToken = false, ref("id"), ref("secret"), ref("r")
		}, ""},
		{"refresh token without client", func(s *googleads.Settings) { s.Sandbox = false; s.RefreshToken = ref("r") }, "client_id and client_secret"},
		{"client without refresh token", func(s *googleads.Settings) { s.ClientID, s.ClientSecret = ref("id"), ref("s") }, "refresh_token"},
		{"two methods", func(s *googleads.Settings) { s.Credentials, s.AccessToken = ref("{}"), ref("t") }, "only one"},
		{"endpoint must be a URL", func(s *googleads.Settings) { s.Endpoint = "localhost:8089" }, "endpoint"},
		{"endpoint ok", func(s *googleads.Settings) { s.Endpoint = "http://127.0.0.1:8089/" }, ""},
		{"token url must be a URL", func(s *googleads.Settings) { s.TokenURL = "nope" }, "token_url"},
		{"negative rate", func(s *googleads.Settings) { s.RequestsPerSecond = -1 }, "requests_per_second"},
		{"concurrency bound", func(s *googleads.Settings) { s.Concurrency = 100 }, "concurrency"},
		{"attempts bound", func(s *googleads.Settings) { s.MaxAttempts = 50 }, "max_attempts"},
		{"waits ordered", func(s *googleads.Settings) { s.MinRetryWait, s.MaxRetryWait = time.Minute, time.Second }, "min_retry_wait"},
		{"terms flag", func(s *googleads.Settings) { s.TermsOfServiceAccepted = &yes }, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := &googleads.Settings{OperatingAccount: "1234567890", Settings: platformconn.Settings{Sandbox: true}}
			tc.mod(s)
			err := s.Validate()
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
		})
	}
}

func TestNewRejectsBadKeyAndMissingSandbox(t *testing.T) {
	t.Parallel()
	s := settings()
	s.Endpoint = "http://127.0.0.1:1/"
	s.Credentials = auth.NewSecret(`{"type":"service_account"}`)
	_, err := googleads.New(s, connectors.Env{})
	require.ErrorContains(t, err, "service account key")

	_, err = googleads.New(settings(), connectors.Env{})
	require.ErrorContains(t, err, "endpoint:", "sandbox without a sandbox says how to start one")
}

func TestInfo(t *testing.T) {
	t.Parallel()
	rm := newRemote(t, sandbox.Options{})
	s := settings()
	s.Concurrency = 3
	d, _ := newDest(t, rm, s)
	info := d.Info()
	require.Equal(t, "google", info.Platform.Name)
	require.Equal(t, 10000, info.MaxBatch)
	require.Equal(t, 3, info.Concurrency)
	require.Zero(t, info.MaxIdentifiers)
	require.Equal(t, 540*24*time.Hour, info.RefreshWindow)
	require.ElementsMatch(t, []audience.Kind{audience.Email, audience.Phone, audience.FirstName, audience.LastName, audience.Country, audience.Zip}, info.Kinds)
}

func TestEnsure(t *testing.T) {
	t.Parallel()
	type fixture struct {
		rm       *remote
		d        *googleads.Destination
		existing string // id of a list named "Existing"
	}
	cases := []struct {
		name    string
		spec    func(f fixture) connectors.AudienceSpec
		created bool
		wantID  func(f fixture) string
		err     string
	}{
		{name: "by id", spec: func(f fixture) connectors.AudienceSpec {
			return connectors.AudienceSpec{ID: f.existing, Name: "Other name"}
		}, wantID: func(f fixture) string { return f.existing }},
		{name: "by name", spec: func(fixture) connectors.AudienceSpec {
			return connectors.AudienceSpec{Name: "Existing", Create: true}
		}, wantID: func(f fixture) string { return f.existing }},
		{name: "known id after rename", spec: func(f fixture) connectors.AudienceSpec {
			rename(t, f.rm, f.existing, "Renamed in Google Ads")
			return connectors.AudienceSpec{Name: "Existing", KnownID: f.existing, Create: true}
		}, wantID: func(f fixture) string { return f.existing }},
		{name: "stale known id falls back to name", spec: func(f fixture) connectors.AudienceSpec {
			return connectors.AudienceSpec{Name: "Existing", KnownID: "9999999999"}
		}, wantID: func(f fixture) string { return f.existing }},
		{name: "created", spec: func(fixture) connectors.AudienceSpec {
			return connectors.AudienceSpec{Name: `New "quoted" list`, Description: "d", MembershipDays: 30, Create: true}
		}, created: true},
		{name: "missing id", spec: func(fixture) connectors.AudienceSpec {
			return connectors.AudienceSpec{ID: "9999999999"}
		}, err: "not found"},
		{name: "missing and not allowed to create", spec: func(fixture) connectors.AudienceSpec {
			return connectors.AudienceSpec{Name: "Nope"}
		}, err: "audience.create: true"},
		{name: "membership too long", spec: func(fixture) connectors.AudienceSpec {
			return connectors.AudienceSpec{Name: "Long", MembershipDays: 541, Create: true}
		}, err: "at most 540"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rm := newRemote(t, sandbox.Options{})
			d, _ := newDest(t, rm, settings())
			f := fixture{rm: rm, d: d, existing: sandbox.ReplicaOf[*googledm.Server](rm.srv).CreateList(account, "Existing")}
			aud, err := d.Ensure(t.Context(), tc.spec(f))
			if tc.err != "" {
				require.ErrorIs(t, err, connectors.ErrFatal)
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.created, aud.Created)
			if tc.wantID != nil {
				require.Equal(t, tc.wantID(f), aud.ID)
			}
			if tc.created {
				lists := sandbox.ReplicaOf[*googledm.Server](rm.srv).State(false)
				require.Len(t, lists, 2)
				require.Equal(t, aud.ID, lists[1].ID)
				require.Equal(t, []string{"CONTACT_ID"}, lists[1].UploadKeys)
				again, err := d.Ensure(t.Context(), tc.spec(f))
				require.NoError(t, err)
				require.Equal(t, aud.ID, again.ID)
				require.False(t, again.Created)
			}
		})
	}
}

// rename changes a list's display name as a person in Google Ads would.
func rename(t *testing.T, rm *remote, id, name string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPatch,
		rm.url+"/v1/accountTypes/GOOGLE_ADS/accounts/"+account+"/userLists/"+id+"?updateMask=displayName",
		strings.NewReader(`{"displayName":"`+name+`"}`))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+google.ReplicaToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
}

func TestSyncLifecycle(t *testing.T) {
	t.Parallel()
	rm := newRemote(t, sandbox.Options{})
	d, logs := newDest(t, rm, settings())
	s := newSyncer(t, d)
	s.batch = 40

	ms := contacts(0, 100)
	rep := s.mustRun(ms, engine.Options{})
	require.Equal(t, int64(100), rep.Applied.Added)
	require.Equal(t, 3, rep.Batches)
	requireExact(t, rm, s, ms)
	require.NotNil(t, rep.Platform)
	require.Equal(t, "SUCCESS", rep.Platform.Status)
	require.Equal(t, int64(100), rep.Platform.Counts["records_ingested"])
	require.Equal(t, int64(300), rep.Platform.Counts["identifiers_ingested"])
	require.Equal(t, int64(100), rep.Platform.Size, "the replica counts people: a member of three identifiers is one")
	require.NotEmpty(t, rep.Platform.MatchRate)
	require.Empty(t, rep.Platform.Pending)

	// Update: ten change e-mail, ten change address; ten leave; five join.
	next := append(contacts(10, 100), contacts(200, 205)...)
	for i := range 10 {
		next[i].Fields[audience.Email] = fmt.Sprintf("changed.%d@example.com", i)
		next[10+i].Fields[audience.Zip] = "99999"
	}
	rep = s.mustRun(next, engine.Options{})
	require.Equal(t, report.Planned{Add: 5, Remove: 10, Update: 20, Unchanged: 70}, rep.Planned)
	require.Equal(t, report.Applied{Added: 5, Removed: 10, Updated: 20}, rep.Applied)
	requireExact(t, rm, s, next)
	require.Equal(t, int64(95), s.committed())

	// Nothing changed: nothing sent.
	before := len(rm.requestSizes())
	rep = s.mustRun(next, engine.Options{})
	require.Equal(t, report.Planned{Unchanged: 95}, rep.Planned)
	require.Len(t, rm.requestSizes(), before)

	// Refresh: just before the membership lapses every member is re-sent.
	s.now = s.now.Add(515 * 24 * time.Hour)
	rep = s.mustRun(next, engine.Options{})
	require.Equal(t, report.Planned{Refresh: 95}, rep.Planned)
	require.Equal(t, int64(95), rep.Applied.Refreshed)
	requireExact(t, rm, s, next)

	// Logs carry neither tokens nor identifiers.
	secret := google.ReplicaToken
	hash := rm.srv.Members("google", s.audienceID())[0]
	for _, e := range logs.All() {
		line := e.Message + fmt.Sprint(e.ContextMap())
		require.NotContains(t, line, secret)
		require.NotContains(t, line, hash)
		require.NotContains(t, line, "example.com")
	}
}

func TestConsentRouting(t *testing.T) {
	t.Parallel()
	rm := newRemote(t, sandbox.Options{})
	d, _ := newDest(t, rm, settings())
	s := newSyncer(t, d)
	s.def = audience.Consent{AdUserData: audience.ConsentGranted} // personalization from members

	ms := contacts(0, 9)
	for i := range ms {
		switch i % 3 {
		case 0:
			ms[i].Consent.AdPersonalization = audience.ConsentGranted
		case 1:
			ms[i].Consent.AdPersonalization = audience.ConsentDenied
		case 2:
			ms[i].Consent = audience.Consent{AdUserData: audience.ConsentGranted, AdPersonalization: audience.ConsentGranted}
		}
	}
	s.mustRun(ms, engine.Options{})
	requireExact(t, rm, s, ms) // the denied ones are left out

	denied := map[string]bool{}
	for _, m := range ms {
		if m.Consent.Denied() {
			denied[sha(strings.ToLower(m.Fields[audience.Email]))] = true
		}
	}
	sent := 0
	for _, req := range rm.ingested() {
		require.Nil(t, req.Consent, "consent travels per member")
		require.Equal(t, "ACCEPTED", req.TermsOfService.CustomerMatchTermsOfServiceStatus)
		require.Equal(t, "HEX", req.Encoding)
		for _, m := range req.AudienceMembers {
			sent++
			require.NotNil(t, m.Consent)
			require.Equal(t, "CONSENT_GRANTED", m.Consent.AdUserData)
			require.Equal(t, "CONSENT_GRANTED", m.Consent.AdPersonalization)
			for _, id := range m.UserData.UserIdentifiers {
				require.False(t, denied[id.EmailAddress], "a member who denied consent was uploaded")
			}
		}
	}
	require.Equal(t, 6, sent)

	// A member who withdraws consent is removed.
	ms[0].Consent.AdPersonalization = audience.ConsentDenied
	rep := s.mustRun(ms, engine.Options{})
	require.Equal(t, int64(1), rep.Applied.Removed)
	requireExact(t, rm, s, ms)
}

func TestFullRefresh(t *testing.T) {
	t.Parallel()
	rm := newRemote(t, sandbox.Options{})
	d, _ := newDest(t, rm, settings())
	s := newSyncer(t, d)
	ms := contacts(0, 50)
	s.mustRun(ms, engine.Options{})

	// Someone adds a stray member by hand.
	aud := connectors.Audience{ID: s.audienceID()}
	_, err := d.Apply(t.Context(), aud, connectors.Batch{Op: connectors.OpAdd, Seq: 1, Members: []connectors.Upload{upload(3)}})
	require.NoError(t, err)
	require.Len(t, rm.srv.Members("google", aud.ID), 151)

	rep := s.mustRun(ms, engine.Options{FullRefresh: true})
	require.Equal(t, int64(50), rep.Applied.Added+rep.Applied.Refreshed+rep.Applied.Updated)
	requireExact(t, rm, s, ms)
	require.Equal(t, int64(50), s.committed())
}

func TestFaultsLeaveTheAudienceExact(t *testing.T) {
	t.Parallel()
	cases := []struct{ name, spec string }{
		{"429 with Retry-After", "google.ingest:429*2"},
		{"500", "google.ingest:500*3"},
		{"502", "google.remove:502*2"},
		{"503", "google.ingest:503*4,google.remove:503*2"},
		{"504 deadline exceeded", "google.ingest:504*2"},
		{"RESOURCE_EXHAUSTED", "google.ingest:exhausted*1"},
		{"rate limit", "google.remove:ratelimit*1"},
		{"connection reset", "google.ingest:reset*3,google.remove:reset*1"},
		{"slow request", "google.ingest:slow=30ms*3"},
		{"latency and jitter", "latency=5ms,jitter=5ms,seed=3"},
		{"probabilistic mix", "google.ingest:503@0.3,google.ingest:reset@0.1,google.remove:500@0.3,seed=11"},
		{"user list and status calls", "google.userlists:503*2,google.requeststatus:500*2"},
		{"more than the client retries", "google.ingest:503*7"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rm := newRemote(t, sandbox.Options{})
			d, _ := newDest(t, rm, settings())
			s := newSyncer(t, d)
			s.batch = 25
			s.mustRun(contacts(0, 100), engine.Options{})

			rm.faults(t, tc.spec)
			next := append(contacts(20, 100), contacts(300, 340)...)
			rep := s.mustRun(next, engine.Options{})
			require.Zero(t, rep.Applied.Failed)
			requireExact(t, rm, s, next)
			require.Equal(t, int64(120), s.committed())
			if !strings.Contains(tc.spec, "latency") && !strings.Contains(tc.spec, "slow") && !strings.Contains(tc.spec, "userlists") {
				require.Positive(t, rep.Retries, "faults were retried")
			}
		})
	}
}

func TestRetryHonoursServerDelay(t *testing.T) {
	t.Parallel()
	rm := newRemote(t, sandbox.Options{})
	d, _ := newDest(t, rm, settings())
	aud, err := d.Ensure(t.Context(), connectors.AudienceSpec{Name: "x", Create: true})
	require.NoError(t, err)
	rm.faults(t, "google.ingest:429*1,retry-after=1s")
	start := time.Now()
	res, err := d.Apply(t.Context(), aud, connectors.Batch{Op: connectors.OpAdd, Seq: 1, Members: []connectors.Upload{upload(0)}})
	require.NoError(t, err)
	require.Equal(t, 1, res.Retries)
	require.GreaterOrEqual(t, time.Since(start), 900*time.Millisecond, "the RetryInfo delay was honoured over the 1ms back-off")

	// When the client's own attempts run out, the engine is asked to wait.
	s := settings()
	s.MaxAttempts = 1
	d2, _ := newDest(t, rm, s)
	rm.faults(t, "google.ingest:429*1,retry-after=3s")
	_, err = d2.Apply(t.Context(), aud, connectors.Batch{Op: connectors.OpAdd, Seq: 1, Members: []connectors.Upload{upload(0)}})
	var ra *connectors.RetryAfterError
	require.ErrorAs(t, err, &ra)
	require.Equal(t, 3*time.Second, ra.Wait)
	require.ErrorContains(t, err, "RESOURCE_EXHAUSTED")
}

func TestBadBatchIsReportedAndOthersKept(t *testing.T) {
	t.Parallel()
	rm := newRemote(t, sandbox.Options{})
	d, _ := newDest(t, rm, settings())
	s := newSyncer(t, d)
	s.batch = 10
	s.spec.Name = "Bad batch"

	var ingests atomic.Int32
	rm.setIntercept(func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
		if !strings.HasSuffix(r.URL.Path, ":ingest") {
			return false
		}
		if ingests.Add(1) != 2 {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":{"code":400,"status":"INVALID_ARGUMENT","message":"Invalid value at 'audienceMembers[3].userData', \"someone@example.com\"","details":[`+
			`{"@type":"type.googleapis.com/google.rpc.BadRequest","fieldViolations":[{"field":"audienceMembers[3].userData","description":"bad \"someone@example.com\""}]},`+
			`{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"INVALID_FORMAT","domain":"datamanager.googleapis.com"}]}}`)
		return true
	})
	ms := contacts(0, 50)
	rep, err := s.run(ms, engine.Options{})
	require.Error(t, err)
	dr := rep.Destinations[0]
	require.Equal(t, report.StatusPartial, dr.Status)
	require.Equal(t, int64(40), dr.Applied.Added)
	require.Equal(t, int64(10), dr.Applied.Failed, "a batch the platform refused is failed, not 'not attempted'")
	require.Zero(t, dr.Applied.NotAttempted)
	require.Equal(t, int32(5), ingests.Load(), "the refused batch was not retried")
	require.Len(t, dr.Errors, 1)
	require.Contains(t, dr.Errors[0], "INVALID_ARGUMENT")
	require.Contains(t, dr.Errors[0], "INVALID_FORMAT")
	require.Contains(t, dr.Errors[0], "audienceMembers[3].userData")
	require.NotContains(t, dr.Errors[0], "someone@example.com", "values Google quotes stay out of reports")
	require.Len(t, rm.srv.Members("google", s.audienceID()), 120)
	require.Equal(t, int64(40), s.committed())

	// The next run sends the refused ten again.
	rm.setIntercept(nil)
	dr = s.mustRun(ms, engine.Options{})
	require.Equal(t, int64(10), dr.Applied.Added)
	requireExact(t, rm, s, ms)
}

func TestTermsNotAccepted(t *testing.T) {
	t.Parallel()
	rm := newRemote(t, sandbox.Options{})
	st := settings()
	no := false
	st.TermsOfServiceAccepted = &no
	d, _ := newDest(t, rm, st)
	s := newSyncer(t, d)
	rep, err := s.run(contacts(0, 5), engine.Options{})
	require.Error(t, err)
	dr := rep.Destinations[0]
	require.Equal(t, report.StatusFailed, dr.Status)
	require.Contains(t, strings.Join(dr.Errors, "\n"), "terms_of_service_accepted: true")
	require.Empty(t, rm.srv.Members("google", s.audienceID()), "nothing was uploaded")
	require.Empty(t, rm.requestSizes())

	// Terms refused by Google itself stop the destination as well.
	aud := connectors.Audience{ID: s.audienceID()}
	rm.setIntercept(func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
		if !strings.HasSuffix(r.URL.Path, ":ingest") {
			return false
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"error":{"code":403,"status":"PERMISSION_DENIED","message":"terms","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"TERMS_OF_SERVICE_NOT_ACCEPTED"}]}}`)
		return true
	})
	d2, _ := newDest(t, rm, settings())
	_, err = d2.Apply(t.Context(), aud, connectors.Batch{Op: connectors.OpAdd, Seq: 1, Members: []connectors.Upload{upload(0)}})
	require.ErrorIs(t, err, connectors.ErrFatal)
	require.ErrorContains(t, err, "accept the Customer Match terms")
}

// TestPermissionDeniedStopsDestination checks that a 403 stops the
// destination with advice: the permission is the account's, so every
// further batch would be refused too.
func TestPermissionDeniedStopsDestination(t *testing.T) {
	t.Parallel()
	rm := newRemote(t, sandbox.Options{})
	d, _ := newDest(t, rm, settings())
	aud, err := d.Ensure(t.Context(), connectors.AudienceSpec{Name: "x", Create: true})
	require.NoError(t, err)
	rm.setIntercept(func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusForbidden)
		fmt.Fprint(w, `{"error":{"code":403,"status":"PERMISSION_DENIED","message":"The caller does not have permission","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"USER_PERMISSION_DENIED"}]}}`)
		return true
	})
	_, err = d.Apply(t.Context(), aud, connectors.Batch{Op: connectors.OpRemove, Seq: 1, Members: []connectors.Upload{upload(0)}})
	require.ErrorIs(t, err, connectors.ErrFatal)
	action, _ := connectors.Classify(err)
	require.Equal(t, connectors.ActionStop, action)
	require.ErrorContains(t, err, "USER_PERMISSION_DENIED")
	require.ErrorContains(t, err, "login_account")

	require.ErrorContains(t, d.Check(t.Context()), "PERMISSION_DENIED")
}

func TestValidateOnlyCommitsNothing(t *testing.T) {
	t.Parallel()
	rm := newRemote(t, sandbox.Options{})
	st := settings()
	st.ValidateOnly = true
	d, _ := newDest(t, rm, st)
	s := newSyncer(t, d)
	rep, _ := s.run(contacts(0, 5), engine.Options{})
	dr := rep.Destinations[0]
	require.Equal(t, int64(5), dr.PlatformRejected["validate_only"])
	require.Zero(t, s.committed())
	require.Empty(t, rm.srv.Members("google", s.audienceID()))
	require.Len(t, rm.requestSizes(), 1, "the batch was sent for validation")
}

func TestFeedbackKeepsProcessingRequestsPending(t *testing.T) {
	t.Parallel()
	rm := newRemote(t, sandbox.Options{GooglePollsBeforeDone: 1})
	d, _ := newDest(t, rm, settings())
	s := newSyncer(t, d)
	s.batch = 20
	ms := contacts(0, 40)
	ms[0].Consent.AdUserData = audience.ConsentUnspecified // default: granted
	dr := s.mustRun(ms, engine.Options{})
	require.Equal(t, "PROCESSING", dr.Platform.Status)
	require.Len(t, dr.Platform.Pending, 2)
	scope := state.Scope{Sync: "cart", Destination: "google"}
	pending, err := s.store.ListPending(t.Context(), scope)
	require.NoError(t, err)
	require.Len(t, pending, 2, "the state store keeps the requests still processing")
	for _, p := range pending {
		require.Contains(t, dr.Platform.Pending, p.ID)
		require.Equal(t, googleads.Type, p.Kind)
	}

	// The next run polls them again; they are done by now.
	dr = s.mustRun(ms, engine.Options{})
	require.Equal(t, "SUCCESS", dr.Platform.Status)
	require.Empty(t, dr.Platform.Pending)
	pending, err = s.store.ListPending(t.Context(), scope)
	require.NoError(t, err)
	require.Empty(t, pending, "finished requests are dropped")
	require.Equal(t, int64(40), dr.Platform.Counts["records_ingested"])
	require.Equal(t, int64(2), dr.Platform.Counts["requests.success"])

	// Unknown ids are dropped; errors are counted by reason.
	fb, err := d.Feedback(t.Context(), connectors.Audience{ID: s.audienceID()}, []string{"no-such-request"})
	require.NoError(t, err)
	require.Equal(t, int64(1), fb.Counts["requests_expired"])
	require.Empty(t, fb.Pending)
}

func TestFeedbackCountsConsentErrors(t *testing.T) {
	t.Parallel()
	rm := newRemote(t, sandbox.Options{})
	d, _ := newDest(t, rm, settings())
	aud, err := d.Ensure(t.Context(), connectors.AudienceSpec{Name: "x", Create: true})
	require.NoError(t, err)
	noConsent := upload(1)
	noConsent.Consent = audience.Consent{AdUserData: audience.ConsentGranted}
	res, err := d.Apply(t.Context(), aud, connectors.Batch{Op: connectors.OpAdd, Seq: 1, Members: []connectors.Upload{upload(0), noConsent}})
	require.NoError(t, err)
	require.NotEmpty(t, res.RequestID)
	require.Equal(t, map[string]int64{"members_sent": 2, "identifiers_sent": 2, "members_trimmed": 0}, res.Platform)
	fb, err := d.Feedback(t.Context(), aud, []string{res.RequestID})
	require.NoError(t, err)
	require.Equal(t, "PARTIAL_SUCCESS", fb.Status)
	require.Equal(t, int64(1), fb.Counts["errors.UNKNOWN_CONSENT"])
	require.Equal(t, int64(1), fb.Size)
}

func TestCheck(t *testing.T) {
	t.Parallel()
	rm := newRemote(t, sandbox.Options{})
	d, _ := newDest(t, rm, settings())
	require.NoError(t, d.Check(t.Context()))

	s := settings()
	s.AccessToken = auth.NewSecret(google.ReplicaExpiredToken)
	expired, _ := newDest(t, rm, s)
	err := expired.Check(t.Context())
	require.ErrorIs(t, err, connectors.ErrReauthenticate)
	require.ErrorContains(t, err, "gcloud auth print-access-token")
	require.NotContains(t, err.Error(), s.AccessToken.Reveal())
}

func TestClosedDestinationRefusesCalls(t *testing.T) {
	t.Parallel()
	rm := newRemote(t, sandbox.Options{})
	d, _ := newDest(t, rm, settings())
	require.NoError(t, d.Close())
	require.NoError(t, d.Close())
	_, err := d.Ensure(t.Context(), connectors.AudienceSpec{Name: "x", Create: true})
	require.True(t, errors.Is(err, connectors.ErrFatal))
}

func TestContextCancelStopsRetries(t *testing.T) {
	t.Parallel()
	rm := newRemote(t, sandbox.Options{})
	s := settings()
	s.MinRetryWait, s.MaxRetryWait = time.Second, time.Second
	d, _ := newDest(t, rm, s)
	aud, err := d.Ensure(t.Context(), connectors.AudienceSpec{Name: "x", Create: true})
	require.NoError(t, err)
	rm.faults(t, "google.ingest:503")
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = d.Apply(ctx, aud, connectors.Batch{Op: connectors.OpAdd, Seq: 1, Members: []connectors.Upload{upload(0)}})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	require.Less(t, time.Since(start), 900*time.Millisecond)
}

// TestFindListFallsBackWhenFilterRefused checks that a list is still found
// by name, and not created a second time, when Google refuses the filter
// parameter of the list call.
func TestFindListFallsBackWhenFilterRefused(t *testing.T) {
	t.Parallel()
	rm := newRemote(t, sandbox.Options{})
	d, _ := newDest(t, rm, settings())
	for _, name := range []string{"Other list", "Buyers"} {
		_, err := d.Ensure(t.Context(), connectors.AudienceSpec{Name: name, Create: true})
		require.NoError(t, err)
	}
	first, err := d.Ensure(t.Context(), connectors.AudienceSpec{Name: "Buyers"})
	require.NoError(t, err)

	var refused atomic.Int32
	rm.setIntercept(func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
		if r.Method != http.MethodGet || !r.URL.Query().Has("filter") {
			return false
		}
		refused.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprint(w, `{"error":{"code":400,"status":"INVALID_ARGUMENT","message":"Invalid filter"}}`)
		return true
	})
	got, err := d.Ensure(t.Context(), connectors.AudienceSpec{Name: "Buyers", Create: true})
	require.NoError(t, err)
	require.Positive(t, refused.Load(), "the filtered call was tried first")
	require.Equal(t, first.ID, got.ID, "the existing list is found")
	require.False(t, got.Created)
}
