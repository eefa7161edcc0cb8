package audience

import (
	"errors"
	"strings"
	"testing"
)

func TestIdentifiersRoundTrip(t *testing.T) {
	t.Parallel()
	hash := strings.Repeat("0123456789abcdef", 4)
	for _, ids := range [][]Identifier{
		nil,
		{{Kind: Email, Value: hash, Hashed: true}},
		{
			{Kind: Email, Value: hash, Hashed: true},
			{Kind: Phone, Value: strings.Repeat("fe", 32), Hashed: true},
			{Kind: FirstName, Value: strings.ToUpper(hash), Hashed: true}, // 64 characters, not lowercase hex
			{Kind: Zip, Value: "10001"},
			{Kind: Country, Value: "US"},
			{Kind: ExternalID, Value: ""},
			{Kind: ExternalID, Value: strings.Repeat("x", 300)}, // a length past one varint byte
			{Kind: LastName, Value: "ab", Hashed: true},
		},
	} {
		packed := EncodeIdentifiers([]byte("prefix"), ids)
		if string(packed[:6]) != "prefix" {
			t.Fatalf("EncodeIdentifiers did not append to dst")
		}
		got, err := DecodeIdentifiers(packed[6:])
		if err != nil {
			t.Fatalf("decode %v: %v", ids, err)
		}
		if len(got) != len(ids) {
			t.Fatalf("decoded %d identifiers, want %d", len(got), len(ids))
		}
		for i := range ids {
			if got[i] != ids[i] {
				t.Errorf("identifier %d: got %+v, want %+v", i, got[i], ids[i])
			}
		}
	}
}

func TestDecodeIdentifiersRefusesCorruptInput(t *testing.T) {
	t.Parallel()
	good := EncodeIdentifiers(nil, []Identifier{{Kind: Email, Value: strings.Repeat("ab", 32), Hashed: true}, {Kind: Zip, Value: "10001"}})
	for name, b := range map[string][]byte{
		"truncated hash":    good[:20],
		"truncated value":   good[:len(good)-1],
		"lone kind byte":    append(append([]byte{}, good...), byte(Email)),
		"invalid kind":      {0, 1},
		"kind out of range": {byte(numKinds), 0, 0},
		"unknown flag":      {byte(Email), 7},
		"bad length":        {byte(Zip), 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01},
	} {
		ids, err := DecodeIdentifiers(b)
		if !errors.Is(err, errCorrupt) || ids != nil {
			t.Errorf("%s: got %v, %v; want errCorrupt", name, ids, err)
		}
	}
}

func FuzzDecodeIdentifiers(f *testing.F) {
	f.Add(EncodeIdentifiers(nil, []Identifier{{Kind: Email, Value: strings.Repeat("ab", 32), Hashed: true}, {Kind: Zip, Value: "10001"}}))
	f.Add([]byte{byte(Zip), 2, 3, 'a', 'b', 'c'})
	f.Fuzz(func(t *testing.T, b []byte) {
		ids, err := DecodeIdentifiers(b)
		if err != nil {
			return
		}
		again, err := DecodeIdentifiers(EncodeIdentifiers(nil, ids))
		if err != nil || len(again) != len(ids) {
			t.Fatalf("re-encoding %v: %v, %d identifiers", ids, err, len(again))
		}
		for i := range ids {
			if again[i] != ids[i] {
				t.Fatalf("identifier %d changed: %+v then %+v", i, ids[i], again[i])
			}
		}
	})
}
