package wire

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"slices"
)

// Set is a set of identifier values: an audience's membership in a
// replica. The zero value is an empty set ready to use; a copy shares its
// contents.
//
// It also knows which values belong to one person, as a platform does
// once it matches an upload: the identifiers of one row of a multi-key
// upload (an e-mail and a phone of one Meta row, the userIdentifiers of
// one Google audience member, one X user object) are one person, and so
// is any later row sharing one of them. People counts the persons with an
// identifier still in the set, which is what platforms report as an
// audience's size. Add alone makes each value a person of its own.
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
	hashes map[[32]byte]uint32 // the person of each digest
	other  map[[32]byte]span   // by sha256 of the value
	text   [][]byte            // the other values, back to back in chunks
	size   int                 // bytes in text
	dead   int                 // bytes of text that removed values left

	// Persons are numbered from 0 and merged as rows join them: parent is
	// a union-find forest (a root is its own parent), live counts at a
	// root the person's values in the set, people the roots with live > 0.
	parent []uint32
	live   []uint32
	people int
}

// span locates a value in text, and names its person.
type span struct{ chunk, off, n, person uint32 }

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
		s.set = &set{hashes: map[[32]byte]uint32{}, other: map[[32]byte]span{}}
	}
}

// newPerson numbers a person with no value yet.
func (s *set) newPerson() uint32 {
	if len(s.parent) >= math.MaxUint32 {
		panic("wire: a replica's audience has seen more persons than it can number")
	}
	p := uint32(len(s.parent))
	s.parent = append(s.parent, p)
	s.live = append(s.live, 0)
	return p
}

// root finds the person p was merged into, halving the path on the way.
func (s *set) root(p uint32) uint32 {
	for s.parent[p] != p {
		s.parent[p] = s.parent[s.parent[p]]
		p = s.parent[p]
	}
	return p
}

// merge makes b's person part of a's; both are roots.
func (s *set) merge(a, b uint32) {
	if a == b {
		return
	}
	if s.live[a] > 0 && s.live[b] > 0 {
		s.people--
	}
	s.parent[b] = a
	s.live[a] += s.live[b]
	s.live[b] = 0
}

// counted notes one more value of root person p.
func (s *set) counted(p uint32) {
	if s.live[p] == 0 {
		s.people++
	}
	s.live[p]++
}

// insert adds v, known to be absent, as a value of person p (a root).
func (s *set) insert(v string, p uint32) {
	if h, ok := digest(v); ok {
		s.hashes[h] = p
	} else {
		sp := s.store(v)
		sp.person = p
		s.other[sha256.Sum256([]byte(v))] = sp
	}
	s.counted(p)
}

// person returns the root person of v, if v is in the set.
func (s *set) person(v string) (uint32, bool) {
	var p uint32
	var ok bool
	if h, isHash := digest(v); isHash {
		p, ok = s.hashes[h]
	} else {
		var sp span
		sp, ok = s.other[sha256.Sum256([]byte(v))]
		p = sp.person
	}
	if !ok {
		return 0, false
	}
	return s.root(p), true
}

// Add inserts v, a person of its own unless a row joins it to others,
// and reports whether it was new.
func (s *Set) Add(v string) bool {
	s.init()
	if _, ok := s.person(v); ok {
		return false
	}
	s.insert(v, s.newPerson())
	return true
}

// AddRow inserts the values of one row of an upload as one person: with
// any person a value already belongs to, and those persons become one. It
// returns how many values were new.
func (s *Set) AddRow(values []string) int {
	s.init()
	p, found := uint32(0), false
	// present marks the values found in the set (bit i for values[i]; a
	// row holds a handful), so each is looked up once.
	var present uint64
	for i, v := range values {
		q, ok := s.person(v)
		if !ok {
			continue
		}
		if i < 64 {
			present |= 1 << i
		}
		if found {
			s.merge(p, q) // p stays the root of the row's person
		} else {
			p, found = q, true
		}
	}
	if !found {
		p = s.newPerson()
	}
	added := 0
	for i, v := range values {
		var in bool
		if i < 64 {
			in = present&(1<<i) != 0 || slices.Contains(values[:i], v) // a value the row repeats is in by now
		} else {
			_, in = s.person(v)
		}
		if !in {
			s.insert(v, p)
			added++
		}
	}
	return added
}

// Remove deletes v and reports whether it was present. The person v
// belonged to stays while another of its values is in the set.
func (s *Set) Remove(v string) bool {
	if s.set == nil {
		return false
	}
	var p uint32
	if h, ok := digest(v); ok {
		q, in := s.hashes[h]
		if !in {
			return false
		}
		delete(s.hashes, h)
		p = q
	} else {
		k := sha256.Sum256([]byte(v))
		sp, ok := s.other[k]
		if !ok {
			return false
		}
		delete(s.other, k)
		p = sp.person
		s.dead += int(sp.n)
		if s.dead > s.size/2 && s.dead > textChunk {
			s.compact()
		}
	}
	r := s.root(p)
	s.live[r]--
	if s.live[r] == 0 {
		s.people--
	}
	return true
}

// compact rewrites text without the bytes of removed values.
func (s *set) compact() {
	old := &set{text: s.text}
	s.text, s.size, s.dead = nil, 0, 0
	for k, sp := range s.other {
		moved := s.store(string(old.value(sp)))
		moved.person = sp.person
		s.other[k] = moved
	}
}

// Len is the number of values in the set.
func (s Set) Len() int {
	if s.set == nil {
		return 0
	}
	return len(s.hashes) + len(s.other)
}

// People is the number of persons with a value in the set.
func (s Set) People() int {
	if s.set == nil {
		return 0
	}
	return s.people
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

// Together says which values are one person, for a snapshot: for each
// person with more than one value in the set, the positions of its values
// in Sorted(), ascending; the persons in the order of their first value.
// Values of a person of their own are left out, so a set built by Add
// alone has nothing to say (nil).
func (s Set) Together() [][]int {
	if s.set == nil {
		return nil
	}
	byRoot := map[uint32][]int{}
	var order []uint32
	for i, v := range s.Sorted() {
		p, _ := s.person(v)
		if _, seen := byRoot[p]; !seen {
			order = append(order, p)
		}
		byRoot[p] = append(byRoot[p], i)
	}
	var out [][]int
	for _, p := range order {
		if g := byRoot[p]; len(g) > 1 {
			out = append(out, g)
		}
	}
	return out
}

// SetOfPeople returns a set holding values, sorted, with the persons
// together names (as Together wrote them) joined again; any other value
// is a person of its own.
func SetOfPeople(values []string, together [][]int) (Set, error) {
	s := SetOf(values)
	for _, g := range together {
		row := make([]string, len(g))
		for j, i := range g {
			if i < 0 || i >= len(values) {
				return Set{}, fmt.Errorf("people: position %d is not one of the %d members", i, len(values))
			}
			row[j] = values[i]
		}
		s.AddRow(row)
	}
	return s, nil
}
