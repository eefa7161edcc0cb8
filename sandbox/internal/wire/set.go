package wire

import (
	"crypto/sha256"
	"encoding/hex"
	"math"
	"slices"
)

// Set is a set of identifier values: an audience's membership in a
// replica. The zero value is an empty set ready to use; a copy shares its
// contents.
//
// A replica may hold millions of members in the process of the client it
// serves, so the set holds no pointers for the garbage collector to trace:
// a value that is a SHA-256 digest in lowercase hex (nearly every value) is
// kept as its 32 bytes, and any other value (an address, a prefixed id) in
// one shared byte buffer, found by the SHA-256 of the value.
type Set struct {
	*set
}

type set struct {
	hashes map[[32]byte]struct{}
	other  map[[32]byte]span // by sha256 of the value
	text   [][]byte          // the other values, back to back in chunks
	size   int               // bytes in text
	dead   int               // bytes of text that removed values left
}

// span locates a value in text.
type span struct{ chunk, off, n uint32 }

// textChunk is the size of a chunk of text: text grows a chunk at a time
// rather than by copying everything it holds.
const textChunk = 1 << 20

func (s *set) value(sp span) []byte { return s.text[sp.chunk][sp.off : sp.off+sp.n] }

// store appends v to text and says where it is.
func (s *set) store(v string) span {
	last := len(s.text) - 1
	if last < 0 || cap(s.text[last])-len(s.text[last]) < len(v) {
		s.text = append(s.text, make([]byte, 0, max(textChunk, len(v))))
		last++
	}
	if last > math.MaxUint32 || len(v) > math.MaxUint32 {
		panic("wire: a replica's audience holds more identifiers that are not hashes than it can index")
	}
	sp := span{chunk: uint32(last), off: uint32(len(s.text[last])), n: uint32(len(v))}
	s.text[last] = append(s.text[last], v...)
	s.size += len(v)
	return sp
}

func (s *Set) init() {
	if s.set == nil {
		s.set = &set{hashes: map[[32]byte]struct{}{}, other: map[[32]byte]span{}}
	}
}

// Add inserts v and reports whether it was new.
func (s *Set) Add(v string) bool {
	s.init()
	if h, ok := digest(v); ok {
		// One probe of the map, not a lookup and then an insert: in a map
		// of millions each probe is a cache miss.
		n := len(s.hashes)
		s.hashes[h] = struct{}{}
		return len(s.hashes) > n
	}
	k := sha256.Sum256([]byte(v))
	if _, dup := s.other[k]; dup {
		return false
	}
	s.other[k] = s.store(v)
	return true
}

// Remove deletes v and reports whether it was present.
func (s *Set) Remove(v string) bool {
	if s.set == nil {
		return false
	}
	if h, ok := digest(v); ok {
		n := len(s.hashes)
		delete(s.hashes, h)
		return len(s.hashes) < n
	}
	k := sha256.Sum256([]byte(v))
	sp, ok := s.other[k]
	if !ok {
		return false
	}
	delete(s.other, k)
	s.dead += int(sp.n)
	if s.dead > s.size/2 && s.dead > textChunk {
		s.compact()
	}
	return true
}

// compact rewrites text without the bytes of removed values.
func (s *set) compact() {
	old := &set{text: s.text}
	s.text, s.size, s.dead = nil, 0, 0
	for k, sp := range s.other {
		s.other[k] = s.store(string(old.value(sp)))
	}
}

// Len is the number of values in the set.
func (s Set) Len() int {
	if s.set == nil {
		return 0
	}
	return len(s.hashes) + len(s.other)
}

// Sorted returns the values in ascending order.
func (s Set) Sorted() []string {
	if s.set == nil {
		return []string{}
	}
	out := make([]string, 0, s.Len())
	for h := range s.hashes {
		out = append(out, hex.EncodeToString(h[:]))
	}
	for _, sp := range s.other {
		out = append(out, string(s.value(sp)))
	}
	slices.Sort(out)
	return out
}

// SetOf returns a set holding values, for rebuilding a membership from a
// saved snapshot.
func SetOf(values []string) Set {
	var s Set
	s.init()
	for _, v := range values {
		s.Add(v)
	}
	return s
}

// digest decodes v when it is a SHA-256 digest in lowercase hex; only that
// spelling, so that the value read back is the value added.
func digest(v string) (h [32]byte, ok bool) {
	if !IsSHA256Hex(v) {
		return h, false
	}
	_, err := hex.Decode(h[:], []byte(v))
	return h, err == nil
}
