package engine

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"math/bits"
	"os"
	"slices"

	"github.com/audiencesync/audiencesync/audience"
)

// keySpool keeps a streaming plan's members read (stream.go) and hands them
// back ordered by key, then source order. Member keys are hashes, spread
// evenly, so past limit members it sorts by distribution rather than by
// comparison on disk: each member is appended to one of a power of two of
// buckets by the top bits of its key, buffered per bucket and written in
// chunks to one unlinked file; reading loads one bucket at a time, sorts
// it in memory and yields it, and bucket order is key order. Each member
// is written once and read once per pass, with no merge of runs, and
// memory holds the buckets' buffers (4 MB at most) and one bucket. The
// bucket count is chosen when the spool first spills, from hint (the
// committed audience size), so that a bucket holds about bucketTarget
// members. The members' identifiers are not in it but in the plan's idLog
// (keylog.go), which a record points into. Like spool, the file holds
// member keys and fingerprints, never contact data in clear.
type keySpool struct {
	limit int
	dir   string
	hint  int64
	mem   []change // before the first spill
	err   error

	f      *os.File
	off    int64
	shift  uint       // bucket of a key: its first 8 bytes >> shift
	bufs   [][]byte   // per bucket: what is not written yet
	chunks [][]extent // per bucket: what is written
	bufCap int
}

type extent struct {
	off  int64
	size int
}

const (
	// bucketTarget is how many members a bucket should hold.
	bucketTarget = 32 << 10
	// bucketBuffers bounds the buckets' write buffers together: 4 MB,
	// 8 KB a bucket at 10M members (16 MB grew the peak at 10M by more
	// than the ratio to 1M allows, for no measurable speed).
	bucketBuffers = 4 << 20
)

func (s *keySpool) add(ch change) {
	if s.err != nil {
		return
	}
	if s.bufs != nil {
		s.put(&ch)
		return
	}
	s.mem = append(s.mem, ch)
	if len(s.mem) >= s.limit {
		s.spill()
	}
}

// spill moves to buckets on disk.
func (s *keySpool) spill() {
	f, err := spillFile(s.dir, "members")
	if err != nil {
		s.err = fmt.Errorf("spool the members read: %w", err)
		return
	}
	s.f = f
	expect := max(s.hint, int64(4*len(s.mem)))
	n := uint64(max(expect/bucketTarget, 16))
	n = min(uint64(1)<<bits.Len64(n-1), 1<<14) // a power of two
	s.shift = uint(64 - bits.TrailingZeros64(n))
	s.bufCap = min(max(bucketBuffers/int(n), 4<<10), 64<<10)
	s.bufs = make([][]byte, n)
	s.chunks = make([][]extent, n)
	for i := range s.mem {
		s.put(&s.mem[i])
	}
	s.mem = nil
}

func (s *keySpool) bucket(k audience.MemberKey) int {
	return int(binary.BigEndian.Uint64(k[:8]) >> s.shift)
}

func (s *keySpool) put(ch *change) {
	b := s.bucket(ch.key)
	if s.bufs[b] == nil {
		s.bufs[b] = make([]byte, 0, s.bufCap)
	}
	s.bufs[b] = appendChange(s.bufs[b], ch)
	if len(s.bufs[b]) >= s.bufCap {
		if _, err := s.f.Write(s.bufs[b]); err != nil {
			s.err = fmt.Errorf("spool the members read: %w", err)
			return
		}
		s.chunks[b] = append(s.chunks[b], extent{s.off, len(s.bufs[b])})
		s.off += int64(len(s.bufs[b]))
		s.bufs[b] = s.bufs[b][:0]
	}
}

// all yields every member ordered by key, then by seq; it may be ranged
// over more than once. A member yielded, and its ids, are valid only until
// the next: the caller copies what it keeps (ids too).
func (s *keySpool) all() iter.Seq2[*change, error] {
	return func(yield func(*change, error) bool) {
		if s.err != nil {
			yield(nil, s.err)
			return
		}
		if s.bufs == nil {
			slices.SortFunc(s.mem, byKey)
			for i := range s.mem {
				if !yield(&s.mem[i], nil) {
					return
				}
			}
			return
		}
		var (
			raw   []byte
			items []sortItem
			cur   change
		)
		for b := range s.bufs {
			raw = raw[:0]
			for _, e := range s.chunks[b] {
				raw = slices.Grow(raw, e.size)
				part := raw[len(raw) : len(raw)+e.size]
				if _, err := s.f.ReadAt(part, e.off); err != nil {
					yield(nil, fmt.Errorf("read the spooled members: %w", err))
					return
				}
				raw = raw[:len(raw)+e.size]
			}
			raw = append(raw, s.bufs[b]...)
			// Sort small items that point into raw rather than whole
			// changes.
			items = items[:0]
			for off := 0; off < len(raw); {
				ch, n, err := parseChange(raw[off:])
				if err != nil {
					yield(nil, fmt.Errorf("read the spooled members: %w", err))
					return
				}
				items = append(items, sortItem{hi: binary.BigEndian.Uint64(ch.key[:8]), lo: binary.BigEndian.Uint64(ch.key[8:]), seq: ch.seq, off: off})
				off += n
			}
			slices.SortFunc(items, func(a, b sortItem) int {
				if a.hi != b.hi {
					return cmp.Compare(a.hi, b.hi)
				}
				if a.lo != b.lo {
					return cmp.Compare(a.lo, b.lo)
				}
				return cmp.Compare(a.seq, b.seq)
			})
			for _, it := range items {
				cur, _, _ = parseChange(raw[it.off:])
				if !yield(&cur, nil) {
					return
				}
			}
		}
	}
}

// sortItem is a member of a bucket being sorted: its key as two numbers
// (compared in order, as bytes are), seq, and where it is in the bucket.
type sortItem struct {
	hi, lo, seq uint64
	off         int
}

func (s *keySpool) close() {
	if s.f != nil {
		_ = s.f.Close()
		s.f = nil
	}
	s.mem, s.bufs, s.chunks = nil, nil, nil
}

// appendChange appends the spool's record of ch: its key, fingerprint,
// consent, kind, seq and where its identifiers are in the plan's idLog.
func appendChange(dst []byte, ch *change) []byte {
	dst = append(dst, ch.key[:]...)
	dst = append(dst, ch.fp[:]...)
	dst = append(dst, byte(ch.consent.AdUserData), byte(ch.consent.AdPersonalization), byte(ch.kind))
	dst = binary.AppendUvarint(dst, ch.seq)
	dst = binary.AppendUvarint(dst, uint64(ch.idsAt))
	return binary.AppendUvarint(dst, uint64(ch.idsLen))
}

var errCorruptSpool = errors.New("corrupt spool record")

// parseChange reads one record appended by appendChange, and how many
// bytes it took.
func parseChange(b []byte) (change, int, error) {
	if len(b) < 35 {
		return change{}, 0, io.ErrUnexpectedEOF
	}
	ch := change{
		consent: audience.Consent{AdUserData: audience.ConsentStatus(b[32]), AdPersonalization: audience.ConsentStatus(b[33])},
		kind:    changeKind(b[34]),
	}
	copy(ch.key[:], b[:16])
	copy(ch.fp[:], b[16:32])
	n := 35
	var vals [3]uint64
	for i := range vals {
		v, k := binary.Uvarint(b[n:])
		if k <= 0 {
			return change{}, 0, errCorruptSpool
		}
		vals[i], n = v, n+k
	}
	if vals[1] > 1<<62 || vals[2] > 1<<30 {
		return change{}, 0, errCorruptSpool
	}
	ch.seq, ch.idsAt, ch.idsLen = vals[0], int64(vals[1]), int(vals[2])
	return ch, n, nil
}
