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
// It also counts people, as a platform counts the users it matched: a
// row of an upload (a Meta row, a Google audience member, an X user
// object) is one person however many identifiers it carries, known by its
// first identifier (a Meta row's e-mail before its phone); another row
// with the same first identifier is the same person, and rows that only
// share a later one (two contacts with one phone number) are two. A
// person is counted while the identifier that stands for them is in the
// set. People counts them; Add makes a value a person of its own.
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
	hashes map[[32]byte]uint8 // standsForPerson set: the digest stands for a person
	other  map[[32]byte]span  // by sha256 of the value
	text   [][]byte           // the other values, back to back in chunks
	size   int                // bytes in text
	dead   int                // bytes of text that removed values left

	// people counts the values that stand for a person when counted is
	// set. Changes only clear counted, so adding stays one probe of the
	// map a value; People counts again when asked.
	people  int
	counted bool
}

// standsForPerson is the flag of a digest that stands for a person.
const standsForPerson uint8 = 1

// span locates a value in text; person says it stands for a person.
type span struct {
	chunk, off, n uint32
	person        bool
}

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
		s.set = &set{hashes: map[[32]byte]uint8{}, other: map[[32]byte]span{}, counted: true}
	}
}

// put inserts v, or finds it, and makes it stand for a person when
// person is set; it reports whether v was new.
func (s *set) put(v string, person bool) bool {
	if h, ok := digest(v); ok {
		// One probe of the map, not a lookup and then an insert: in a map
		// of millions each probe is a cache miss. m[k] |= f is a single
		// assignment that inserts 0 when k is absent.
		n := len(s.hashes)
		if person {
			s.hashes[h] |= standsForPerson
			s.counted = false
		} else {
			s.hashes[h] |= 0
		}
		return len(s.hashes) > n
	}
	k := sha256.Sum256([]byte(v))
	sp, in := s.other[k]
	switch {
	case !in:
		sp = s.store(v)
	case person && !sp.person:
	default:
		return false
	}
	sp.person = sp.person || person
	s.other[k] = sp
	s.counted = s.counted && !sp.person
	return !in
}

// Add inserts v as a person of its own (a row of one) and reports
// whether it was new.
func (s *Set) Add(v string) bool {
	s.init()
	return s.put(v, true)
}

// AddRow inserts the values of one row of an upload, one person known by
// its first value, and returns how many values were new.
func (s *Set) AddRow(values []string) int {
	s.init()
	added := 0
	for i, v := range values {
		if s.put(v, i == 0) {
			added++
		}
	}
	return added
}

// Remove deletes v and reports whether it was present; the person it
// stood for, if any, is gone from the set.
func (s *Set) Remove(v string) bool {
	if s.set == nil {
		return false
	}
	if h, ok := digest(v); ok {
		n := len(s.hashes)
		delete(s.hashes, h)
		if len(s.hashes) == n {
			return false
		}
		s.counted = false
		return true
	}
	k := sha256.Sum256([]byte(v))
	sp, ok := s.other[k]
	if !ok {
		return false
	}
	delete(s.other, k)
	s.counted = s.counted && !sp.person
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

// People is the number of persons in the set: the values that stand for
// one. It counts them again after a change, which costs a pass over the
// set, and keeps the figure until the next.
func (s Set) People() int {
	if s.set == nil {
		return 0
	}
	if !s.counted {
		n := 0
		for _, f := range s.hashes {
			if f&standsForPerson != 0 {
				n++
			}
		}
		for _, sp := range s.other {
			if sp.person {
				n++
			}
		}
		s.people, s.counted = n, true
	}
	return s.people
}

// PeopleWhere counts the people whose identifier (the value that stands
// for them) match reports true for: the people a replica matched to
// platform users. It is a pass over the set, as People after a change:
// a caller keeps the figure until the set changes.
func (s Set) PeopleWhere(match func(v string) bool) int {
	if s.set == nil {
		return 0
	}
	n := 0
	var buf [64]byte
	for h, f := range s.hashes {
		if f&standsForPerson == 0 {
			continue
		}
		hex.Encode(buf[:], h[:])
		if match(string(buf[:])) {
			n++
		}
	}
	for _, sp := range s.other {
		if sp.person && match(string(s.value(sp))) {
			n++
		}
	}
	return n
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

// Secondary lists, for a snapshot, the positions in Sorted() of the values
// that stand for no person (a row's identifiers after its first),
// ascending; nil when every value stands for one, as in a set built by
// Add alone.
func (s Set) Secondary() []int {
	if s.set == nil || s.People() == s.Len() {
		return nil
	}
	var out []int
	for i, v := range s.Sorted() {
		if !s.standsForPerson(v) {
			out = append(out, i)
		}
	}
	return out
}

func (s *set) standsForPerson(v string) bool {
	if h, ok := digest(v); ok {
		return s.hashes[h]&standsForPerson != 0
	}
	return s.other[sha256.Sum256([]byte(v))].person
}

// SetOfPeople returns a set holding values, sorted, each a person of its
// own but those at the positions secondary lists (as Secondary wrote
// them).
func SetOfPeople(values []string, secondary []int) (Set, error) {
	for _, i := range secondary {
		if i < 0 || i >= len(values) {
			return Set{}, fmt.Errorf("secondary: position %d is not one of the %d members", i, len(values))
		}
	}
	var s Set
	s.init()
	j := 0
	for i, v := range values {
		second := j < len(secondary) && secondary[j] == i
		if second {
			j++
		}
		s.put(v, !second)
	}
	if j < len(secondary) {
		return Set{}, fmt.Errorf("secondary: positions must be ascending and listed once (at %d)", secondary[j])
	}
	return s, nil
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

// SavedMembers are an audience's members as a replica's snapshot saves
// them; its audience snapshot embeds them, which keeps the keys members
// and secondary at its top level.
type SavedMembers struct {
	// Members are the identifiers, sorted.
	Members []string `json:"members"`
	// Secondary lists the positions in Members of the identifiers that
	// stand for no person of their own (a row's phone after its e-mail:
	// Set.Secondary); every other member is a person. Left out when every
	// identifier is one, as in files written before people were counted.
	Secondary []int `json:"secondary,omitempty"`
}

// Save is s as a snapshot saves it.
func (s Set) Save() SavedMembers { return SavedMembers{Members: s.Sorted(), Secondary: s.Secondary()} }

// Set rebuilds the set that Save saved (SetOfPeople).
func (m SavedMembers) Set() (Set, error) { return SetOfPeople(m.Members, m.Secondary) }
