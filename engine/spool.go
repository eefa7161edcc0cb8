package engine

import (
	"bufio"
	"cmp"
	"container/heap"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"slices"

	"github.com/audiencesync/audiencesync/audience"
)

// DefaultSpillAfter is how many planned sends a destination keeps in memory
// before the rest go to a temporary file.
const DefaultSpillAfter = 100_000

// spool keeps a destination's planned adds and refreshes and hands them back
// ordered by member key. Up to limit changes stay in memory; beyond that
// each full buffer is sorted and written as a run to an unlinked temporary
// file, and reading merges the runs. So a first upload of millions of
// members streams from disk instead of holding the whole audience, and the
// batches go out in key order, which lets the state store append each
// acknowledged batch instead of touching pages all over its member table.
// The file holds what state would: member keys, fingerprints and hashed
// identifiers, never contact data in clear.
type spool struct {
	limit int
	// dir is where the file goes: the run's spill directory (Engine.SpillDir),
	// or the system's temporary directory when "".
	dir  string
	mem  []change
	f    *os.File
	w    *bufio.Writer
	off  int64 // bytes written to f
	runs []spoolRun
	n    int
	err  error
}

// spoolRun is one sorted run in the file.
type spoolRun struct {
	off, size int64
	count     int
}

func (s *spool) len() int { return s.n }

// byKey orders changes by member key, then by their order in the source
// (seq), so that of two source records reducing to one member the first
// read comes first.
func byKey(a, b change) int {
	if c := a.key.Compare(b.key); c != 0 {
		return c
	}
	return cmp.Compare(a.seq, b.seq)
}

func (s *spool) add(ch change) {
	if s.err != nil {
		return
	}
	s.n++
	s.mem = append(s.mem, ch)
	if len(s.mem) >= s.limit {
		s.spill()
	}
}

// spillFile creates a spill file for what (its name says what it holds:
// audiencesync-what-…) in dir, unlinked at once, so that it is gone with
// the process whatever happens.
func spillFile(dir, what string) (*os.File, error) {
	f, err := os.CreateTemp(dir, "audiencesync-"+what+"-*")
	if err != nil {
		return nil, err
	}
	_ = os.Remove(f.Name())
	return f, nil
}

// spill writes the in-memory buffer to the file as one sorted run.
func (s *spool) spill() {
	if s.f == nil {
		f, err := spillFile(s.dir, "plan")
		if err != nil {
			s.err = fmt.Errorf("spool planned changes: %w", err)
			return
		}
		s.f, s.w = f, bufio.NewWriterSize(f, 1<<20)
	}
	slices.SortFunc(s.mem, byKey)
	run := spoolRun{off: s.off, count: len(s.mem)}
	for i := range s.mem {
		n, err := writeChange(s.w, &s.mem[i])
		if err != nil {
			s.err = fmt.Errorf("spool planned changes: %w", err)
			return
		}
		s.off += int64(n)
	}
	run.size = s.off - run.off
	s.runs = append(s.runs, run)
	s.mem = s.mem[:0]
}

func writeChange(w *bufio.Writer, ch *change) (int, error) {
	var hdr [16 + 16 + 3 + 2*binary.MaxVarintLen64]byte
	copy(hdr[:16], ch.key[:])
	copy(hdr[16:32], ch.fp[:])
	hdr[32], hdr[33], hdr[34] = byte(ch.consent.AdUserData), byte(ch.consent.AdPersonalization), byte(ch.kind)
	n := 35 + binary.PutUvarint(hdr[35:], ch.seq)
	n += binary.PutUvarint(hdr[n:], uint64(len(ch.ids)))
	if _, err := w.Write(hdr[:n]); err != nil {
		return 0, err
	}
	if _, err := w.Write(ch.ids); err != nil {
		return 0, err
	}
	return n + len(ch.ids), nil
}

// all yields every change ordered by member key; it may be ranged over more
// than once and yields the same order each time. Changes read back from the
// file are fresh values the caller may keep.
func (s *spool) all() iter.Seq2[*change, error] {
	return func(yield func(*change, error) bool) {
		if s.err != nil {
			yield(nil, s.err)
			return
		}
		// Sorting is idempotent, so a second pass finds mem as it left it.
		slices.SortFunc(s.mem, byKey)
		if len(s.runs) == 0 {
			for i := range s.mem {
				if !yield(&s.mem[i], nil) {
					return
				}
			}
			return
		}
		if err := s.w.Flush(); err != nil {
			yield(nil, fmt.Errorf("spool planned changes: %w", err))
			return
		}
		m := &merge{}
		// The read buffers share a fixed budget, so a spool of many runs
		// (a 10M-member plan) does not grow with them.
		bufSize := min(256<<10, max(16<<10, (16<<20)/len(s.runs)))
		for _, r := range s.runs {
			src := &runReader{r: bufio.NewReaderSize(io.NewSectionReader(s.f, r.off, r.size), bufSize), left: r.count}
			if err := m.push(src); err != nil {
				yield(nil, err)
				return
			}
		}
		if len(s.mem) > 0 {
			if err := m.push(&memReader{mem: s.mem}); err != nil {
				yield(nil, err)
				return
			}
		}
		for m.Len() > 0 {
			ch, err := m.pop()
			if err != nil {
				yield(nil, fmt.Errorf("read spooled changes: %w", err))
				return
			}
			if !yield(ch, nil) {
				return
			}
		}
	}
}

// close drops the spool file.
func (s *spool) close() {
	if s.f != nil {
		_ = s.f.Close()
		s.f = nil
	}
	s.mem = nil
}

// changeSource is one sorted sequence the merge draws from.
type changeSource interface {
	next() (*change, error) // io.EOF at the end
}

type runReader struct {
	r    *bufio.Reader
	left int
}

func (rr *runReader) next() (*change, error) {
	if rr.left == 0 {
		return nil, io.EOF
	}
	rr.left--
	return readChange(rr.r)
}

type memReader struct {
	mem []change
	i   int
}

func (mr *memReader) next() (*change, error) {
	if mr.i == len(mr.mem) {
		return nil, io.EOF
	}
	mr.i++
	return &mr.mem[mr.i-1], nil
}

// merge is a min-heap of sources by the key of each one's next change.
type merge struct {
	heads []*change
	srcs  []changeSource
}

func (m *merge) Len() int { return len(m.heads) }
func (m *merge) Less(i, j int) bool {
	a, b := m.heads[i], m.heads[j]
	if c := a.key.Compare(b.key); c != 0 {
		return c < 0
	}
	return a.seq < b.seq
}
func (m *merge) Swap(i, j int) {
	m.heads[i], m.heads[j] = m.heads[j], m.heads[i]
	m.srcs[i], m.srcs[j] = m.srcs[j], m.srcs[i]
}
func (m *merge) Push(any) {}
func (m *merge) Pop() any {
	n := len(m.heads) - 1
	m.heads, m.srcs = m.heads[:n], m.srcs[:n]
	return nil
}

func (m *merge) push(src changeSource) error {
	ch, err := src.next()
	if errors.Is(err, io.EOF) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read spooled changes: %w", err)
	}
	m.heads = append(m.heads, ch)
	m.srcs = append(m.srcs, src)
	heap.Fix(m, len(m.heads)-1)
	return nil
}

// pop returns the smallest change and advances its source.
func (m *merge) pop() (*change, error) {
	ch := m.heads[0]
	next, err := m.srcs[0].next()
	switch {
	case errors.Is(err, io.EOF):
		heap.Pop(m)
	case err != nil:
		return nil, err
	default:
		m.heads[0] = next
		heap.Fix(m, 0)
	}
	return ch, nil
}

func readChange(r *bufio.Reader) (*change, error) {
	var hdr [35]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	ch := &change{
		consent: audience.Consent{AdUserData: audience.ConsentStatus(hdr[32]), AdPersonalization: audience.ConsentStatus(hdr[33])},
		kind:    changeKind(hdr[34]),
	}
	copy(ch.key[:], hdr[:16])
	copy(ch.fp[:], hdr[16:32])
	seq, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	ch.seq = seq
	n, err := binary.ReadUvarint(r)
	if err != nil {
		return nil, err
	}
	if n > 1<<20 {
		return nil, errors.New("corrupt spool record")
	}
	ch.ids = make([]byte, n)
	if _, err := io.ReadFull(r, ch.ids); err != nil {
		return nil, err
	}
	return ch, nil
}
