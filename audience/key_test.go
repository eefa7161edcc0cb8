package audience

import (
	"crypto/sha256"
	"encoding/hex"
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

// TestFingerprintIsStable pins the bytes a fingerprint hashes: state keeps
// fingerprints across releases, so a change to how they are computed
// would re-send every member. The oracle writes the documented layout
// (per identifier: kind, flag, value, zero; then 0xff and the consent)
// piece by piece.
func TestFingerprintIsStable(t *testing.T) {
	t.Parallel()
	oracle := func(ids []Identifier, c Consent) Fingerprint {
		h := sha256.New()
		for _, id := range ids {
			flag := byte(0)
			if id.Hashed {
				flag = 1
			}
			h.Write([]byte{byte(id.Kind), flag})
			h.Write([]byte(id.Value))
			h.Write([]byte{0})
		}
		h.Write([]byte{0xff, byte(c.AdUserData), byte(c.AdPersonalization)})
		var f Fingerprint
		copy(f[:], h.Sum(nil))
		return f
	}
	long := strings.Repeat("x", 2000) // past the stack buffer
	cases := [][]Identifier{
		nil,
		{{Kind: Email, Value: strings.Repeat("a", 64), Hashed: true}},
		{{Kind: Email, Value: strings.Repeat("b", 64), Hashed: true}, {Kind: Phone, Value: strings.Repeat("c", 64), Hashed: true},
			{Kind: ExternalID, Value: "crm-0001"}},
		{{Kind: ExternalID, Value: long}, {Kind: Zip, Value: "10001"}},
	}
	consents := []Consent{{}, {AdUserData: ConsentGranted, AdPersonalization: ConsentDenied}}
	for i, ids := range cases {
		for _, c := range consents {
			if got, want := FingerprintOf(ids, c), oracle(ids, c); got != want {
				t.Errorf("case %d, consent %v: fingerprint %x, want %x", i, c, got, want)
			}
		}
	}
	// A golden value, so that the oracle and the code cannot drift together.
	got := FingerprintOf(cases[1], consents[1])
	if hex.EncodeToString(got[:]) != goldenFingerprint {
		t.Errorf("fingerprint %x, want %s", got, goldenFingerprint)
	}
}

// goldenFingerprint is FingerprintOf of one hashed e-mail (64 "a"s) with
// ad_user_data granted and ad_personalization denied, as computed before
// the stack-buffer version.
const goldenFingerprint = "ac8dea8fa07ba2d913caf263debbc793"
