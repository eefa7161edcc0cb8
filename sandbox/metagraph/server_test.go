package metagraph

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	fb "github.com/huandu/facebook/v2"
	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/platform/meta"
	"github.com/audiencesync/audiencesync/sandbox/fault"
)

const adAccount = "act_1234567890"

type bundle struct {
	srv *Server
	ts  *httptest.Server
}

func setup(t *testing.T, opts Options) *bundle {
	t.Helper()
	srv := New(opts)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return &bundle{srv: srv, ts: ts}
}

// session is a real huandu/facebook client session pointed at the replica,
// configured the way PLATFORMS.md says the connector must be. A Session is
// not safe for concurrent use, so parallel subtests take their own.
func (b *bundle) session(token string) *fb.Session {
	app := fb.New(meta.ReplicaAppID, meta.ReplicaAppSecret)
	app.EnableAppsecretProof = true
	s := app.Session(token)
	s.Version = meta.ReplicaVersion
	s.BaseURL = b.ts.URL + "/"
	s.HttpClient = b.ts.Client()
	s.UseAuthorizationHeader()
	return s
}

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// num reads a number the client decoded as json.Number.
func num(t *testing.T, v any) int64 {
	t.Helper()
	n, ok := v.(json.Number)
	require.True(t, ok, "want a number, got %#v", v)
	i, err := n.Int64()
	require.NoError(t, err)
	return i
}

func graphErr(t *testing.T, err error) *fb.Error {
	t.Helper()
	var fe *fb.Error
	require.True(t, errors.As(err, &fe), "want a Graph error, got %v", err)
	return fe
}

func (b *bundle) create(t *testing.T, s *fb.Session, name string) string {
	t.Helper()
	res, err := s.Post("/"+adAccount+"/customaudiences", fb.Params{
		"name": name, "subtype": "CUSTOM", "description": "test", "customer_file_source": "USER_PROVIDED_ONLY",
	})
	require.NoError(t, err)
	return res.Get("id").(string)
}

func emails(addrs ...string) fb.Params {
	rows := make([][]string, len(addrs))
	for i, a := range addrs {
		rows[i] = []string{sha(a)}
	}
	return fb.Params{"payload": map[string]any{"schema": []string{"EMAIL"}, "data": rows}}
}

func TestAudienceLifecycleWithClient(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	s := b.session(meta.ReplicaToken)
	id := b.create(t, s, "Cart abandoners")

	res, err := s.Get("/"+id, fb.Params{"fields": "id,name,subtype,customer_file_source,approximate_count_lower_bound"})
	require.NoError(t, err)
	require.Equal(t, "Cart abandoners", res.Get("name"))
	require.Equal(t, "CUSTOM", res.Get("subtype"))
	require.Equal(t, "USER_PROVIDED_ONLY", res.Get("customer_file_source"))

	// Add, then remove with DELETE (sent by the client as POST method=DELETE).
	res, err = s.Post("/"+id+"/users", emails("a@example.com", "b@example.com", "c@example.com"))
	require.NoError(t, err)
	require.Equal(t, id, res.Get("audience_id"))
	require.Equal(t, int64(3), num(t, res.Get("num_received")))
	require.Equal(t, int64(0), num(t, res.Get("num_invalid_entries")))
	require.NotEmpty(t, res.Get("session_id"))
	require.ElementsMatch(t, []string{sha("a@example.com"), sha("b@example.com"), sha("c@example.com")}, b.srv.Members(id))

	_, err = s.Delete("/"+id+"/users", emails("b@example.com"))
	require.NoError(t, err)
	require.ElementsMatch(t, []string{sha("a@example.com"), sha("c@example.com")}, b.srv.Members(id))

	// A real HTTP DELETE with parameters in the query works too.
	q := url.Values{"payload": {`{"schema":"EMAIL_SHA256","data":["` + sha("c@example.com") + `"]}`},
		"access_token": {meta.ReplicaToken}, "appsecret_proof": {AppsecretProof(meta.ReplicaToken)}}
	req, _ := http.NewRequest(http.MethodDelete, b.ts.URL+"/v25.0/"+id+"/users?"+q.Encode(), nil)
	httpRes, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	httpRes.Body.Close()
	require.Equal(t, 200, httpRes.StatusCode)
	require.Equal(t, []string{sha("a@example.com")}, b.srv.Members(id))

	res, err = s.Get("/"+id, fb.Params{"fields": "approximate_count_lower_bound"})
	require.NoError(t, err)
	require.Equal(t, int64(1), num(t, res.Get("approximate_count_lower_bound")))
}

func TestListPagingWithClient(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	s := b.session(meta.ReplicaToken)
	for i := range 5 {
		b.create(t, s, fmt.Sprintf("audience %d", i))
	}
	b.srv.CreateAudience("act_999", "another account")
	res, err := s.Get("/"+adAccount+"/customaudiences", fb.Params{"fields": "id,name", "limit": 2})
	require.NoError(t, err)
	paging, err := res.Paging(s)
	require.NoError(t, err)
	var names []string
	for {
		for _, r := range paging.Data() {
			names = append(names, r.Get("name").(string))
		}
		noMore, err := paging.Next()
		require.NoError(t, err)
		if noMore {
			break
		}
	}
	require.Equal(t, []string{"audience 0", "audience 1", "audience 2", "audience 3", "audience 4"}, names)

	_, err = s.Get("/"+adAccount+"/customaudiences", fb.Params{"fields": "id,size"})
	require.Equal(t, 100, graphErr(t, err).Code)
}

func TestCreateValidation(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	for _, tc := range []struct {
		name   string
		params fb.Params
	}{
		{"no name", fb.Params{"subtype": "CUSTOM", "customer_file_source": "USER_PROVIDED_ONLY"}},
		{"wrong subtype", fb.Params{"name": "a", "subtype": "LOOKALIKE", "customer_file_source": "USER_PROVIDED_ONLY"}},
		{"no customer_file_source", fb.Params{"name": "a", "subtype": "CUSTOM"}},
		{"bad customer_file_source", fb.Params{"name": "a", "subtype": "CUSTOM", "customer_file_source": "CRM"}},
		{"unknown parameter", fb.Params{"name": "a", "subtype": "CUSTOM", "customer_file_source": "USER_PROVIDED_ONLY", "customer_file_sources": "x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := b.session(meta.ReplicaToken).Post("/"+adAccount+"/customaudiences", tc.params)
			fe := graphErr(t, err)
			require.Equal(t, 100, fe.Code)
			require.NotEmpty(t, fe.TraceID)
		})
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	id := b.srv.CreateAudience(adAccount, "auth")

	t.Run("wrong token", func(t *testing.T) {
		t.Parallel()
		_, err := b.session("nope").Get("/"+id, nil)
		fe := graphErr(t, err)
		require.Equal(t, 190, fe.Code)
		require.Equal(t, "OAuthException", fe.Type)
	})
	t.Run("expired token", func(t *testing.T) {
		t.Parallel()
		_, err := b.session(meta.ReplicaExpiredToken).Get("/"+id, nil)
		fe := graphErr(t, err)
		require.Equal(t, 190, fe.Code)
		require.Equal(t, 463, fe.ErrorSubcode)
	})
	t.Run("wrong app secret gives a bad proof", func(t *testing.T) {
		t.Parallel()
		app := fb.New(meta.ReplicaAppID, "not-the-secret")
		app.EnableAppsecretProof = true
		s := app.Session(meta.ReplicaToken)
		s.Version, s.BaseURL = meta.ReplicaVersion, b.ts.URL+"/"
		_, err := s.Get("/"+id, nil)
		fe := graphErr(t, err)
		require.Equal(t, 100, fe.Code)
		require.Contains(t, fe.Message, "appsecret_proof")
	})
	t.Run("missing proof", func(t *testing.T) {
		t.Parallel()
		s := fb.New(meta.ReplicaAppID, meta.ReplicaAppSecret).Session(meta.ReplicaToken)
		s.Version, s.BaseURL = meta.ReplicaVersion, b.ts.URL+"/"
		_, err := s.Get("/"+id, nil)
		require.Contains(t, graphErr(t, err).Message, "appsecret_proof")
	})
	t.Run("token as parameter and OAuth header", func(t *testing.T) {
		t.Parallel()
		res, err := http.Get(b.ts.URL + "/v25.0/" + id + "?access_token=" + meta.ReplicaToken + "&appsecret_proof=" + AppsecretProof(meta.ReplicaToken))
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, 200, res.StatusCode)
		req, _ := http.NewRequest("GET", b.ts.URL+"/v25.0/"+id+"?appsecret_proof="+AppsecretProof(meta.ReplicaToken), nil)
		req.Header.Set("Authorization", "OAuth "+meta.ReplicaToken)
		res, err = http.DefaultClient.Do(req)
		require.NoError(t, err)
		res.Body.Close()
		require.Equal(t, 200, res.StatusCode)
	})
	t.Run("no token", func(t *testing.T) {
		t.Parallel()
		res, err := http.Get(b.ts.URL + "/v25.0/" + id)
		require.NoError(t, err)
		defer res.Body.Close()
		require.Equal(t, 400, res.StatusCode)
		var body struct{ Error graphError }
		require.NoError(t, json.NewDecoder(res.Body).Decode(&body))
		require.Equal(t, 104, body.Error.Code)
	})
	t.Run("unversioned and old versions", func(t *testing.T) {
		t.Parallel()
		for _, version := range []string{"", "v12.0"} {
			s := b.session(meta.ReplicaToken)
			s.Version = version
			_, err := s.Get("/"+id, nil)
			require.Equal(t, 2635, graphErr(t, err).Code, "version %q", version)
		}
	})
}

func TestUsersValidation(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	id := b.srv.CreateAudience(adAccount, "validation")
	tooMany := make([][]string, MaxRowsPerRequest+1)
	for i := range tooMany {
		tooMany[i] = []string{sha(fmt.Sprint(i))}
	}
	for _, tc := range []struct {
		name    string
		payload any
	}{
		{"unknown schema key", map[string]any{"schema": []string{"EMAIL", "NAME"}, "data": [][]string{{sha("a"), sha("b")}}}},
		{"duplicate schema key", map[string]any{"schema": []string{"EMAIL", "EMAIL"}, "data": [][]string{{sha("a"), sha("b")}}}},
		{"row narrower than schema", map[string]any{"schema": []string{"EMAIL", "PHONE"}, "data": [][]string{{sha("a")}}}},
		{"row wider than schema", map[string]any{"schema": []string{"EMAIL"}, "data": [][]string{{sha("a"), sha("b")}}}},
		{"too many rows", map[string]any{"schema": []string{"EMAIL"}, "data": tooMany}},
		{"no data", map[string]any{"schema": []string{"EMAIL"}, "data": [][]string{}}},
		{"unknown payload key", map[string]any{"schema": []string{"EMAIL"}, "data": [][]string{{sha("a")}}, "rows": 1}},
		{"no schema", map[string]any{"data": [][]string{{sha("a")}}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := b.session(meta.ReplicaToken).Post("/"+id+"/users", fb.Params{"payload": tc.payload})
			require.Equal(t, 100, graphErr(t, err).Code)
		})
	}
	t.Run("no payload", func(t *testing.T) {
		t.Parallel()
		_, err := b.session(meta.ReplicaToken).Post("/"+id+"/users", nil)
		require.Equal(t, 100, graphErr(t, err).Code)
	})
	t.Run("unknown audience", func(t *testing.T) {
		t.Parallel()
		_, err := b.session(meta.ReplicaToken).Post("/123/users", emails("a"))
		fe := graphErr(t, err)
		require.Equal(t, 100, fe.Code)
		require.Equal(t, 33, fe.ErrorSubcode)
	})
	require.Empty(t, b.srv.Members(id))
}

func TestInvalidEntriesAreCountedNotFatal(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	s := b.session(meta.ReplicaToken)
	id := b.srv.CreateAudience(adAccount, "multi-key")
	payload := map[string]any{
		"schema": []string{"EMAIL", "PHONE", "FN", "LN", "ZIP", "COUNTRY", "MADID", "EXTERN_ID"},
		"data": [][]string{
			{sha("a@example.com"), sha("16505551212"), sha("quinn"), sha("young"), sha("94045"), sha("us"), "", "crm-1"},
			{"a@example.com", "", "", "", "", "", "", ""},                       // e-mail in clear
			{strings.ToUpper(sha("b@example.com")), "", "", "", "", "", "", ""}, // uppercase hex
			{"", "", sha("jo"), sha("doe"), sha("10001"), "", "", ""},           // no strong key: matched as a row
			{"", "", "", "", "", "", "6d92078a-8246-4ba4-ae5b-76104861e7dc", ""},
			{"", "", "", "", "", "", sha("idfa"), ""}, // hashed MADID
			{"", "", "", "", "", "", "", ""},          // empty row
		},
	}
	res, err := s.Post("/"+id+"/users", fb.Params{"payload": payload})
	require.NoError(t, err)
	require.Equal(t, int64(7), num(t, res.Get("num_received")))
	require.Equal(t, int64(4), num(t, res.Get("num_invalid_entries")))
	samples := res.Get("invalid_entry_samples").(map[string]any)
	require.Equal(t, "EMAIL", samples["a@example.com"])
	require.Equal(t, "MADID", samples[sha("idfa")])
	require.ElementsMatch(t, []string{
		sha("a@example.com"), sha("16505551212"), "extern_id:crm-1",
		"row:FN=" + sha("jo") + ",LN=" + sha("doe") + ",ZIP=" + sha("10001"),
		"madid:6d92078a-8246-4ba4-ae5b-76104861e7dc",
	}, b.srv.Members(id))
}

func TestUsersReplaceSession(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	s := b.session(meta.ReplicaToken)
	id := b.srv.CreateAudience(adAccount, "replace")
	_, err := s.Post("/"+id+"/users", emails("old1", "old2", "keep"))
	require.NoError(t, err)

	batch := func(seq int, last bool, addrs ...string) (fb.Result, error) {
		p := emails(addrs...)
		p["session"] = map[string]any{"session_id": 9001, "batch_seq": seq, "last_batch_flag": last, "estimated_num_total": 3}
		return s.Post("/"+id+"/usersreplace", p)
	}

	_, err = s.Post("/"+id+"/usersreplace", emails("x"))
	require.Equal(t, 100, graphErr(t, err).Code, "replace needs a session")
	_, err = batch(2, false, "new1")
	require.Equal(t, 100, graphErr(t, err).Code, "a session starts at batch 1")

	res, err := batch(1, false, "new1")
	require.NoError(t, err)
	require.Equal(t, "9001", res.Get("session_id"))
	_, err = batch(1, false, "new1") // a retried batch is harmless
	require.NoError(t, err)
	_, err = batch(3, false, "new3")
	require.Equal(t, 100, graphErr(t, err).Code, "batches arrive in order")

	require.ElementsMatch(t, []string{sha("old1"), sha("old2"), sha("keep")}, b.srv.Members(id), "nothing changes before the last batch")
	_, err = s.Post("/"+id+"/users", emails("during"))
	require.Equal(t, 2650, graphErr(t, err).Code, "no adds while a replace is open")
	other := emails("y")
	other["session"] = map[string]any{"session_id": 9002, "batch_seq": 1, "last_batch_flag": true}
	_, err = s.Post("/"+id+"/usersreplace", other)
	require.Equal(t, 2650, graphErr(t, err).Code, "one replace session at a time")

	_, err = batch(2, true, "new2", "keep")
	require.NoError(t, err)
	require.ElementsMatch(t, []string{sha("new1"), sha("new2"), sha("keep")}, b.srv.Members(id))

	_, err = batch(2, true, "new2", "keep") // the last batch retried after its answer was lost
	require.NoError(t, err)
	_, err = batch(3, true, "late")
	require.Equal(t, 100, graphErr(t, err).Code, "a finished session takes no more batches")
	require.Len(t, b.srv.Members(id), 3)
}

func TestAddSession(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	s := b.session(meta.ReplicaToken)
	id := b.srv.CreateAudience(adAccount, "sessions")
	send := func(seq int, last bool) error {
		p := emails(fmt.Sprint("u", seq))
		p["session"] = map[string]any{"session_id": "77", "batch_seq": seq, "last_batch_flag": last}
		_, err := s.Post("/"+id+"/users", p)
		return err
	}
	require.NoError(t, send(1, false))
	require.NoError(t, send(2, true))
	require.Equal(t, 100, graphErr(t, send(3, false)).Code)
	bad := emails("z")
	bad["session"] = map[string]any{"session_id": 78, "batch_seq": 0}
	_, err := s.Post("/"+id+"/users", bad)
	require.Equal(t, 100, graphErr(t, err).Code, "batch_seq starts at 1")
	require.Len(t, b.srv.Members(id), 2)
}

func TestFaults(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{Faults: fault.MustParse("meta.users:613*1,meta.users:80003*1,meta.users:expired*1,meta.users:500*1,meta.users:17*1,retry-after=2m")})
	s := b.session(meta.ReplicaToken)
	id := b.srv.CreateAudience(adAccount, "faults")

	for _, want := range []struct{ code, subcode int }{{613, 0}, {80003, 0}, {190, 463}, {1, 0}, {17, 2446079}} {
		res, err := s.Post("/"+id+"/users", emails("a"))
		fe := graphErr(t, err)
		require.Equal(t, want.code, fe.Code)
		require.Equal(t, want.subcode, fe.ErrorSubcode)
		if want.code != 190 {
			require.True(t, fe.IsTransient, "code %d is transient", want.code)
		}
		if want.code == 613 || want.code == 80003 || want.code == 17 {
			usage := res.UsageInfo()
			require.NotNil(t, usage, "throttles carry X-Business-Use-Case-Usage")
			rl := usage.BusinessUseCase["1234567890"]
			require.Len(t, rl, 1)
			require.Equal(t, 100, rl[0].CallCount)
			require.Equal(t, 2, rl[0].EstimatedTimeToRegainAccess)
		}
	}
	require.Empty(t, b.srv.Members(id))
	_, err := s.Post("/"+id+"/users", emails("a"))
	require.NoError(t, err)
	require.Len(t, b.srv.Members(id), 1)
}

func TestThrottleIsHTTP400(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{Faults: fault.MustParse("meta:4*1")})
	id := b.srv.CreateAudience(adAccount, "raw")
	res, err := http.Get(b.ts.URL + "/v25.0/" + id + "?access_token=" + meta.ReplicaToken + "&appsecret_proof=" + AppsecretProof(meta.ReplicaToken))
	require.NoError(t, err)
	defer res.Body.Close()
	require.Equal(t, 400, res.StatusCode)
	raw, _ := io.ReadAll(res.Body)
	var body struct {
		Error map[string]any `json:"error"`
	}
	require.NoError(t, json.Unmarshal(raw, &body))
	for _, k := range []string{"message", "type", "code", "is_transient", "fbtrace_id"} {
		require.Contains(t, body.Error, k)
	}
	require.NotEmpty(t, res.Header.Get("X-Business-Use-Case-Usage"))
}

func FuzzParsePayload(f *testing.F) {
	f.Add(`{"schema":["EMAIL","PHONE"],"data":[["` + sha("a") + `",""]]}`)
	f.Add(`{"schema":"EMAIL_SHA256","data":["` + sha("a") + `"]}`)
	f.Add(`{"schema":["MADID","DATA_PROCESSING_OPTIONS"],"data":[["6d92078a-8246-4ba4-ae5b-76104861e7dc",["LDU"]]]}`)
	f.Fuzz(func(t *testing.T, payload string) {
		up, gerr := parsePayload(payload)
		if gerr != nil {
			require.Equal(t, 100, gerr.Code)
			return
		}
		// Every valid row has at least one identifier.
		require.GreaterOrEqual(t, len(up.ids), up.total-up.invalid)
	})
}

// TestApproximateCountCountsPeople uploads rows of several keys: the
// approximate count is the people they are (a row is one person, known by
// its first key), not the identifiers the replica keeps, through removals,
// a replace session and a save and load.
func TestApproximateCountCountsPeople(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	s := b.session(meta.ReplicaToken)
	id := b.srv.CreateAudience(adAccount, "people")
	rows := func(data ...[]string) fb.Params {
		out := make([][]string, len(data))
		for i, r := range data {
			out[i] = make([]string, len(r))
			for j, v := range r {
				if v != "" {
					out[i][j] = sha(v)
				}
			}
		}
		return fb.Params{"payload": map[string]any{"schema": []string{"EMAIL", "PHONE", "FN"}, "data": out}}
	}
	count := func() (lower, upper int64) {
		t.Helper()
		res, err := s.Get("/"+id, fb.Params{"fields": "approximate_count_lower_bound,approximate_count_upper_bound"})
		require.NoError(t, err)
		return num(t, res.Get("approximate_count_lower_bound")), num(t, res.Get("approximate_count_upper_bound"))
	}
	people := func(want int64, msg string) {
		t.Helper()
		lower, upper := count()
		require.Equal(t, [2]int64{want, want}, [2]int64{lower, upper}, msg)
	}

	_, err := s.Post("/"+id+"/users", rows(
		[]string{"a@example.com", "15555550100", "ada"}, // e-mail and phone: one person
		[]string{"b@example.com", "", ""},
		[]string{"", "15555550101", ""},
		[]string{"", "", "zoe"}, // no strong key: one person of its other cells
	))
	require.NoError(t, err)
	require.Len(t, b.srv.Members(id), 5, "the replica keeps each strong key and the row of the other cells")
	people(4, "four rows, four people")

	for _, step := range []struct {
		remove bool
		row    []string
		want   int64
		msg    string
	}{
		{false, []string{"b@example.com", "15555550102", ""}, 4, "a row with b's e-mail first is b, with a phone more"},
		{false, []string{"b@example.com", "15555550101", ""}, 4, "sharing a phone with another row does not make two people one"},
		{true, []string{"", "15555550100", ""}, 4, "a's row stays while its e-mail does"},
		{true, []string{"a@example.com", "", ""}, 3, "and leaves with it"},
	} {
		send := s.Post
		if step.remove {
			send = s.Delete
		}
		_, err = send("/"+id+"/users", rows(step.row))
		require.NoError(t, err, step.msg)
		people(step.want, step.msg)
	}

	saved, err := b.srv.Save()
	require.NoError(t, err)
	loaded := New(Options{})
	require.NoError(t, loaded.Load(saved))
	again, err := loaded.Save()
	require.NoError(t, err)
	require.JSONEq(t, string(saved), string(again), "a saved audience keeps who is one person")
	found := false
	for _, st := range loaded.State(false) {
		if st.ID == id {
			found = true
			require.Equal(t, 3, st.People)
			require.Equal(t, 4, st.Members, "identifiers: b's e-mail and two phones, and the row of zoe")
		}
	}
	require.True(t, found, "the loaded replica has the audience")

	p := rows([]string{"c@example.com", "15555550200", ""}, []string{"d@example.com", "", ""})
	p["session"] = map[string]any{"session_id": 77, "batch_seq": 1, "last_batch_flag": true}
	_, err = s.Post("/"+id+"/usersreplace", p)
	require.NoError(t, err)
	people(2, "a replace session counts its rows as people too")
}
