package engine

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// spillLog is an append-only log of a streaming plan's: in memory for its
// first limit members, then in an unlinked file in the run's spill
// directory (what names it), written through a buffer. keyLog and idLog
// are two.
type spillLog struct {
	dir   string
	what  string // "matchkeys", "identifiers"
	limit int
	n     int   // members appended
	off   int64 // bytes appended
	mem   []byte
	f     *os.File
	w     *bufio.Writer
	err   error
}

// write appends one member's parts.
func (l *spillLog) write(parts ...[]byte) {
	for _, b := range parts {
		l.off += int64(len(b))
	}
	if l.err != nil {
		return
	}
	if l.w == nil {
		for _, b := range parts {
			l.mem = append(l.mem, b...)
		}
		if l.n++; l.n >= l.limit {
			l.spill()
		}
		return
	}
	for _, b := range parts {
		if _, err := l.w.Write(b); err != nil {
			l.err = fmt.Errorf("spool the %s read: %w", l.what, err)
			return
		}
	}
}

func (l *spillLog) spill() {
	f, err := spillFile(l.dir, l.what)
	if err != nil {
		l.err = fmt.Errorf("spool the %s read: %w", l.what, err)
		return
	}
	l.f, l.w = f, bufio.NewWriterSize(f, 1<<20)
	if _, err := l.w.Write(l.mem); err != nil {
		l.err = fmt.Errorf("spool the %s read: %w", l.what, err)
	}
	l.mem = nil
}

// flush writes out what is buffered; the log is read after.
func (l *spillLog) flush() error {
	if l.err == nil && l.w != nil {
		if err := l.w.Flush(); err != nil {
			l.err = fmt.Errorf("spool the %s read: %w", l.what, err)
		}
	}
	return l.err
}

func (l *spillLog) close() {
	if l.f != nil {
		_ = l.f.Close()
		l.f = nil
	}
	l.mem, l.w = nil, nil
}

// keyLog keeps a streaming plan's match keys (matchkeys.go), member by
// member in the order classify takes the members (seq 1, 2, …), apart from
// the spool of members read. The shared-identifier rule reads them once,
// after the merge with state (desiredAmong), and needs nothing else of a
// member: kept apart, that pass reads eight bytes a key rather than every
// member's packed identifiers, and needs no sort. Like the spool, it holds
// hashed match keys only.
type keyLog struct{ spillLog }

func newKeyLog(dir string, limit int) keyLog {
	return keyLog{spillLog{dir: dir, what: "matchkeys", limit: limit}}
}

// add appends the next member's match keys (packed little-endian, eight
// bytes a key).
func (l *keyLog) add(mkeys []byte) {
	var head [binary.MaxVarintLen64]byte
	n := binary.PutUvarint(head[:], uint64(len(mkeys)/8))
	l.write(head[:n], mkeys)
}

// each calls fn with every member's seq and match keys, in seq order,
// until fn returns false; mk is valid only during the call.
func (l *keyLog) each(fn func(seq uint64, mk []byte) bool) error {
	if err := l.flush(); err != nil {
		return err
	}
	var r *bufio.Reader
	if l.f != nil {
		r = bufio.NewReaderSize(io.NewSectionReader(l.f, 0, l.off), 1<<20)
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
			if !fn(seq, mem[k:k+int(n)*8]) {
				return nil
			}
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
		if !fn(seq, buf) {
			return nil
		}
	}
}

// idLog keeps a streaming plan's packed identifiers, member after member
// as classify takes them, and hands back one member's by where it starts:
// the spool of members read (keyspool.go) sorts and reads back every
// member, and most members, unchanged, never need their identifiers
// again, so the spool carries only where they are. The merge reads those
// of the members it sends. It holds hashed identifiers only, as the spool
// does.
type idLog struct{ spillLog }

func newIDLog(dir string, limit int) idLog {
	return idLog{spillLog{dir: dir, what: "identifiers", limit: limit}}
}

// add appends the next member's packed identifiers and returns where they
// start.
func (l *idLog) add(ids []byte) int64 {
	at := l.off
	l.write(ids)
	return at
}

// read returns a copy of the size bytes added at at, once the appending
// is done.
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
