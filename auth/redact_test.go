package auth

import (
	"errors"
	"fmt"
	"net/url"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestRedactText: every URL in a message loses its user information,
// query and fragment, wherever it sits and however it is quoted; text
// without a URL is left alone.
func TestRedactText(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, in, want string }{
		{"net/http transport error", `Get "https://graph.example/v25.0/act_1/customaudiences?appsecret_proof=SECRET&fields=id": connection reset`,
			`Get "https://graph.example/v25.0/act_1/customaudiences?REDACTED": connection reset`},
		{"retryablehttp", "POST https://ads.example/12/x?access_token=SECRET giving up after 5 attempt(s)",
			"POST https://ads.example/12/x?REDACTED giving up after 5 attempt(s)"},
		{"user information", "dial https://user:SECRET@proxy.example/v1/x: refused", "dial https://proxy.example/v1/x: refused"},
		{"fragment", "see http://h.example/p#access_token=SECRET now", "see http://h.example/p now"},
		{"two URLs", "a https://a.example/?key=SECRET b 'http://b.example/x?sig=SECRET'", "a https://a.example/?REDACTED b 'http://b.example/x?REDACTED'"},
		{"unparsable", "GET https://h.example/%zz?token=SECRET: bad", "GET https://h.example/%zz?REDACTED bad"},
		{"no URL", "plain text with a://-less colon: ok", "plain text with a://-less colon: ok"},
		{"no query", "GET https://h.example/v1/x: 500", "GET https://h.example/v1/x: 500"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := RedactText(tt.in)
			require.NotContains(t, got, "SECRET")
			require.Equal(t, tt.want, got)
		})
	}
}

// TestRedactError: the redacted error says nothing secret, unwraps to the
// original for errors.Is and errors.As, and the *url.Error inside is
// cleaned too; an error with nothing to redact comes back as it was.
func TestRedactError(t *testing.T) {
	t.Parallel()
	sentinel := errors.New("connection reset")
	ue := &url.Error{Op: "Get", URL: "https://h.example/x?access_token=SECRET", Err: sentinel}
	err := RedactError(fmt.Errorf("facebook: cannot reach facebook server; %w", ue))
	require.NotContains(t, err.Error(), "SECRET")
	require.ErrorIs(t, err, sentinel)
	var got *url.Error
	require.ErrorAs(t, err, &got)
	require.NotContains(t, got.Error(), "SECRET")
	joined := RedactError(errors.Join(errors.New("first"), &url.Error{Op: "Post", URL: "http://u:SECRET@h/?a=SECRET", Err: sentinel}))
	require.NotContains(t, joined.Error(), "SECRET")

	plain := errors.New("no url here")
	require.Same(t, plain, RedactError(plain))
	require.NoError(t, RedactError(nil))
}
