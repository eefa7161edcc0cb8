package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// The plumbing every replica shares around its own API: JSON answers,
// bounded request bodies, its saved state, and its audience listings.

// WriteJSON answers with status and v as JSON of contentType (the
// platforms spell the charset differently).
func WriteJSON(w http.ResponseWriter, status int, contentType string, v any) {
	w.Header().Set("Content-Type", contentType)
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// SetRetryAfter sets the Retry-After header a throttled answer carries:
// d in whole seconds, rounded up so a client that honours it is not early.
func SetRetryAfter(h http.Header, d time.Duration) {
	h.Set("Retry-After", strconv.Itoa(int((d+time.Second-1)/time.Second)))
}

// ErrBodyTooLarge is returned by ReadBody for a body over its limit.
var ErrBodyTooLarge = errors.New("request body too large")

// Body is what ReadBody reads into: a strings.Builder or a bytes.Buffer.
type Body interface {
	io.Writer
	Grow(n int)
	Len() int
}

// ReadBody reads r's body, of at most limit bytes, into dst. It sizes dst
// from Content-Length when given, so a large upload is not copied as dst
// grows.
func ReadBody(dst Body, r *http.Request, limit int) error {
	if r.ContentLength > 0 && r.ContentLength <= int64(limit) {
		dst.Grow(int(r.ContentLength) + bytes.MinRead)
	}
	if _, err := io.Copy(dst, io.LimitReader(r.Body, int64(limit)+1)); err != nil {
		return err
	}
	if dst.Len() > limit {
		return ErrBodyTooLarge
	}
	return nil
}

// Persisted gives a replica the Save and Load of sandbox.Replica from its
// typed Snapshot and Restore; a replica embeds it.
type Persisted[S any] struct {
	snapshot func() S
	restore  func(S) error
}

// NewPersisted saves what snapshot returns and loads through restore.
func NewPersisted[S any](snapshot func() S, restore func(S) error) Persisted[S] {
	return Persisted[S]{snapshot: snapshot, restore: restore}
}

// Save encodes the replica's snapshot for the sandbox's state file.
func (p Persisted[S]) Save() (json.RawMessage, error) { return json.Marshal(p.snapshot()) }

// Load restores a snapshot that Save encoded.
func (p Persisted[S]) Load(data json.RawMessage) error { return LoadState(data, p.restore) }

// LoadState decodes data, a replica's saved snapshot, strictly (unknown
// fields and trailing data are errors) and hands it to restore.
func LoadState[S any](data json.RawMessage, restore func(S) error) error {
	var snap S
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&snap); err != nil {
		return fmt.Errorf("decode: %w", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("decode: unexpected data after the state")
	}
	return restore(snap)
}

// PushMembersLocked queues adding (add) or removing ids to or from
// members, to be applied once the request is answered; the queue's mutex
// is held. ends cut ids into rows, one person each (row i ends before
// ends[i]; see Set.AddRow); nil makes each id a row of its own.
func (q *Queue) PushMembersLocked(members *Set, ids []string, ends []int, add bool) {
	q.PushLocked(len(ids), func() { ApplyRows(members, ids, ends, add) })
}

// ApplyRows adds (add) the rows of ids that ends cut (nil: one id a row)
// to members, or removes each id.
func ApplyRows(members *Set, ids []string, ends []int, add bool) {
	switch {
	case !add:
		for _, id := range ids {
			members.Remove(id)
		}
	case ends == nil:
		for _, id := range ids {
			members.Add(id)
		}
	default:
		start := 0
		for _, end := range ends {
			members.AddRow(ids[start:end])
			start = end
		}
	}
}

// Membership is what an inspection lists of an audience's members: how
// many identifiers and how many people they are (see Set.People), and
// the identifiers, sorted, when asked for (else left out of the JSON). A
// replica's state listing embeds it.
type Membership struct {
	Members     int      `json:"members"`
	People      int      `json:"people"`
	Identifiers []string `json:"identifiers,omitempty"`
}

// Inspect is the Membership of members, with its identifiers when
// withMembers is set.
func Inspect(withMembers bool, members Set) Membership {
	m := Membership{Members: members.Len(), People: members.People()}
	if withMembers {
		m.Identifiers = members.Sorted()
	}
	return m
}

// Listing is a replica's state listing: every audience of t, in creation
// order, as fn describes it, read holding lock (the replica's settled
// lock or its mutex).
func Listing[A, S any](lock sync.Locker, t *Audiences[A], fn func(id string, a *A) S) []S {
	lock.Lock()
	defer lock.Unlock()
	return List(t, fn)
}

// MembersOf returns the sorted identifiers of audience id, as members
// finds them, read holding lock; nil if there is no such audience.
func MembersOf[A any](lock sync.Locker, t *Audiences[A], id string, members func(*A) Set) []string {
	lock.Lock()
	defer lock.Unlock()
	a, ok := t.byID[id]
	if !ok {
		return nil
	}
	return members(a).Sorted()
}

// Audiences are a replica's audiences by id, in creation order. They do no
// locking: the replica holds its own lock around every call.
type Audiences[A any] struct {
	byID  map[string]*A
	order []string
	// next is the number of the last id handed out; ids are it in base
	// (10 or 36), so new ones never reuse old ones.
	next int64
	base int
}

// NewAudiences returns an empty table whose ids count up from first in
// base.
func NewAudiences[A any](first int64, base int) Audiences[A] {
	return Audiences[A]{byID: map[string]*A{}, next: first, base: base}
}

// NewID hands out the next audience id.
func (t *Audiences[A]) NewID() string {
	t.next++
	return strconv.FormatInt(t.next, t.base)
}

// Next is the number of the last id handed out, for a snapshot.
func (t *Audiences[A]) Next() int64 { return t.next }

// Get returns audience id.
func (t *Audiences[A]) Get(id string) (*A, bool) {
	a, ok := t.byID[id]
	return a, ok
}

// Add stores a under id, after the others.
func (t *Audiences[A]) Add(id string, a *A) {
	if t.byID == nil {
		t.byID = map[string]*A{}
	}
	t.byID[id] = a
	t.order = append(t.order, id)
}

// Delete forgets audience id.
func (t *Audiences[A]) Delete(id string) {
	if _, ok := t.byID[id]; !ok {
		return
	}
	delete(t.byID, id)
	for i, o := range t.order {
		if o == id {
			t.order = append(t.order[:i], t.order[i+1:]...)
			break
		}
	}
}

// All yields every audience in creation order.
func (t *Audiences[A]) All() iter.Seq2[string, *A] {
	return func(yield func(string, *A) bool) {
		for _, id := range t.order {
			if !yield(id, t.byID[id]) {
				return
			}
		}
	}
}

// Len is how many audiences there are.
func (t *Audiences[A]) Len() int { return len(t.order) }

// Where returns the audiences keep accepts, in creation order.
func (t *Audiences[A]) Where(keep func(id string, a *A) bool) []*A {
	var out []*A
	for _, id := range t.order {
		if a := t.byID[id]; keep(id, a) {
			out = append(out, a)
		}
	}
	return out
}

// List maps every audience, in creation order, to what fn makes of it: the
// replica's state listing and its snapshot.
func List[A, S any](t *Audiences[A], fn func(id string, a *A) S) []S {
	out := make([]S, 0, len(t.order))
	for _, id := range t.order {
		out = append(out, fn(id, t.byID[id]))
	}
	return out
}

// Save is what a snapshot holds of t, read holding lock: every audience,
// in creation order, as save makes it, and the number of the last id
// handed out. Restore loads it back.
func Save[A, S any](lock sync.Locker, t *Audiences[A], save func(a *A) S) (items []S, next int64) {
	lock.Lock()
	defer lock.Unlock()
	return List(t, func(_ string, a *A) S { return save(a) }), t.next
}

// RestoreAudiences rebuilds the audiences of like, as a snapshot's items
// hold them, numbering new ids after next and after every id restored:
// build checks one item and makes its audience; what is called an item in
// errors is noun ("user list", "custom audience"). An id used twice is an
// error.
func RestoreAudiences[S, A any](like *Audiences[A], noun string, items []S, next int64, build func(S) (id string, a *A, err error)) (Audiences[A], error) {
	t := Audiences[A]{byID: make(map[string]*A, len(items)), order: make([]string, 0, len(items)), next: max(next, like.next), base: like.base}
	for i, it := range items {
		id, a, err := build(it)
		if err != nil {
			return Audiences[A]{}, fmt.Errorf("%s %d: %w", noun, i, err)
		}
		if _, dup := t.byID[id]; dup {
			return Audiences[A]{}, fmt.Errorf("%s %d: id %s is used twice", noun, i, id)
		}
		if n, err := strconv.ParseInt(id, t.base, 64); err == nil && n > t.next {
			t.next = n
		}
		t.Add(id, a)
	}
	return t, nil
}

// Restore replaces t, holding lock, by the audiences a snapshot's items
// hold (see RestoreAudiences); t is left as it was when an item is
// refused.
func Restore[S, A any](lock sync.Locker, t *Audiences[A], noun string, items []S, next int64, build func(S) (id string, a *A, err error)) error {
	lock.Lock()
	defer lock.Unlock()
	restored, err := RestoreAudiences(t, noun, items, next, build)
	if err != nil {
		return err
	}
	*t = restored
	return nil
}

// Clock is the clock a replica's Options.Now names: now, or time.Now
// when it is nil.
func Clock(now func() time.Time) func() time.Time {
	if now == nil {
		return time.Now
	}
	return now
}

// Base is what every replica is built on, all of sandbox.Replica but its
// own API: its Mount (Platform, Owns, FaultEndpoints), Save and Load over
// its Snapshot and Restore, and Reset, which returns it to its first state
// under its lock. The replica embeds it (a Core, for a replica that
// applies uploads after answering them); the X, LinkedIn and Mailchimp
// replicas answer uploads in their handlers, and the HubSpot and
// Salesforce replicas serve reads from a seeded store.
type Base[S any] struct {
	Mount
	Persisted[S]
	lock  sync.Locker
	reset func()
}

// NewBase returns the base of a replica mounted as mount, guarded by lock
// (its mutex; for a Core, the settled lock of its queue), saved through
// snapshot and restore, with reset, which replaces the replica's state by
// its first one (empty, or seeded) and is called holding lock, already
// called: a replica starts in that state.
func NewBase[S any](mount Mount, lock sync.Locker, snapshot func() S, restore func(S) error, reset func()) Base[S] {
	b := Base[S]{Mount: mount, Persisted: NewPersisted(snapshot, restore), lock: lock, reset: reset}
	b.Reset()
	return b
}

// Reset returns the replica to its first state.
func (b Base[S]) Reset() {
	b.lock.Lock()
	defer b.lock.Unlock()
	b.reset()
}

// HasPathPrefix reports whether r's path starts with one of prefixes: a
// replica's Owns for an API it knows by its paths.
func HasPathPrefix(r *http.Request, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(r.URL.Path, p) {
			return true
		}
	}
	return false
}
