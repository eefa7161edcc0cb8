package engine

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// keyLog keeps a streaming plan's match keys (matchkeys.go), member by
// member in the order classify takes the members (seq 1, 2, …), apart from
// the spool of members read. The shared-identifier rule reads them once,
// after the merge with state (desiredAmong), and needs nothing else of a
// member: kept apart, that pass reads eight bytes a key rather than every
// member's packed identifiers, and needs no sort. Past limit members the
// log moves to an unlinked file in the run's spill directory, as the
// spool of members read does; like it, it holds hashed match keys only.
type keyLog struct {
	dir   string
	limit int
	n     int
	mem   []byte
	f     *os.File
	w     *bufio.Writer
	err   error
}

// add appends the next member's match keys (packed little-endian, eight
// bytes a key).
func (l *keyLog) add(mkeys []byte) {
	if l.err != nil {
		return
	}
	var head [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(head[:], uint64(len(mkeys)/8))
	if l.w != nil {
		_, _ = l.w.Write(head[:n])
		if _, err := l.w.Write(mkeys); err != nil {
			l.err = fmt.Errorf("spool the match keys read: %w", err)
		}
		return
	}
	l.mem = append(append(l.mem, head[:n]...), mkeys...)
	if l.n++; l.n < l.limit {
		return
	}
	f, err := os.CreateTemp(l.dir, "audiencesync-matchkeys-*")
	if err != nil {
		l.err = fmt.Errorf("spool the match keys read: %w", err)
		return
	}
	_ = os.Remove(f.Name()) // unlinked: gone with the process, whatever happens
	l.f, l.w = f, bufio.NewWriterSize(f, 1<<20)
	if _, err := l.w.Write(l.mem); err != nil {
		l.err = fmt.Errorf("spool the match keys read: %w", err)
	}
	l.mem = nil
}

// each calls fn with every member's seq and match keys, in seq order; mk
// is valid only during the call.
func (l *keyLog) each(fn func(seq uint64, mk []byte)) error {
	if l.err != nil {
		return l.err
	}
	var r *bufio.Reader
	if l.f != nil {
		if err := l.w.Flush(); err != nil {
			return fmt.Errorf("spool the match keys read: %w", err)
		}
		r = bufio.NewReaderSize(io.NewSectionReader(l.f, 0, 1<<62), 1<<20)
	}
	mem := l.mem
	var buf []byte
	for seq := uint64(1); ; seq++ {
		if r == nil {
			if len(mem) == 0 {
				return nil
			}
			n, k := binary.Uvarint(mem)
			if k <= 0 || n > uint64(len(mem)-k)/8 {
				return fmt.Errorf("read the spooled match keys: %w", errCorruptSpool)
			}
			fn(seq, mem[k:k+int(n)*8])
			mem = mem[k+int(n)*8:]
			continue
		}
		n, err := binary.ReadUvarint(r)
		if err == io.EOF {
			return nil
		}
		if err != nil || n > 1<<16 {
			return fmt.Errorf("read the spooled match keys: %w", errCorruptSpool)
		}
		if cap(buf) < int(n)*8 {
			buf = make([]byte, n*8)
		}
		buf = buf[:n*8]
		if _, err := io.ReadFull(r, buf); err != nil {
			return fmt.Errorf("read the spooled match keys: %w", err)
		}
		fn(seq, buf)
	}
}

func (l *keyLog) close() {
	if l.f != nil {
		_ = l.f.Close()
		l.f = nil
	}
	l.mem, l.w = nil, nil
}

// idLog keeps a streaming plan's packed identifiers, member after member
// as classify takes them, and hands back one member's by where it starts:
// the spool of members read (keyspool.go) sorts and reads back every
// member twice over, and most members, unchanged, never need their
// identifiers again, so the spool carries only where they are. The merge
// reads those of the members it sends. Past limit members the log moves
// to an unlinked file in the run's spill directory; it holds hashed
// identifiers only, as the spool does.
type idLog struct {
	dir   string
	limit int
	n     int
	off   int64 // bytes appended so far
	mem   []byte
	f     *os.File
	w     *bufio.Writer
	err   error
}

// add appends the next member's packed identifiers and returns where they
// start.
func (l *idLog) add(ids []byte) int64 {
	at := l.off
	l.off += int64(len(ids))
	if l.err != nil {
		return at
	}
	if l.w != nil {
		if _, err := l.w.Write(ids); err != nil {
			l.err = fmt.Errorf("spool the identifiers read: %w", err)
		}
		return at
	}
	l.mem = append(l.mem, ids...)
	if l.n++; l.n < l.limit {
		return at
	}
	f, err := os.CreateTemp(l.dir, "audiencesync-identifiers-*")
	if err != nil {
		l.err = fmt.Errorf("spool the identifiers read: %w", err)
		return at
	}
	_ = os.Remove(f.Name()) // unlinked: gone with the process, whatever happens
	l.f, l.w = f, bufio.NewWriterSize(f, 1<<20)
	if _, err := l.w.Write(l.mem); err != nil {
		l.err = fmt.Errorf("spool the identifiers read: %w", err)
	}
	l.mem = nil
	return at
}

// done ends the appending: what is buffered is written out.
func (l *idLog) done() error {
	if l.err == nil && l.w != nil {
		if err := l.w.Flush(); err != nil {
			l.err = fmt.Errorf("spool the identifiers read: %w", err)
		}
		l.w = nil
	}
	return l.err
}

// read returns a copy of the size bytes added at at; done must have been
// called.
func (l *idLog) read(at int64, size int) ([]byte, error) {
	if l.err != nil {
		return nil, l.err
	}
	if at < 0 || size < 0 || at+int64(size) > l.off {
		return nil, fmt.Errorf("read the spooled identifiers: %w", errCorruptSpool)
	}
	if l.f == nil {
		return bytes.Clone(l.mem[at : at+int64(size)]), nil
	}
	b := make([]byte, size)
	if _, err := l.f.ReadAt(b, at); err != nil {
		return nil, fmt.Errorf("read the spooled identifiers: %w", err)
	}
	return b, nil
}

func (l *idLog) close() {
	if l.f != nil {
		_ = l.f.Close()
		l.f = nil
	}
	l.mem, l.w = nil, nil
}
