package engine

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"

	"github.com/audiencesync/audiencesync/audience"
)

// DefaultSpillAfter is how many planned sends a destination keeps in memory
// before the rest go to a temporary file.
const DefaultSpillAfter = 100_000

// spool keeps a destination's planned adds and refreshes in order: the
// first few in memory, the rest in an unlinked temporary file, so a first
// upload of millions of members streams from disk instead of holding the
// whole audience. The file holds what state would: member keys, fingerprints
// and hashed identifiers, never contact data in clear.
type spool struct {
	limit   int
	mem     []change
	f       *os.File
	w       *bufio.Writer
	spilled int
	err     error
}

func (s *spool) len() int { return len(s.mem) + s.spilled }

func (s *spool) add(ch change) {
	if s.err != nil {
		return
	}
	if len(s.mem) < s.limit {
		s.mem = append(s.mem, ch)
		return
	}
	if s.f == nil {
		f, err := os.CreateTemp("", "audiencesync-plan-*")
		if err != nil {
			s.err = fmt.Errorf("spool planned changes: %w", err)
			return
		}
		_ = os.Remove(f.Name()) // unlinked: gone with the process, whatever happens
		s.f, s.w = f, bufio.NewWriterSize(f, 1<<20)
	}
	var hdr [16 + 16 + 3 + binary.MaxVarintLen64]byte
	copy(hdr[:16], ch.key[:])
	copy(hdr[16:32], ch.fp[:])
	hdr[32], hdr[33], hdr[34] = byte(ch.consent.AdUserData), byte(ch.consent.AdPersonalization), byte(ch.kind)
	n := binary.PutUvarint(hdr[35:], uint64(len(ch.ids)))
	if _, err := s.w.Write(hdr[:35+n]); err != nil {
		s.err = fmt.Errorf("spool planned changes: %w", err)
		return
	}
	if _, err := s.w.Write(ch.ids); err != nil {
		s.err = fmt.Errorf("spool planned changes: %w", err)
		return
	}
	s.spilled++
}

// all yields every change in order; it may be ranged over more than once.
// Changes read back from the file are fresh values the caller may keep.
func (s *spool) all() iter.Seq2[*change, error] {
	return func(yield func(*change, error) bool) {
		if s.err != nil {
			yield(nil, s.err)
			return
		}
		for i := range s.mem {
			if !yield(&s.mem[i], nil) {
				return
			}
		}
		if s.f == nil {
			return
		}
		if err := s.w.Flush(); err != nil {
			yield(nil, fmt.Errorf("spool planned changes: %w", err))
			return
		}
		r := bufio.NewReaderSize(io.NewSectionReader(s.f, 0, 1<<62), 1<<20)
		for range s.spilled {
			ch, err := readChange(r)
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

// close drops the spool file.
func (s *spool) close() {
	if s.f != nil {
		_ = s.f.Close()
		s.f = nil
	}
	s.mem = nil
}
