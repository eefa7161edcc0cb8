package engine

import (
	"bufio"
	"cmp"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/audiencesync/audiencesync/audience"
)

// A streaming plan (stream.go) cannot keep every source key in a map to
// drop repeated records, so the collector uses keyDedup: a fixed-size
// filter of the keys seen so far (16 MB whatever the audience), and an
// exact record of them, (key hash, data hash) pairs sorted in runs on
// disk. A record whose key the filter has never seen is new for sure and
// goes on at once; one the filter may have seen (a true repeat, or one
// record in a few hundred at 10M members by chance) is held back in
// memory, and held records are settled against the exact record in one
// sequential pass, at the end of the read or when too many are held. The
// outcome is the in-memory map's exactly: the first record of a key wins,
// a later one with the same data is a duplicate, with other data a
// conflict. Held records reach the planners later than their turn, which
// only a keyless member could notice, and a keyless member is never held.

const (
	// filterBits is the size of keyDedup's filter, in bits (16 MB): three
	// bits a key, in one word, give about 1% false positives at 10M keys.
	filterBits = 1 << 27
	// heldLimit is how many held records are settled at once.
	heldLimit = 1 << 16
	// seenRun is how many pairs of the exact record stay in memory before
	// they are sorted and written as a run.
	seenRun = 1 << 20
)

type keyDedup struct {
	filter []uint64
	words  uint64 // len(filter) - 1
	held   []heldRecord
	// limit is how many held records are settled at once (heldLimit; less
	// in tests).
	limit int
	seen  pairRuns
}

// heldRecord is a record held back until the exact record says whether
// its key was seen.
type heldRecord struct {
	m       audience.Member
	key     audience.MemberKey
	k, data uint64
}

// newKeyDedup makes a keyDedup whose filter has bits bits (a power of two,
// at least 64) and whose exact record keeps run pairs in memory.
func newKeyDedup(dir string, bits, limit, run int) *keyDedup {
	return &keyDedup{filter: make([]uint64, bits/64), words: uint64(bits/64 - 1), limit: limit, seen: pairRuns{dir: dir, run: run}}
}

// mark is k's word in the filter and the three bits of that word that
// stand for k, a hash already: one word a key, so that asking and
// noting cost one cache miss where three bits anywhere in 16 MB cost
// three each, for slightly more false positives (about 1.1% at 10M keys
// rather than 0.8%), which settle finds out exactly anyway.
func (d *keyDedup) mark(k uint64) (word int, bits uint64) {
	return int((k >> 6) & d.words), 1<<(k>>40&63) | 1<<(k>>46&63) | 1<<(k>>52&63)
}

func (d *keyDedup) maybeSeen(k uint64) bool {
	w, bits := d.mark(k)
	return d.filter[w]&bits == bits
}

// note records k as seen, with the hash of its first record's data.
func (d *keyDedup) note(k, data uint64) error {
	w, bits := d.mark(k)
	d.filter[w] |= bits
	return d.seen.add(pair{k, data})
}

func (d *keyDedup) close() { d.seen.close() }

// hold keeps m until the next settle; the source may reuse m's attribute
// values once Emit returns, so they are copied.
func (d *keyDedup) hold(m *audience.Member, key audience.MemberKey, k, data uint64) {
	h := heldRecord{m: *m, key: key, k: k, data: data}
	h.m.Attrs = slices.Clone(m.Attrs)
	d.held = append(d.held, h)
}

// settle decides the held records in the order they were read, calling
// accept for each first record of its key and repeat for the others
// (same: the same data as the first).
func (d *keyDedup) settle(accept func(m *audience.Member, key audience.MemberKey) error, repeat func(m *audience.Member, same bool)) error {
	held := d.held
	d.held = nil
	if len(held) == 0 {
		return nil
	}
	ks := make([]uint64, len(held))
	for i := range held {
		ks[i] = held[i].k
	}
	slices.Sort(ks)
	ks = slices.Compact(ks)
	first, err := d.seen.lookup(ks)
	if err != nil {
		return err
	}
	for i := range held {
		h := &held[i]
		if data, dup := first[h.k]; dup {
			repeat(&h.m, data == h.data)
			continue
		}
		first[h.k] = h.data
		if err := d.note(h.k, h.data); err != nil {
			return err
		}
		if err := accept(&h.m, h.key); err != nil {
			return err
		}
	}
	return nil
}

// pair is one key of the exact record: half its hash and its first
// record's data hash, as the in-memory map keeps.
type pair struct{ k, data uint64 }

// pairRuns is a set of pairs, unique by k, kept in sorted runs in an
// unlinked file past seenRun pairs.
type pairRuns struct {
	dir  string
	run  int // pairs kept in memory before a run is written
	mem  []pair
	f    *os.File
	w    *bufio.Writer
	runs []spoolRun
	off  int64
}

func (r *pairRuns) add(p pair) error {
	r.mem = append(r.mem, p)
	if len(r.mem) < r.run {
		return nil
	}
	return r.spill()
}

func (r *pairRuns) spill() error {
	if r.f == nil {
		f, err := spillFile(r.dir, "keys")
		if err != nil {
			return fmt.Errorf("spool source keys: %w", err)
		}
		r.f, r.w = f, bufio.NewWriterSize(f, 256<<10)
	}
	slices.SortFunc(r.mem, func(a, b pair) int { return cmp.Compare(a.k, b.k) })
	var buf [16]byte
	for _, p := range r.mem {
		binary.LittleEndian.PutUint64(buf[:8], p.k)
		binary.LittleEndian.PutUint64(buf[8:], p.data)
		if _, err := r.w.Write(buf[:]); err != nil {
			return fmt.Errorf("spool source keys: %w", err)
		}
	}
	r.runs = append(r.runs, spoolRun{off: r.off, size: int64(16 * len(r.mem)), count: len(r.mem)})
	r.off += int64(16 * len(r.mem))
	r.mem = r.mem[:0]
	return nil
}

// lookup returns the data hash of each of the sorted keys ks in the set:
// one sequential pass over every run, none over memory twice.
func (r *pairRuns) lookup(ks []uint64) (map[uint64]uint64, error) {
	found := make(map[uint64]uint64)
	slices.SortFunc(r.mem, func(a, b pair) int { return cmp.Compare(a.k, b.k) })
	joinSorted(ks, func(yield func(pair) bool) error {
		for _, p := range r.mem {
			if !yield(p) {
				break
			}
		}
		return nil
	}, found)
	if r.f == nil {
		return found, nil
	}
	if err := r.w.Flush(); err != nil {
		return nil, fmt.Errorf("read spooled source keys: %w", err)
	}
	for _, run := range r.runs {
		br := bufio.NewReaderSize(io.NewSectionReader(r.f, run.off, run.size), 256<<10)
		err := joinSorted(ks, func(yield func(pair) bool) error {
			var buf [16]byte
			for range run.count {
				if _, err := io.ReadFull(br, buf[:]); err != nil {
					return err
				}
				if !yield(pair{binary.LittleEndian.Uint64(buf[:8]), binary.LittleEndian.Uint64(buf[8:])}) {
					break
				}
			}
			return nil
		}, found)
		if err != nil {
			return nil, fmt.Errorf("read spooled source keys: %w", err)
		}
	}
	return found, nil
}

// joinSorted adds to found the pairs of the sorted stream each whose key
// is among the sorted keys ks.
func joinSorted(ks []uint64, each func(yield func(pair) bool) error, found map[uint64]uint64) error {
	i := 0
	return each(func(p pair) bool {
		for i < len(ks) && ks[i] < p.k {
			i++
		}
		if i == len(ks) {
			return false
		}
		if ks[i] == p.k {
			found[p.k] = p.data
		}
		return true
	})
}

func (r *pairRuns) close() {
	if r.f != nil {
		_ = r.f.Close()
		r.f = nil
	}
	r.mem = nil
}
