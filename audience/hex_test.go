package audience

import (
	"encoding/hex"
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
