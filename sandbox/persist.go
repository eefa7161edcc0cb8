package sandbox

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/audiencesync/audiencesync/internal/atomicfile"
)

// ErrCorruptState is wrapped by Open when the state file cannot be read
// back: it is not JSON, not a sandbox state file, or inconsistent. Deleting
// the file starts an empty sandbox.
var ErrCorruptState = errors.New("sandbox state file is corrupt")

// stateVersion is the format of the state file; a file of another version
// is refused rather than misread.
const stateVersion = 1

// saveDelay gathers the changes of a burst of requests into one write.
const saveDelay = 200 * time.Millisecond

// saveShare bounds the time background saves take: the next one waits at
// least saveShare times as long as the last one took. Saving writes the
// whole state, so with a million members each save costs about a second
// of CPU; saving every saveDelay during an upload would spend a core on
// it, starving the process that hosts the sandbox (`serve` with sandbox:
// true) of CPU. maxSaveDelay caps the wait: Close always writes the last
// state.
const (
	saveShare    = 10
	maxSaveDelay = time.Minute
)

// Snapshot is what the state file holds: the format version, then each
// replica's saved state (audiences and members: hashes and the values the
// platforms take in clear; Google request statuses, Meta sessions) under
// its platform's name. Credentials, nonces, rate-limit windows and the
// fault spec are not part of it.
type Snapshot struct {
	Version  int
	Replicas []ReplicaSnapshot
}

// ReplicaSnapshot is one replica's part of a Snapshot.
type ReplicaSnapshot struct {
	Platform string
	State    json.RawMessage
}

// MarshalJSON writes Snapshot as one object: {"version": 1, "google": …}.
func (snap Snapshot) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"version":`)
	b.WriteString(strconv.Itoa(snap.Version))
	for _, r := range snap.Replicas {
		b.WriteByte(',')
		if err := writeMember(&b, r.Platform, r.State); err != nil {
			return nil, err
		}
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// Snapshot returns the state of every replica.
func (s *Server) Snapshot() (Snapshot, error) {
	snap := Snapshot{Version: stateVersion}
	for _, r := range s.replicas {
		st, err := r.Save()
		if err != nil {
			return Snapshot{}, fmt.Errorf("sandbox: save %s: %w", r.Platform(), err)
		}
		snap.Replicas = append(snap.Replicas, ReplicaSnapshot{Platform: r.Platform(), State: st})
	}
	return snap, nil
}

// Open builds a sandbox like New and, when opts.StatePath is set, loads
// its state from that file (a missing file is an empty sandbox) and saves
// the state back after every request that changed it. Call Close once the
// HTTP server has stopped, to write the last change.
func Open(opts Options) (*Server, error) {
	s, err := newServer(opts)
	if err != nil {
		return nil, err
	}
	if opts.StatePath == "" {
		return s, nil
	}
	p := &persister{path: opts.StatePath, srv: s}
	found, err := p.load()
	if err != nil {
		return nil, err
	}
	if !found {
		// Write the empty state now (creating its directory), so an
		// unwritable path fails here rather than after the first upload.
		if err := p.save(); err != nil {
			return nil, err
		}
	}
	s.store = p
	return s, nil
}

// Flush writes the state file now, including changes made through the Go
// API (CreateList, Reset, ...), which are otherwise saved only with the
// next request's changes. It does nothing for a sandbox without a state
// file.
func (s *Server) Flush() error {
	if s.store == nil {
		return nil
	}
	return s.store.flush(true)
}

// Close stops background saves and flushes the state file. Requests served
// after Close are not saved. It is safe to call more than once.
func (s *Server) Close() error {
	if s.store == nil {
		return nil
	}
	s.store.stopTimer()
	return s.store.flush(true)
}

// persister keeps a Server's state file up to date. Requests that may have
// changed state bump changes; a timer (or Flush) writes a snapshot when
// changes is ahead of what was last saved.
type persister struct {
	path string
	srv  *Server

	changes atomic.Uint64
	// cost is how long the last save took, in nanoseconds.
	cost atomic.Int64

	saveMu sync.Mutex // serialises writes
	saved  uint64     // the value of changes the file reflects

	timerMu sync.Mutex
	timer   *time.Timer
	closed  bool
}

// changed records that a request may have changed state and schedules a
// write.
func (p *persister) changed() {
	p.changes.Add(1)
	p.timerMu.Lock()
	defer p.timerMu.Unlock()
	if p.closed || p.timer != nil {
		return
	}
	p.timer = time.AfterFunc(p.delay(), func() {
		p.timerMu.Lock()
		p.timer = nil
		p.timerMu.Unlock()
		if err := p.flush(false); err != nil {
			// Nobody waits for a background save: report it in the
			// request log; the next flush tries again.
			p.srv.logf("sandbox: %v\n", err)
		}
	})
}

// delay is how long a background save waits for more changes: saveDelay,
// or saveShare times what the last save took, at most maxSaveDelay.
func (p *persister) delay() time.Duration {
	return min(max(saveDelay, saveShare*time.Duration(p.cost.Load())), maxSaveDelay)
}

func (p *persister) stopTimer() {
	p.timerMu.Lock()
	defer p.timerMu.Unlock()
	p.closed = true
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
}

// flush writes the state if a request changed it since the last write, or
// always when force is set.
func (p *persister) flush(force bool) error {
	p.saveMu.Lock()
	defer p.saveMu.Unlock()
	// Read the counter before taking the snapshot: the snapshot then holds
	// at least every change counted so far.
	gen := p.changes.Load()
	if gen == p.saved && !force {
		return nil
	}
	if err := p.saveLocked(); err != nil {
		return err
	}
	p.saved = gen
	return nil
}

func (p *persister) save() error {
	p.saveMu.Lock()
	defer p.saveMu.Unlock()
	return p.saveLocked()
}

func (p *persister) saveLocked() error {
	start := time.Now()
	defer func() { p.cost.Store(int64(time.Since(start))) }()
	snap, err := p.srv.Snapshot()
	if err != nil {
		return err
	}
	err = atomicfile.Write(p.path, func(w io.Writer) error {
		// The encoder writes in small pieces: gather them.
		bw := bufio.NewWriterSize(w, 1<<16)
		enc := json.NewEncoder(bw)
		enc.SetIndent("", " ")
		if err := enc.Encode(snap); err != nil {
			return err
		}
		return bw.Flush()
	})
	if err != nil {
		return fmt.Errorf("sandbox: save state to %s: %w", p.path, err)
	}
	return nil
}

// load restores the state file into the server and reports whether there
// was one.
func (p *persister) load() (bool, error) {
	data, err := os.ReadFile(p.path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("sandbox: read state file %s: %w", p.path, err)
	}
	if err := p.restore(data); err != nil {
		return false, fmt.Errorf("%w: %s: %w; delete it to start with an empty sandbox", ErrCorruptState, p.path, err)
	}
	return true, nil
}

func (p *persister) restore(data []byte) error {
	var file map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&file); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("decode: unexpected data after the state")
	}
	var version int
	if err := json.Unmarshal(file["version"], &version); err != nil {
		return fmt.Errorf("decode: version: %w", err)
	}
	if version != stateVersion {
		return fmt.Errorf("version %d: this build reads version %d", version, stateVersion)
	}
	delete(file, "version")
	// The server is fresh and unshared, so a failure part-way leaves
	// nothing behind: Open discards it. A replica the file does not
	// mention starts empty.
	for _, r := range p.srv.replicas {
		st, ok := file[r.Platform()]
		if !ok {
			continue
		}
		delete(file, r.Platform())
		if err := r.Load(st); err != nil {
			return fmt.Errorf("%s: %w", r.Platform(), err)
		}
	}
	for name := range file {
		return fmt.Errorf("decode: unknown field %q: no replica of that platform", name)
	}
	return nil
}
