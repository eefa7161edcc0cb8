package platformhttp

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

type closeCounter struct {
	io.Reader
	closed int
}

func (c *closeCounter) Close() error { c.closed++; return nil }

type failingReader struct{}

func (failingReader) Read([]byte) (int, error) { return 0, errors.New("connection reset") }

func TestPeekBody(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		body     string
		limit    int64
		wantPeek string
	}{
		{"shorter than the limit", `{"error":{"code":17}}`, 1 << 10, `{"error":{"code":17}}`},
		{"longer than the limit", "0123456789", 4, "0123"},
		{"empty", "", 16, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			body := &closeCounter{Reader: strings.NewReader(tt.body)}
			resp := &http.Response{Body: body}
			peek, err := PeekBody(resp, tt.limit)
			require.NoError(t, err)
			require.Equal(t, tt.wantPeek, string(peek))
			rest, err := io.ReadAll(resp.Body)
			require.NoError(t, err)
			require.Equal(t, tt.body, string(rest), "the whole body is still there to read")
			require.NoError(t, resp.Body.Close())
			require.Equal(t, 1, body.closed, "closing closes the original body")
		})
	}
}

func TestPeekBodyWithoutBodyOrFailing(t *testing.T) {
	t.Parallel()
	peek, err := PeekBody(nil, 10)
	require.NoError(t, err)
	require.Nil(t, peek)
	peek, err = PeekBody(&http.Response{}, 10)
	require.NoError(t, err)
	require.Nil(t, peek)
	_, err = PeekBody(&http.Response{Body: io.NopCloser(failingReader{})}, 10)
	require.EqualError(t, err, "connection reset")
}

func TestUnwrapURL(t *testing.T) {
	t.Parallel()
	inner := errors.New("connection refused")
	tests := []struct {
		name string
		err  error
		want error
	}{
		{"nil", nil, nil},
		{"plain", inner, inner},
		{"url error", &url.Error{Op: "Get", URL: "https://api.example.com/x?token=secret", Err: inner}, inner},
		{"wrapped url error", fmt.Errorf("list: %w", &url.Error{Op: "Get", URL: "https://h/", Err: inner}), inner},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tt.want, UnwrapURL(tt.err))
		})
	}
}
