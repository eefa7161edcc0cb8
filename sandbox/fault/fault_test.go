package fault

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// testTargets are the built-in replicas' targets, as the sandbox collects
// them.
var testTargets = Targets{
	"google": {"ingest", "remove", "removeall", "requeststatus", "userlists"},
	"meta":   {"customaudiences", "audience", "users", "usersreplace"},
	"x":      {"accounts", "custom_audiences", "users"},
}

func TestParse(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		spec string
		ok   bool
	}{
		{"", true},
		{" google.ingest:429*2 , meta.users:613*1, x.users:500@0.1, latency=100ms, seed=7 ", true},
		{"google:exhausted,meta:80003@0.5*3,x.*:reset*1,*:slow=2s*1,google.userlists:ok*2,retry-after=0s,jitter=5ms", true},
		{"meta.users:190", true},
		{"*:401", true},
		{"google.ingest:613", false},     // Meta code on Google
		{"*:17", false},                  // Meta code needs the meta target
		{"x.users:exhausted", false},     // Google only
		{"facebook.users:500", false},    // unknown platform
		{"google.upload:500", false},     // unknown endpoint
		{"google.ingest:418", false},     // not a fault status
		{"google.ingest:teapot", false},  // unknown kind
		{"google.ingest:500*0", false},   // count must be positive
		{"google.ingest:500@1.5", false}, // probability out of range
		{"google.ingest:slow=fast", false},
		{"latency=soon", false},
		{"speed=1", false},
		{"garbage", false},
	} {
		_, err := ParseFor(tc.spec, testTargets)
		if tc.ok {
			require.NoError(t, err, tc.spec)
		} else {
			require.Error(t, err, tc.spec)
		}
	}
}

func TestScriptsRunInOrder(t *testing.T) {
	t.Parallel()
	in := MustParse("google.ingest:ok*2,google.ingest:503*1,google.ingest:429*2,meta.users:613*1,retry-after=4s")
	var got []string
	for range 6 {
		f, ok := in.Next("google", "ingest")
		switch {
		case !ok:
			got = append(got, "pass")
		case f.Kind == Status:
			got = append(got, http.StatusText(f.Status))
			require.Equal(t, 4*time.Second, f.RetryAfter)
		}
	}
	require.Equal(t, []string{"pass", "pass", "Service Unavailable", "Too Many Requests", "Too Many Requests", "pass"}, got)
	_, ok := in.Next("google", "remove")
	require.False(t, ok, "rules only match their endpoint")
	f, ok := in.Next("meta", "users")
	require.True(t, ok)
	require.Equal(t, Fault{Kind: Code, Code: 613, RetryAfter: 4 * time.Second, Rule: "meta.users:613*1"}, f)
	require.Equal(t, map[string]int{
		"google.ingest:ok*2": 2, "google.ingest:503*1": 1, "google.ingest:429*2": 2, "meta.users:613*1": 1,
	}, in.Fired())

	require.NoError(t, in.Load("google.ingest:503*1"))
	_, ok = in.Next("google", "ingest")
	require.True(t, ok, "Load re-arms")
}

func TestKinds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		spec, platform string
		want           Fault
	}{
		{"meta:expired", "meta", Fault{Kind: Expired, Code: 190}},
		{"meta:401", "meta", Fault{Kind: Expired, Code: 190}},
		{"google:401", "google", Fault{Kind: Expired}},
		{"meta:ratelimit", "meta", Fault{Kind: Code, Code: 80003}},
		{"x:ratelimit", "x", Fault{Kind: Status, Status: 429}},
		{"google:exhausted", "google", Fault{Kind: Status, Status: 429}},
		{"meta:80014", "meta", Fault{Kind: Code, Code: 80014}},
		{"*:reset", "x", Fault{Kind: Reset}},
		{"x.users:lost*1", "x", Fault{Kind: Lost}},
		{"*:slow=250ms", "x", Fault{Kind: Delay, Delay: 250 * time.Millisecond}},
	} {
		f, ok := MustParse(tc.spec).Next(tc.platform, "users")
		require.True(t, ok, tc.spec)
		f.Rule, f.RetryAfter = "", 0
		require.Equal(t, tc.want, f, tc.spec)
	}
}

func TestProbabilityIsSeeded(t *testing.T) {
	t.Parallel()
	run := func(seed string) []bool {
		in := MustParse("x.users:500@0.3,seed=" + seed)
		out := make([]bool, 200)
		for i := range out {
			_, out[i] = in.Next("x", "users")
		}
		return out
	}
	a, b := run("7"), run("7")
	require.Equal(t, a, b, "same seed, same faults")
	require.NotEqual(t, a, run("8"))
	fired := 0
	for _, v := range a {
		if v {
			fired++
		}
	}
	require.InDelta(t, 60, fired, 25)
}

func TestNilInjectorInjectsNothing(t *testing.T) {
	t.Parallel()
	var in *Injector
	_, ok := in.Next("google", "ingest")
	require.False(t, ok)
	require.Zero(t, in.Latency())
	require.Empty(t, in.String())
	require.False(t, in.Intercept(httptest.NewRecorder(), httptest.NewRequest("GET", "/", nil), "x", "users", nil))
}

type plainRenderer struct{}

func (plainRenderer) RenderFault(w http.ResponseWriter, _ *http.Request, f Fault) {
	w.WriteHeader(f.Status)
}

func serve(t *testing.T, in *Injector) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if in.Intercept(w, r, "x", "users", plainRenderer{}) {
			return
		}
		_, _ = io.WriteString(w, "ok")
	}))
	t.Cleanup(ts.Close)
	return ts
}

func TestInterceptOverHTTP(t *testing.T) {
	t.Parallel()
	in := MustParse("x.users:reset*1,x.users:503*1,x.users:slow=50ms*1,latency=10ms")
	ts := serve(t, in)

	_, err := http.Get(ts.URL)
	require.Error(t, err, "a reset connection gives the client no response")
	require.True(t, errors.Is(err, syscall.ECONNRESET) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF), "got %v", err)

	res, err := http.Get(ts.URL)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 503, res.StatusCode)

	start := time.Now()
	res, err = http.Get(ts.URL)
	require.NoError(t, err)
	res.Body.Close()
	require.Equal(t, 200, res.StatusCode, "a slow request is still served")
	require.GreaterOrEqual(t, time.Since(start), 60*time.Millisecond)
}

// TestLostOverHTTP: a lost request is served to the end — the work is
// done — and the client still gets no answer. Without Serve it is dropped
// unserved.
func TestLostOverHTTP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		through func(http.Handler) http.Handler
		served  int
	}{
		{"through Handler", Handler, 2},
		{"without Handler", func(h http.Handler) http.Handler { return h }, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := MustParse("x.users:ok*1,x.users:lost*1")
			var served atomic.Int32
			ts := httptest.NewServer(tt.through(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if in.Intercept(w, r, "x", "users", plainRenderer{}) {
					return
				}
				served.Add(1)
				w.Header().Set("X-Done", "1")
				w.WriteHeader(http.StatusCreated)
				_, _ = io.WriteString(w, "applied")
			})))
			t.Cleanup(ts.Close)

			res, err := http.Get(ts.URL)
			require.NoError(t, err)
			res.Body.Close()
			require.Equal(t, http.StatusCreated, res.StatusCode, "the first request passes")

			_, err = http.Get(ts.URL)
			require.Error(t, err, "a lost answer never reaches the client")
			require.Equal(t, int32(tt.served), served.Load())
			require.Equal(t, map[string]int{"x.users:ok*1": 1, "x.users:lost*1": 1}, in.Fired())
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Add("google.ingest:429*2,meta.users:613*1,x.users:500@0.1,latency=100ms,seed=7")
	f.Add("*:slow=1s*1@0.5")
	f.Add("meta:80003,retry-after=0s")
	f.Fuzz(func(t *testing.T, spec string) {
		in, err := ParseFor(spec, testTargets)
		if err != nil {
			return
		}
		for _, p := range []string{"google", "meta", "x"} {
			in.Next(p, "users")
		}
	})
}

func TestRestrictChecksTargets(t *testing.T) {
	t.Parallel()
	in := MustParse("acme.upload:500*1")
	require.Error(t, in.Restrict(testTargets), "acme is no replica's platform")
	require.Equal(t, "acme.upload:500*1", in.String(), "a refused restriction changes nothing")

	in = MustParse("google.ingest:503*1")
	require.NoError(t, in.Restrict(testTargets))
	err := in.Load("google.upload:503*1")
	require.ErrorContains(t, err, `unknown google endpoint "upload"`)
	require.ErrorContains(t, in.Load("tiktok:500"), "known: google, meta, x, or * for all")
	require.Equal(t, "google.ingest:503*1", in.String(), "the spec in force stays")

	// A platform without named endpoints takes platform-wide rules only.
	_, err = ParseFor("acme:500*1,acme.*:reset", Targets{"acme": nil})
	require.NoError(t, err)
	_, err = ParseFor("acme.users:500", Targets{"acme": nil})
	require.Error(t, err)
}
