package normalize

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// printablePrefixByBytes is printablePrefix's definition, a byte at a time.
func printablePrefixByBytes(s string) int {
	n := 0
	for n+8 <= len(s) {
		for _, c := range []byte(s[n : n+8]) {
			if c < 0x20 || c >= 0x7f {
				return n
			}
		}
		n += 8
	}
	return n
}

func TestPrintablePrefix(t *testing.T) {
	t.Parallel()
	base := strings.Repeat("Quinn.Y@Example.com ~", 2)[:24]
	cases := map[string]string{"empty": "", "short": "US", "seven": "O'Young", "one word": "98121-48", "three words": base}
	// Every byte value in every position of three words: the word test
	// must flag exactly the words holding a byte outside 0x20–0x7e,
	// whatever borrows the bytes around it cause.
	for pos := range len(base) {
		for c := range 256 {
			b := []byte(base)
			b[pos] = byte(c)
			cases[string(rune('a'+pos))+string(rune(c))] = string(b)
		}
	}
	// Pairs of bad bytes, and bytes next to the edges of the classes.
	edges := []byte{0x00, 0x09, 0x0d, 0x1f, 0x20, 0x21, 0x7e, 0x7f, 0x80, 0xc3, 0xff}
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		b := []byte(base)
		for range 1 + i%3 {
			b[r.IntN(len(b))] = edges[r.IntN(len(edges))]
		}
		cases["random "+string(rune('a'+i%26))+string(b)] = string(b)
	}
	for name, s := range cases {
		if got, want := printablePrefix(s), printablePrefixByBytes(s); got != want {
			t.Fatalf("%q: printablePrefix(%q) = %d, want %d", name, s, got, want)
		}
	}
}

func TestIsASCIISpace(t *testing.T) {
	t.Parallel()
	for c := range 256 {
		want := strings.IndexByte(" \t\n\v\f\r", byte(c)) >= 0
		if got := isASCIISpace(byte(c)); got != want {
			t.Errorf("isASCIISpace(%#x) = %v, want %v", c, got, want)
		}
	}
}
