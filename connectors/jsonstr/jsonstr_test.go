package jsonstr_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/connectors/jsonstr"
)

// xBefore is how X's users encoder wrote a string before this package: it
// also sent DEL through encoding/json. Google's and Meta's encoders used
// Append's rule exactly.
func xBefore(s string) []byte {
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			q, _ := json.Marshal(s)
			return q
		}
	}
	return []byte(`"` + s + `"`)
}

func TestAppend(t *testing.T) {
	t.Parallel()
	hash := strings.Repeat("0123456789abcdef", 4)
	tests := []struct {
		name, in, want string
	}{
		{"hash", hash, `"` + hash + `"`},
		{"empty", "", `""`},
		{"postal code", "SW1A 1AA", `"SW1A 1AA"`},
		{"plain punctuation, HTML characters kept", "a<b>&c", `"a<b>&c"`},
		{"quote", `crm "42"`, `"crm \"42\""`},
		{"backslash", `a\b`, `"a\\b"`},
		{"control characters", "a\tb\x01", `"a\tb\u0001"`},
		{"non-ASCII as UTF-8", "straße", `"straße"`},
		{"non-ASCII and HTML characters, as encoding/json writes them", "é<&>", `"é\u003c\u0026\u003e"`},
		{"invalid UTF-8 replaced", "a\xffb", `"a\ufffdb"`},
		{"line separator escaped", "a\u2028b", `"a\u2028b"`},
		{"DEL is plain", "a\x7fb", "\"a\x7fb\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := jsonstr.Append([]byte("x:"), tt.in)
			require.Equal(t, "x:"+tt.want, string(got))
			requireRoundTrip(t, tt.in, got[2:])
			if !strings.ContainsRune(tt.in, 0x7f) {
				require.Equal(t, string(xBefore(tt.in)), string(got[2:]), "the bytes X sent before")
			}
		})
	}
}

// requireRoundTrip checks that out is one valid JSON string that decodes
// to what json.Marshal(in) decodes to.
func requireRoundTrip(t *testing.T, in string, out []byte) {
	t.Helper()
	require.True(t, json.Valid(out), "%q is not valid JSON", out)
	var got, want string
	require.NoError(t, json.Unmarshal(out, &got))
	ref, err := json.Marshal(in)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(ref, &want))
	require.Equal(t, want, got)
}

func FuzzAppend(f *testing.F) {
	for _, s := range []string{"", "abc", `"\`, "\x00\x1f\x7f\x80", "é<&>", "a\xffb", "\u2028\u2029", strings.Repeat("ab", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := jsonstr.Append(nil, s)
		requireRoundTrip(t, s, out)
		// X's old rule wrote a string whose one odd byte is DEL through
		// encoding/json, which escapes '<', '>' and '&': only there may
		// the bytes differ.
		if !strings.ContainsRune(s, 0x7f) || !strings.ContainsAny(s, "<>&") {
			require.Equal(t, string(xBefore(s)), string(out))
		}
	})
}
