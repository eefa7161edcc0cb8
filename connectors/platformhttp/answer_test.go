package platformhttp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-retryablehttp"
	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/connectors"
)

// acme is a made-up platform's vocabulary.
var acme = Vocabulary{
	Platform: "Acme",
	Describe: func(a *Answer, withMessages bool) string {
		if withMessages {
			return fmt.Sprintf("HTTP %d %s", a.Status, a.Body)
		}
		return fmt.Sprintf("HTTP %d", a.Status)
	},
	Unauthorized: Refusal{Says: "Acme refused the token", Advice: "fetch another"},
	Fatal: []Refusal{
		{Status: http.StatusForbidden, Says: "Acme refused account 7", Advice: "ask for a role"},
		{Status: http.StatusUpgradeRequired, Says: "Acme retired version 3", Advice: "raise api_version"},
	},
	RateLimitNote: "per app",
}

func TestVocabularyError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		voc    Vocabulary
		answer Answer
		action connectors.Action
		wait   time.Duration
		want   string
	}{
		{name: "expired token", voc: acme, answer: Answer{Status: 401, Body: []byte("expired")}, action: connectors.ActionStop,
			want: "upload: Acme refused the token (HTTP 401 expired): fetch another"},
		{name: "refused access", voc: acme, answer: Answer{Status: 403}, action: connectors.ActionStop,
			want: "upload: Acme refused account 7 (HTTP 403 ): ask for a role"},
		{name: "another fatal status", voc: acme, answer: Answer{Status: 426}, action: connectors.ActionStop,
			want: "upload: Acme retired version 3 (HTTP 426 ): raise api_version"},
		{name: "rate limit with Retry-After", voc: acme, answer: Answer{Status: 429, Header: http.Header{"Retry-After": {"7"}}},
			action: connectors.ActionRetry, wait: 7 * time.Second, want: "upload: rate limited by Acme (HTTP 429 ); per app"},
		{name: "rate limit without", voc: Vocabulary{Platform: "Acme", Describe: acme.Describe}, answer: Answer{Status: 429},
			action: connectors.ActionRetry, want: "upload: rate limited by Acme (HTTP 429 )"},
		{name: "rate limit, the platform's wait", voc: Vocabulary{Platform: "Acme", Describe: acme.Describe,
			Wait: func(http.Header, time.Time) (time.Duration, bool) { return time.Hour, true }}, answer: Answer{Status: 429},
			action: connectors.ActionRetry, wait: time.Hour, want: "rate limited by Acme"},
		{name: "server error", voc: acme, answer: Answer{Status: 503, Body: []byte("down")}, action: connectors.ActionRetry,
			want: "upload: Acme is failing (HTTP 503 down); will retry"},
		{name: "bad request with the platform's message", voc: acme, answer: Answer{Status: 400, Body: []byte("name too long")},
			action: connectors.ActionRetry, want: "upload: Acme answered HTTP 400 name too long"},
		{name: "a status no refusal names", voc: acme, answer: Answer{Status: 404}, action: connectors.ActionRetry,
			want: "upload: Acme answered HTTP 404 "},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.voc.Error(&tc.answer, "upload", true)
			require.ErrorContains(t, err, tc.want)
			action, wait := connectors.Classify(err)
			require.Equal(t, tc.action, action)
			require.Equal(t, tc.wait, wait)
		})
	}
}

func TestVocabularyErrorWithoutMessages(t *testing.T) {
	t.Parallel()
	err := acme.Error(&Answer{Status: 400, Body: []byte("value a@example.com")}, "upload", false)
	require.NotContains(t, err.Error(), "example.com", "withMessages false keeps the platform's message out")
}

func TestVocabularyCheck(t *testing.T) {
	t.Parallel()
	missing := Refusal{Says: "Acme has no account 7", Advice: "check account_id"}
	for _, tc := range []struct {
		name   string
		answer *Answer
		err    error
		want   string // "" for nil
		fatal  bool
	}{
		{name: "read", answer: &Answer{Status: 200}},
		{name: "no such account", answer: &Answer{Status: 404, Body: []byte("gone")}, fatal: true,
			want: "check: Acme has no account 7 (HTTP 404 gone): check account_id"},
		{name: "refused token", answer: &Answer{Status: 401}, fatal: true, want: "check: Acme refused the token"},
		{name: "no answer", err: errors.New("connection refused"), want: "check: connection refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := acme.Check("check", tc.answer, tc.err, missing)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.want)
			action, _ := connectors.Classify(err)
			require.Equal(t, tc.fatal, action == connectors.ActionStop)
		})
	}
}

func TestVocabularyDecode(t *testing.T) {
	t.Parallel()
	var v struct{ N int }
	require.NoError(t, acme.Decode(&Answer{Status: 200, Body: []byte(`{"N": 3}`)}, "read", &v))
	require.Equal(t, 3, v.N)
	require.ErrorContains(t, acme.Decode(&Answer{Status: 200, Body: []byte(`<html>`)}, "read", &v),
		"read: Acme answered HTTP 200 with a body that is not the expected JSON")
}

func TestSend(t *testing.T) {
	t.Parallel()
	calls := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.Header().Set("X-Request-Id", "r1")
		switch {
		case r.URL.Path == "/big":
			_, _ = w.Write([]byte(strings.Repeat("x", 11)))
		case calls == 1:
			w.WriteHeader(http.StatusServiceUnavailable)
		default:
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte("refused"))
		}
	}))
	defer srv.Close()
	c := New(Options{MinWait: time.Millisecond, MaxWait: time.Millisecond})
	send := func(ctx context.Context, path string) (*Answer, error) {
		req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, srv.URL+path, nil)
		require.NoError(t, err)
		return c.Send(req, 10, "Acme", "things/{id}")
	}

	a, err := send(context.Background(), "/things/1")
	require.NoError(t, err, "an answer that is not a success is an answer")
	require.Equal(t, http.StatusBadRequest, a.Status)
	require.Equal(t, "refused", string(a.Body))
	require.Equal(t, "r1", a.Header.Get("X-Request-Id"))
	require.Equal(t, 1, a.Retries, "the 503 was retried once")

	_, err = send(context.Background(), "/big")
	require.ErrorContains(t, err, "POST things/{id}: Acme's answer is larger than 10 bytes")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = send(ctx, "/things/1")
	require.ErrorIs(t, err, context.Canceled)

	srv.Close()
	_, err = send(context.Background(), "/things/1")
	require.ErrorContains(t, err, "POST things/{id}: no answer from Acme after retries")
}

func TestCallName(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		path        string
		collections []string
		want        string
	}{
		{"/custom_audiences/1a2b/users", []string{"custom_audiences"}, "custom_audiences/{id}/users"},
		{"/custom_audiences/1a2b", []string{"custom_audiences"}, "custom_audiences/{id}"},
		{"/custom_audiences", []string{"custom_audiences"}, "custom_audiences"},
		{"/lists/42/members/9f3a", []string{"lists", "members"}, "lists/{id}/members/{id}"},
		{"/adAccounts/507404993", []string{"dmpSegments", "adAccounts"}, "adAccounts/{id}"},
		{"/ping", nil, "ping"},
	} {
		require.Equal(t, tc.want, CallName(tc.path, tc.collections...), tc.path)
	}
}
