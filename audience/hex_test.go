package audience

import (
	"encoding/hex"
	"math/rand/v2"
	"strings"
	"testing"
)

func TestIsHashHex(t *testing.T) {
	t.Parallel()
	valid := "f1f0" + strings.Repeat("0123456789abcdef", 3) + "deadbeef0123"
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{valid, true},
		{strings.Repeat("0", 64), true},
		{strings.ToUpper(valid), false},
		{valid[:63], false},
		{valid + "0", false},
		{valid[:63] + "g", false},
		{valid[:32] + "\x00" + valid[33:], false},
		{valid[:32] + "\xe6" + valid[33:], false},
		{"", false},
	} {
		if got := IsHashHex(tt.in); got != tt.want {
			t.Errorf("IsHashHex(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
	// Every byte value, at the first and the last position.
	for c := range 256 {
		want := '0' <= c && c <= '9' || 'a' <= c && c <= 'f'
		for _, s := range []string{string(byte(c)) + valid[1:], valid[:63] + string(byte(c))} {
			if got := IsHashHex(s); got != want {
				t.Errorf("IsHashHex(%q) = %v, want %v", s, got, want)
			}
		}
	}
}

func TestAppendHash(t *testing.T) {
	t.Parallel()
	valid := "f1f0" + strings.Repeat("0123456789abcdef", 3) + "deadbeef0123"
	want, _ := hex.DecodeString(valid)
	got, ok := appendHash([]byte("x"), valid)
	if !ok || string(got) != "x"+string(want) {
		t.Fatalf("appendHash(%q) = %x, %v", valid, got, ok)
	}
	for c := range 256 {
		ok := '0' <= c && c <= '9' || 'a' <= c && c <= 'f'
		for _, s := range []string{string(byte(c)) + valid[1:], valid[:63] + string(byte(c))} {
			if got, gotOK := appendHash(nil, s); gotOK != ok || (ok && len(got) != 32) {
				t.Errorf("appendHash(%q) = %x, %v; want ok %v", s, got, gotOK, ok)
			}
		}
	}
	if _, ok := appendHash(nil, valid[:62]); ok {
		t.Error("a short value was taken for a hash")
	}
}

// TestAppendHashEveryPosition checks the decoder at
// every position with every byte value, and on random digests against
// encoding/hex.
func TestAppendHashEveryPosition(t *testing.T) {
	t.Parallel()
	valid := "f1f0" + strings.Repeat("0123456789abcdef", 3) + "deadbeef0123"
	for pos := range 64 {
		for c := range 256 {
			s := valid[:pos] + string(byte(c)) + valid[pos+1:]
			want, err := hex.DecodeString(s)
			ok := err == nil && ('0' <= c && c <= '9' || 'a' <= c && c <= 'f')
			got, gotOK := appendHash(nil, s)
			if gotOK != ok || (ok && string(got) != string(want)) {
				t.Fatalf("appendHash with %q at %d = %x, %v; want %x, %v", byte(c), pos, got, gotOK, want, ok)
			}
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10000 {
		var b [32]byte
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		got, ok := appendHash(nil, hex.EncodeToString(b[:]))
		if !ok || string(got) != string(b[:]) {
			t.Fatalf("appendHash(%x) = %x, %v", b, got, ok)
		}
	}
}
