package meta

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/retry"
	"github.com/audiencesync/audiencesync/connectors/retry/retrytest"
)

func ident(k audience.Kind, v string) audience.Identifier {
	return audience.Identifier{Kind: k, Value: v}
}

func TestEncodePayload(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		members []connectors.Upload
		schema  []string
		data    [][]string
	}{
		{
			name: "schema in Meta's order whatever the kinds' order",
			members: []connectors.Upload{
				{Identifiers: []audience.Identifier{ident(audience.ExternalID, "x1"), ident(audience.Email, "e1"), ident(audience.Country, "c1")}},
				{Identifiers: []audience.Identifier{ident(audience.Phone, "p2"), ident(audience.BirthYear, "y2")}},
			},
			schema: []string{"EMAIL", "PHONE", "COUNTRY", "DOBY", "EXTERN_ID"},
			data:   [][]string{{"e1", "", "c1", "", "x1"}, {"", "p2", "", "y2", ""}},
		},
		{
			name: "every kind",
			members: []connectors.Upload{{Identifiers: []audience.Identifier{
				ident(audience.MobileID, "madid"), ident(audience.BirthDay, "dd"), ident(audience.BirthMonth, "mm"),
				ident(audience.Gender, "g"), ident(audience.Region, "st"), ident(audience.City, "ct"),
				ident(audience.FirstInitial, "fi"), ident(audience.LastName, "ln"), ident(audience.FirstName, "fn"),
				ident(audience.Zip, "zip"), ident(audience.Phone, "ph"), ident(audience.Email, "em"),
				ident(audience.ExternalID, "ext"), ident(audience.Country, "co"), ident(audience.BirthYear, "yyyy"),
			}}},
			schema: []string{"EMAIL", "PHONE", "FN", "LN", "FI", "CT", "ST", "ZIP", "COUNTRY", "GEN", "DOBY", "DOBM", "DOBD", "MADID", "EXTERN_ID"},
			data:   [][]string{{"em", "ph", "fn", "ln", "fi", "ct", "st", "zip", "co", "g", "yyyy", "mm", "dd", "madid", "ext"}},
		},
		{
			name: "a repeated kind takes further rows",
			members: []connectors.Upload{{Identifiers: []audience.Identifier{
				ident(audience.Email, "e1"), ident(audience.Email, "e2"), ident(audience.Email, "e3"), ident(audience.Phone, "p"),
			}}},
			schema: []string{"EMAIL", "PHONE"},
			data:   [][]string{{"e1", "p"}, {"e2", "p"}, {"e3", "p"}},
		},
		{
			name: "clear values are escaped",
			members: []connectors.Upload{{Identifiers: []audience.Identifier{
				ident(audience.ExternalID, `quote " back \ tab 	 é`),
			}}},
			schema: []string{"EXTERN_ID"},
			data:   [][]string{{`quote " back \ tab 	 é`}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			raw := encodePayload(nil, tt.members)
			var got struct {
				Schema []string   `json:"schema"`
				Data   [][]string `json:"data"`
			}
			require.NoError(t, json.Unmarshal(raw, &got), "%s", raw)
			require.Equal(t, tt.schema, got.Schema)
			require.Equal(t, tt.data, got.Data)
		})
	}
}

func FuzzEncodePayload(f *testing.F) {
	f.Add("abc", "x\"y", "é\x00")
	f.Add("", "\xff", "\\")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		members := []connectors.Upload{
			{Identifiers: []audience.Identifier{ident(audience.Email, a), ident(audience.ExternalID, b)}},
			{Identifiers: []audience.Identifier{ident(audience.MobileID, c)}},
		}
		var got struct {
			Schema []string   `json:"schema"`
			Data   [][]string `json:"data"`
		}
		raw := encodePayload(nil, members)
		if err := json.Unmarshal(raw, &got); err != nil {
			t.Fatalf("invalid JSON %q: %v", raw, err)
		}
		if len(got.Data) != 2 || len(got.Data[0]) != 3 {
			t.Fatalf("wrong shape: %q", raw)
		}
	})
}

func TestCut(t *testing.T) {
	t.Parallel()
	one := connectors.Upload{Identifiers: []audience.Identifier{ident(audience.Email, "a")}}
	two := connectors.Upload{Identifiers: []audience.Identifier{ident(audience.Email, "a"), ident(audience.Email, "b")}}
	tests := []struct {
		name    string
		members []connectors.Upload
		limit   int
		ends    []int
	}{
		{"fits", []connectors.Upload{one, one, one}, 3, []int{3}},
		{"one row a member", []connectors.Upload{one, one, one}, 2, []int{2, 3}},
		{"repeated kinds count as rows", []connectors.Upload{two, two, one}, 3, []int{1, 3}},
		{"a member larger than the limit goes alone", []connectors.Upload{two, one}, 1, []int{1, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var ends []int
			for lo := 0; lo < len(tt.members); {
				lo = cut(tt.members, lo, tt.limit)
				ends = append(ends, lo)
			}
			require.Equal(t, tt.ends, ends)
		})
	}
}

func TestReasonName(t *testing.T) {
	t.Parallel()
	tests := []struct{ why, want string }{
		{"EMAIL", "invalid_email"},
		{"extern_id", "invalid_extern_id"},
		{"ROW", "invalid_row"},
		{"Invalid email format", "invalid_email_format"},
		{"Bad hash", "invalid_bad_hash"},
		{"", "invalid_entry"},
		{"john", "invalid_entry"}, // one word that is not a key may be a value
		{"someone@example.com", "invalid_entry"},
		{strings.Repeat("ab", 32), "invalid_entry"},
		{"phone 16505551212", "invalid_entry"},
		{"InvAlid ", "invalid_entry"}, // found by FuzzReasonName
		{"invalid  email  format", "invalid_email_format"},
		{"invalidated row", "invalid_invalidated_row"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, reasonName(tt.why), tt.why)
	}
}

var reportKey = regexp.MustCompile(`^invalid_[a-z_]+$`)

func FuzzReasonName(f *testing.F) {
	for _, s := range []string{"EMAIL", "Invalid email format", "x@y.z", "0123"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, why string) {
		got := reasonName(why)
		if !reportKey.MatchString(got) {
			t.Fatalf("reasonName(%q) = %q, not a report key", why, got)
		}
	})
}

func TestReadAnswer(t *testing.T) {
	t.Parallel()
	a := readAnswer(map[string]any{
		"session_id": json.Number("123"), "num_received": json.Number("5"), "num_invalid_entries": json.Number("2"),
		"invalid_entry_samples": map[string]any{"v1": "EMAIL", "v2": "PHONE"},
	})
	require.Equal(t, answer{sessionID: "123", received: 5, invalid: 2, samples: map[string]string{"v1": "EMAIL", "v2": "PHONE"}}, a)
	a = readAnswer(map[string]any{"session_id": "9", "invalid_entry_samples": []any{"v1"}})
	require.Equal(t, map[string]string{"v1": ""}, a.samples)
}

// Samples Meta cut short still find their member.
func TestAbsorbTruncatedSample(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 100)
	members := []connectors.Upload{
		{Identifiers: []audience.Identifier{ident(audience.Email, "ok")}},
		{Identifiers: []audience.Identifier{ident(audience.ExternalID, long)}},
	}
	var res connectors.BatchResult
	absorb(&res, answer{sessionID: "s", received: 2, invalid: 1, samples: map[string]string{long[:72]: "EXTERN_ID"}}, members, 10)
	require.Equal(t, []connectors.MemberRejection{{Index: 11, Reason: "invalid_extern_id"}}, res.Rejected)
	require.Equal(t, "s", res.RequestID)
	require.Equal(t, int64(1), res.Platform["samples.invalid_extern_id"])
}

func usageJSON(pct, minutes int) string {
	b, _ := json.Marshal(map[string][]map[string]any{"1234": {{"type": "custom_audience", "call_count": pct,
		"total_cputime": 1, "total_time": 1, "estimated_time_to_regain_access": minutes}}})
	return string(b)
}

func TestUsage(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	pct, regain := usageOf(h)
	require.Zero(t, pct)
	require.Zero(t, regain)
	h.Set(usageHeader, "not json")
	pct, _ = usageOf(h)
	require.Zero(t, pct)
	h.Set(usageHeader, usageJSON(87, 3))
	pct, regain = usageOf(h)
	require.Equal(t, 87, pct)
	require.Equal(t, 3*time.Minute, regain)

	for _, tt := range []struct {
		pct  int
		want time.Duration
	}{{0, 0}, {75, 0}, {80, 2 * time.Second}, {100, 10 * time.Second}, {250, 10 * time.Second}} {
		require.Equal(t, tt.want, pauseFor(tt.pct, 10*time.Second), "pct %d", tt.pct)
	}
}

// The governor spaces requests while usage is high and holds them while
// access is blocked.
func TestGovernor(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	g := newGovernor(10*time.Second, zap.NewNop())
	g.now = func() time.Time { return now }
	require.Zero(t, g.reserve(), "no usage reported: no wait")
	require.Zero(t, g.reserve())

	h := http.Header{}
	h.Set(usageHeader, usageJSON(90, 0))
	g.observe(h)
	require.Zero(t, g.reserve(), "the first request goes at once")
	require.Equal(t, 6*time.Second, g.reserve(), "the next waits its turn")
	require.Equal(t, 12*time.Second, g.reserve())

	now = now.Add(time.Minute)
	h.Set(usageHeader, usageJSON(100, 2))
	g.observe(h)
	require.Equal(t, 2*time.Minute, g.reserve(), "blocked until access is regained")

	now = now.Add(5 * time.Minute)
	g.observe(http.Header{})
	require.Zero(t, g.reserve(), "usage back to normal")
	require.Zero(t, g.reserve())
}

// roundTripFunc is an http.RoundTripper.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestGovernorHoldsOnTheBatchClock: while access is blocked a request of
// a batch waits with the batch's sleeper, so a fake clock covers it.
func TestGovernorHoldsOnTheBatchClock(t *testing.T) {
	t.Parallel()
	g := newGovernor(10*time.Second, zap.NewNop())
	h := http.Header{}
	h.Set(usageHeader, usageJSON(100, 2))
	g.next = roundTripFunc(func(*http.Request) (*http.Response, error) {
		return &http.Response{StatusCode: http.StatusOK, Header: h, Body: io.NopCloser(strings.NewReader("{}"))}, nil
	})
	clock := retrytest.NewClock(time.Now())
	ctx := clock.Batch(t, 8)
	get := httptest.NewRequest(http.MethodGet, "http://graph.invalid/v25.0/1", nil).WithContext(ctx)
	for range 2 {
		resp, err := g.RoundTrip(get)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
	}
	slept := clock.Slept()
	require.Len(t, slept, 2)
	require.Zero(t, slept[0], "nothing blocked the first request")
	require.InDelta(t, float64(2*time.Minute), float64(slept[1]), float64(time.Second), "the second waited for access to be regained")
}

func TestGovernorHonoursContext(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	require.ErrorIs(t, retry.Sleep(ctx, time.Hour), context.Canceled)
}

func response(status int, body string, header http.Header) *http.Response {
	if header == nil {
		header = http.Header{}
	}
	return &http.Response{StatusCode: status, Header: header, Body: io.NopCloser(strings.NewReader(body))}
}

func TestCheckRetry(t *testing.T) {
	t.Parallel()
	long := http.Header{}
	long.Set(usageHeader, usageJSON(100, 5))
	short := http.Header{}
	short.Set(usageHeader, usageJSON(100, 0))
	tests := []struct {
		name  string
		resp  *http.Response
		err   error
		retry bool
	}{
		{"ok", response(200, `{"id":"1"}`, nil), nil, false},
		{"connection reset", nil, errors.New("connection reset by peer"), true},
		{"500", response(500, `{"error":{"code":1,"is_transient":true}}`, nil), nil, true},
		{"503 html", response(503, `<html>`, nil), nil, true},
		{"429", response(429, `{"error":{"code":4}}`, nil), nil, true},
		{"throttle 613 on 400", response(400, `{"error":{"code":613}}`, short), nil, true},
		{"throttle 80003 on 400", response(400, `{"error":{"code":80003,"is_transient":true}}`, short), nil, true},
		{"throttle 4 on 400", response(400, `{"error":{"code":4}}`, nil), nil, true},
		{"throttle 17 on 400", response(400, `{"error":{"code":17}}`, nil), nil, true},
		{"throttle with a long wait", response(400, `{"error":{"code":80003}}`, long), nil, false},
		{"transient", response(400, `{"error":{"code":2650,"is_transient":true}}`, nil), nil, true},
		{"expired token", response(400, `{"error":{"code":190,"error_subcode":463,"is_transient":true}}`, nil), nil, false},
		{"invalid parameter", response(400, `{"error":{"code":100}}`, nil), nil, false},
		{"flagged", response(400, `{"error":{"code":100,"error_subcode":1713230}}`, nil), nil, false},
		{"not Graph JSON", response(400, `oops`, nil), nil, false},
	}
	check := checkRetry(time.Minute)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var before string
			if tt.resp != nil {
				b, _ := io.ReadAll(tt.resp.Body)
				before = string(b)
				tt.resp.Body = io.NopCloser(bytes.NewReader(b))
			}
			retry, err := check(context.Background(), tt.resp, tt.err)
			require.NoError(t, err)
			require.Equal(t, tt.retry, retry)
			if tt.resp != nil {
				after, _ := io.ReadAll(tt.resp.Body)
				require.Equal(t, before, string(after), "the body is kept for the caller")
			}
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	retry, err := check(ctx, nil, errors.New("x"))
	require.False(t, retry)
	require.ErrorIs(t, err, context.Canceled)
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	h := http.Header{}
	h.Set(usageHeader, usageJSON(100, 3))
	wait, ok := retrySignal(response(400, "", h), time.Now())
	require.True(t, ok)
	require.Equal(t, 3*time.Minute, retry.Backoff(time.Second, time.Minute, 0, wait, nil))
	wait, ok = retrySignal(response(400, "", nil), time.Now())
	require.False(t, ok)
	got := retry.Backoff(time.Second, time.Minute, 0, wait, nil)
	require.True(t, got >= 500*time.Millisecond && got <= time.Second, "jittered first step, got %s", got)
	h = http.Header{}
	h.Set("Retry-After", "7")
	wait, ok = retrySignal(response(429, "", h), time.Now())
	require.True(t, ok)
	require.Equal(t, 7*time.Second, wait, "Retry-After when the usage header names no wait")
}

func TestClassify(t *testing.T) {
	t.Parallel()
	d := &Destination{tune: defaultTuning(), settings: Settings{AdAccount: "1"}}
	tests := []struct {
		name string
		err  error
		act  connectors.Action
		wait time.Duration
		want string
	}{
		{"expired token", &graphError{Code: 190, Subcode: 463}, connectors.ActionStop, 0, "System users"},
		{"bad proof", &graphError{Code: 100, Message: "Invalid appsecret_proof provided"}, connectors.ActionStop, 0, "app_secret"},
		{"flagged", &graphError{Code: 100, Subcode: 1713230}, connectors.ActionStop, 0, "flagged"},
		{"throttle with regain", &graphError{Code: 80003, regain: 4 * time.Minute}, connectors.ActionRetry, 4 * time.Minute, "rate limit"},
		{"throttle without regain", &graphError{Code: 613}, connectors.ActionRetry, time.Minute, "rate limit"},
		{"transient", &graphError{Code: 2650, Transient: true}, connectors.ActionRetry, 0, ""},
		{"unknown error", &graphError{Code: 1}, connectors.ActionRetry, 0, ""},
		{"permission", &graphError{Code: 200}, connectors.ActionStop, 0, "ads_management"},
		{"old version", &graphError{Code: 2635}, connectors.ActionStop, 0, "api_version"},
		{"gone", &graphError{Code: 100, Subcode: 33}, connectors.ActionStop, 0, "does not exist"},
		{"invalid parameter", &graphError{Code: 100}, connectors.ActionSkipBatch, 0, ""},
		{"no answer", errors.New("connection refused"), connectors.ActionRetry, 0, "connection refused"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := d.classify("upload", tt.err, rejectBatch)
			act, wait := connectors.Classify(err)
			require.Equal(t, tt.act, act)
			require.Equal(t, tt.wait, wait)
			require.ErrorContains(t, err, tt.want)
			require.True(t, strings.HasPrefix(err.Error(), "upload") || strings.Contains(err.Error(), ": upload"), err.Error())
		})
	}
}

func TestScrub(t *testing.T) {
	t.Parallel()
	h := strings.Repeat("ab12", 16)
	require.Equal(t, "bad value [value] in row", scrub("bad value "+h+" in row"))
	require.Equal(t, "address [value] refused", scrub("address jane.doe@example.com refused"))
	require.Equal(t, "Object with ID '23850000000000001' does not exist", scrub("Object with ID '23850000000000001' does not exist"))
	require.Len(t, scrub(strings.Repeat("x ", 400)), 500+len("…"))
}
