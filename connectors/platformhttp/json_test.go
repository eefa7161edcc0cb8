package platformhttp

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNewJSONRequest(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		in          any
		body        string
		contentType string
	}{
		{"no body", nil, "", ""},
		{"JSON body", map[string]int{"a": 1}, `{"a":1}`, "application/json"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			req, err := NewJSONRequest(context.Background(), http.MethodPost, "https://api.example.com/v1/x", tt.in)
			require.NoError(t, err)
			require.Equal(t, "application/json", req.Header.Get("Accept"))
			require.Equal(t, tt.contentType, req.Header.Get("Content-Type"))
			got, err := req.BodyBytes()
			require.NoError(t, err)
			require.Equal(t, tt.body, string(got))
		})
	}
	_, err := NewJSONRequest(context.Background(), http.MethodPost, "https://api.example.com/", func() {})
	require.ErrorContains(t, err, "encode the request body")
}

func TestReadAnswer(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body io.Reader
		want string
		err  string
	}{
		{"under the limit", strings.NewReader("abc"), "abc", ""},
		{"at the limit", strings.NewReader("abcd"), "abcd", ""},
		{"over the limit", strings.NewReader("abcde"), "", "Example's answer is larger than 4 bytes"},
		{"read error", failingReader{}, "", "read Example's answer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ReadAnswer(&http.Response{Body: io.NopCloser(tt.body)}, 4, "Example")
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, string(got))
		})
	}
}
