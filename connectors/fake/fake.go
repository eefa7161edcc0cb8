// Package fake provides in-memory connectors for tests of the engine and
// of code built on it: a Source over a slice of members that can fail
// part-way, and a Destination that holds an audience in memory and can be
// told to fail, reject members or die after a number of batches.
package fake

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"sync"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/platform"
	"github.com/audiencesync/audiencesync/platform/builtin"
)

// Source yields Members in order. If FailAfter > 0 it returns ErrBroken
// after emitting that many members.
type Source struct {
	Members   []audience.Member
	FailAfter int
	// Rejects are reported before the members, one per reason.
	Rejects []string
	// Declared, when > 0, is declared as the audience's record count
	// (connectors.DeclareCount) before anything is emitted.
	Declared int64
}

// ErrBroken is what a failing fake source returns.
var ErrBroken = errors.New("fake source broke part-way")

var _ connectors.Source = (*Source)(nil)

// Read emits the members.
func (s *Source) Read(ctx context.Context, _ connectors.ReadRequest, out connectors.Emitter) error {
	if s.Declared > 0 {
		connectors.DeclareCount(out, s.Declared)
	}
	for i, r := range s.Rejects {
		out.Reject(r, int64(i+1))
	}
	for i := range s.Members {
		if err := ctx.Err(); err != nil {
			return err
		}
		if s.FailAfter > 0 && i == s.FailAfter {
			return ErrBroken
		}
		m := s.Members[i]
		if err := out.Emit(&m); err != nil {
			return err
		}
	}
	return nil
}

// Close does nothing.
func (s *Source) Close() error { return nil }

// Destination keeps audiences in memory: per audience id, the set of
// identifier values it holds (kind:value).
type Destination struct {
	Platform       *platform.Platform
	Kinds          []audience.Kind
	MaxBatch       int
	Concurrency    int
	MaxIdentifiers int

	mu        sync.Mutex
	audiences map[string]map[string]bool
	names     map[string]string
	calls     []connectors.Batch
	// FailFrom makes every Apply from the Nth call on (1-based) return
	// FailErr (default: connectors.Fatal). 0 disables.
	FailFrom int
	FailErr  error
	// Transient makes the first N Apply calls fail with a retryable error.
	Transient int
	// Reject refuses members carrying any identifier value listed here.
	Reject map[string]string
	// OnApply, if set, runs at the start of every Apply call with its
	// 1-based number (tests cancel a context from it).
	OnApply func(call int)
	// Persist, if set, is a file the audiences are loaded from and saved to
	// after every acknowledged Apply, so a test can kill the process and
	// look at what the "platform" holds.
	Persist string
	// ExitAfter makes the process exit (code 3) right after the Nth Apply
	// has been applied and persisted, before the engine can commit it: a
	// crash between the platform's acknowledgement and the state commit.
	ExitAfter int
	applied   int
}

var (
	_ connectors.Destination   = (*Destination)(nil)
	_ connectors.Resetter      = (*Destination)(nil)
	_ connectors.AudienceSizer = (*Destination)(nil)
)

// NewDestination returns an empty destination for the built-in platform
// named profile; it panics on an unknown name.
func NewDestination(profile string) *Destination {
	p, err := builtin.Registry().Lookup(profile)
	if err != nil {
		panic("fake: " + err.Error())
	}
	return NewDestinationFor(p)
}

// NewDestinationFor returns an empty destination for platform p.
func NewDestinationFor(p *platform.Platform) *Destination {
	return &Destination{
		Platform:    p,
		Kinds:       []audience.Kind{audience.Email, audience.Phone},
		MaxBatch:    100,
		Concurrency: 2,
		audiences:   map[string]map[string]bool{},
		names:       map[string]string{},
	}
}

// Info describes the destination.
func (d *Destination) Info() connectors.DestinationInfo {
	return connectors.DestinationInfo{
		Platform: d.Platform, Kinds: d.Kinds, MaxBatch: d.MaxBatch, Concurrency: d.Concurrency,
		MaxIdentifiers: d.MaxIdentifiers,
	}
}

// Ensure finds the audience by id or name, creating it when allowed.
func (d *Destination) Ensure(_ context.Context, spec connectors.AudienceSpec) (connectors.Audience, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, id := range []string{spec.ID, spec.KnownID} {
		if id != "" {
			if _, ok := d.audiences[id]; ok {
				return connectors.Audience{ID: id, Name: d.names[id]}, nil
			}
		}
	}
	for id, name := range d.names {
		if name == spec.Name {
			return connectors.Audience{ID: id, Name: name}, nil
		}
	}
	if !spec.Create {
		return connectors.Audience{}, connectors.Fatal(fmt.Errorf("audience %q not found", spec.Name))
	}
	id := fmt.Sprintf("aud-%d", len(d.audiences)+1)
	d.audiences[id] = map[string]bool{}
	d.names[id] = spec.Name
	if d.Persist != "" {
		if err := d.save(); err != nil {
			return connectors.Audience{}, err
		}
	}
	return connectors.Audience{ID: id, Name: spec.Name, Created: true}, nil
}

// AudienceSize says exactly how many identifier values the audience
// holds.
func (d *Destination) AudienceSize(_ context.Context, aud connectors.Audience) (connectors.AudienceSize, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	held, ok := d.audiences[aud.ID]
	if !ok {
		return connectors.AudienceSize{}, connectors.Fatal(fmt.Errorf("audience %s not found", aud.ID))
	}
	return connectors.AudienceSize{Known: true, Members: int64(len(held))}, nil
}

// Apply adds or removes identifiers.
func (d *Destination) Apply(ctx context.Context, aud connectors.Audience, b connectors.Batch) (connectors.BatchResult, error) {
	if err := ctx.Err(); err != nil {
		return connectors.BatchResult{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.applied++
	if d.OnApply != nil {
		d.OnApply(d.applied)
		if err := ctx.Err(); err != nil {
			return connectors.BatchResult{}, err
		}
	}
	if d.Transient > 0 {
		d.Transient--
		return connectors.BatchResult{}, connectors.RetryAfter(0, errors.New("fake: temporarily unavailable"))
	}
	if d.FailFrom > 0 && d.applied >= d.FailFrom {
		err := d.FailErr
		if err == nil {
			err = connectors.Fatal(errors.New("fake: destination died"))
		}
		return connectors.BatchResult{}, err
	}
	if len(b.Members) > d.MaxBatch {
		return connectors.BatchResult{}, connectors.RejectBatch("too_many_members", fmt.Errorf("batch of %d over limit %d", len(b.Members), d.MaxBatch))
	}
	set, ok := d.audiences[aud.ID]
	if !ok {
		return connectors.BatchResult{}, connectors.Fatal(fmt.Errorf("no audience %s", aud.ID))
	}
	d.calls = append(d.calls, b)
	var res connectors.BatchResult
	for i, m := range b.Members {
		if reason := d.rejects(m); reason != "" {
			res.Rejected = append(res.Rejected, connectors.MemberRejection{Index: i, Reason: reason})
			continue
		}
		for _, id := range m.Identifiers {
			k := id.Kind.String() + ":" + id.Value
			if b.Op == connectors.OpAdd {
				set[k] = true
			} else {
				delete(set, k)
			}
		}
	}
	if d.Persist != "" {
		if err := d.save(); err != nil {
			return connectors.BatchResult{}, err
		}
	}
	if d.ExitAfter > 0 && d.applied >= d.ExitAfter {
		os.Exit(3)
	}
	return res, nil
}

type persisted struct {
	Audiences map[string]map[string]bool `json:"audiences"`
	Names     map[string]string          `json:"names"`
}

func (d *Destination) save() error {
	b, err := json.Marshal(persisted{Audiences: d.audiences, Names: d.names})
	if err != nil {
		return err
	}
	tmp := d.Persist + ".tmp"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, d.Persist)
}

// Load reads audiences saved by an earlier process from Persist.
func (d *Destination) Load() error {
	b, err := os.ReadFile(d.Persist)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var p persisted
	if err := json.Unmarshal(b, &p); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.audiences, d.names = p.Audiences, p.Names
	return nil
}

func (d *Destination) rejects(m connectors.Upload) string {
	for _, id := range m.Identifiers {
		if r, ok := d.Reject[id.Value]; ok {
			return r
		}
	}
	return ""
}

// RemoveAll empties the audience.
func (d *Destination) RemoveAll(_ context.Context, aud connectors.Audience) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.audiences[aud.ID] = map[string]bool{}
	return nil
}

// Close does nothing.
func (d *Destination) Close() error { return nil }

// Held returns the sorted identifier values (kind:value) of the audience.
func (d *Destination) Held(audienceID string) []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]string, 0, len(d.audiences[audienceID]))
	for k := range d.audiences[audienceID] {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Calls returns the batches applied so far.
func (d *Destination) Calls() []connectors.Batch {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]connectors.Batch(nil), d.calls...)
}

// ResetCalls forgets the recorded calls and failure settings.
func (d *Destination) ResetCalls() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls, d.applied, d.FailFrom, d.FailErr, d.Transient = nil, 0, 0, nil, 0
}
