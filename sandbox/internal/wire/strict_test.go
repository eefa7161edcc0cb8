package wire

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

type inner struct {
	Name string `json:"name"`
}

type outer struct {
	Items []inner           `json:"items"`
	Ptr   *inner            `json:"ptr"`
	Map   map[string]inner  `json:"map"`
	Raw   json.RawMessage   `json:"raw"`
	Count int               `json:"count"`
	Tags  map[string]string `json:"tags"`
}

func TestDecodeStrict(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in, path string
		unknown, ok    bool
	}{
		{name: "valid", in: `{"items":[{"name":"a"}],"ptr":{"name":"b"},"raw":{"anything":1},"count":2}`, ok: true},
		{name: "null fields", in: `{"items":null,"ptr":null}`, ok: true},
		{name: "unknown top level", in: `{"itemz":[]}`, unknown: true},
		{name: "wrong case", in: `{"Items":[]}`, unknown: true},
		{name: "unknown nested in list", in: `{"items":[{"name":"a"},{"nmae":"b"}]}`, path: "items[1]", unknown: true},
		{name: "unknown in pointer", in: `{"ptr":{"Name":"b"}}`, path: "ptr", unknown: true},
		{name: "unknown in map value", in: `{"map":{"k":{"x":1}}}`, path: "map.k", unknown: true},
		{name: "type mismatch", in: `{"count":"2"}`, path: "count"},
		{name: "trailing data", in: `{"count":2} {}`},
		{name: "not JSON", in: `{"count":`},
		{name: "known name at the wrong level", in: `{"name":"a"}`, unknown: true},
		{name: "wrong case inside a value-escaped body", in: `{"items":[{"name":"a\"b"},{"Name":"c"}]}`, path: "items[1]", unknown: true},
		{name: "escaped value is fine", in: `{"items":[{"name":"a\"b"}]}`, ok: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var v outer
			err := DecodeStrict([]byte(tc.in), &v)
			if tc.ok {
				require.NoError(t, err)
				return
			}
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, tc.unknown, fe.Unknown)
			if tc.path != "" {
				require.Equal(t, tc.path, fe.Path)
			}
		})
	}
}

func TestIsSHA256Hex(t *testing.T) {
	t.Parallel()
	require.True(t, IsSHA256Hex("49e0be2aeccfb51a8dee4c945c8a70a9ac500cf6f5cb08112575f74db9b1470d"))
	require.False(t, IsSHA256Hex("49E0BE2AECCFB51A8DEE4C945C8A70A9AC500CF6F5CB08112575F74DB9B1470D"))
	require.False(t, IsSHA256Hex("49e0be2aeccfb51a8dee4c945c8a70a9ac500cf6f5cb08112575f74db9b1470"))
	require.False(t, IsSHA256Hex("adsapi"))
	valid := "49e0be2aeccfb51a8dee4c945c8a70a9ac500cf6f5cb08112575f74db9b1470d"
	for c := range 256 {
		want := '0' <= c && c <= '9' || 'a' <= c && c <= 'f'
		require.Equal(t, want, IsSHA256Hex(string(byte(c))+valid[1:]), "first byte %#x", c)
		require.Equal(t, want, IsSHA256Hex(valid[:63]+string(byte(c))), "last byte %#x", c)
	}
	require.True(t, Matches("00ff", 1))
	require.False(t, Matches("ff00", 0xB3))
}

func FuzzDecodeStrict(f *testing.F) {
	f.Add(`{"items":[{"name":"a"}],"count":1}`)
	f.Add(`{"Items":[]}`)
	f.Add(`[1,2]`)
	f.Fuzz(func(t *testing.T, in string) {
		var v outer
		if err := DecodeStrict([]byte(in), &v); err != nil {
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
		}
	})
}
