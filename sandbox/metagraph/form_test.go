package metagraph

import (
	"bytes"
	"io"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// formCases are form bodies near the edge of what parseCleanForm reads.
// clean says whether it should answer for one itself.
var formCases = []struct {
	name  string
	body  string
	clean bool
}{
	{"empty", "", true},
	{"one pair", "a=1", true},
	{"repeated key", "a=1&b=2&a=3", true},
	{"empty pairs", "&&a=1&&", true},
	{"no value", "a&b=", true},
	{"empty key", "=1", true},
	{"second equals sign", "a=b=c", true},
	{"escapes", "k%5B%5D=%7B%22a%22%3A%5B1%5D%7D&%41=%e2%82%ac", true},
	{"plus signs", "a+b=c+d+%2B+", true},
	{"plus and escapes interleaved", "v=%22+%22++%2C%2C+x", true},
	{"escaped semicolon", "a%3Bb=1", true},
	{"escaped separators", "a=%26%3D", true},
	{"raw non-ASCII", "a=\xe2\x82\xac\xff", true},
	{"control bytes", "a=\x00\n", true},
	{"as many parameters as are probed", strings.Repeat("a=1&", len(probeParams)) + "b=2", true},

	{"semicolon", "a=1;b=2", false},
	{"semicolon in a value", "a=1&b=x;y", false},
	{"lone semicolon", ";", false},
	{"bad escape", "a=%zz", false},
	{"bad escape in a key", "%g1=1", false},
	{"short escape", "a=%4", false},
	{"percent at the end", "a=%", false},
	{"escape cut by a separator", "a=%4&1=2", false},
	{"more parameters than probed", strings.Repeat("a=1&", len(probeParams)+1) + "b=2", false},
	{"more parameters than allowed", strings.Repeat("&", 10000), false},
}

// parseForm gives what url.ParseQuery gives, values and error alike.
func TestParseFormMatchesParseQuery(t *testing.T) {
	t.Parallel()
	for _, tt := range formCases {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, clean := parseCleanForm([]byte(tt.body))
			require.Equal(t, tt.clean, clean)
			sameAsParseQuery(t, tt.body)
		})
	}
	t.Run("huandu/facebook body", func(t *testing.T) {
		t.Parallel()
		body := usersBody(t, 50)
		_, clean := parseCleanForm(body)
		require.True(t, clean)
		sameAsParseQuery(t, string(body))
	})
}

// The parameter limit is a GODEBUG setting, read when the body is parsed.
func TestParseFormParameterLimit(t *testing.T) {
	t.Setenv("GODEBUG", "urlmaxqueryparams=3")
	_, err := parseForm([]byte("a=1&b=2&c=3"))
	require.EqualError(t, err, "number of URL query parameters exceeded limit")
	sameAsParseQuery(t, "a=1&b=2")
	sameAsParseQuery(t, "a=1&b=2&c=3")
}

// sameAsParseQuery checks parseForm against url.ParseQuery, and
// unescapeQuery against url.QueryUnescape, on body.
func sameAsParseQuery(t *testing.T, body string) {
	t.Helper()
	unescaped, ok := unescapeQuery([]byte(body))
	wantUnescaped, err := url.QueryUnescape(body)
	require.Equal(t, err == nil, ok)
	require.Equal(t, wantUnescaped, unescaped)

	want, wantErr := url.ParseQuery(body)
	got, err := parseForm([]byte(body))
	if wantErr != nil {
		require.EqualError(t, err, wantErr.Error())
		return
	}
	require.NoError(t, err)
	require.Equal(t, want, got)
}

func FuzzParseForm(f *testing.F) {
	for _, tt := range formCases {
		f.Add(tt.body)
	}
	f.Fuzz(func(t *testing.T, body string) {
		sameAsParseQuery(t, body)
	})
}

// readBody reads the whole body whether Content-Length is right, missing
// or wrong.
func TestReadBody(t *testing.T) {
	t.Parallel()
	body := strings.Repeat("payload=x&", 1000)
	for _, tt := range []struct {
		name   string
		length int64
	}{
		{"right", int64(len(body))},
		{"unknown", -1},
		{"zero", 0},
		{"too small", 10},
		{"too large", int64(len(body)) * 3},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := httptest.NewRequest("POST", "/", io.NopCloser(bytes.NewReader([]byte(body))))
			r.ContentLength = tt.length
			var buf bytes.Buffer
			require.True(t, readBody(&buf, r))
			require.Equal(t, body, buf.String())
		})
	}
}
