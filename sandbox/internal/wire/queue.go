package wire

import "sync"

// Queue applies a replica's membership changes after the requests that
// make them have been answered, one change at a time in the order the
// requests were accepted, as the platforms do: they accept an upload and
// process it afterwards. A request so never waits for the changes of
// other requests, which in an audience of millions is most of a replica's
// work. A reader of membership first applies what is queued (LockSettled),
// so nobody sees an audience behind a request already answered.
//
// The queue works under the replica's own mutex: upload handlers hold it
// to Push; LockSettled takes the queue's apply lock, then that mutex.
type Queue struct {
	mu      *sync.Mutex // the replica's lock; guards the fields below
	applyMu sync.Mutex  // held while changes are applied; taken before mu

	ops     []func()
	weight  int  // identifiers in ops
	running bool // an applier goroutine is at work
}

// maxQueued bounds the identifiers waiting to be applied. An upload that
// finds more waiting applies them first, so memory stays bounded when
// uploads outpace the applier.
const maxQueued = 500_000

// NewQueue returns a queue working under mu.
func NewQueue(mu *sync.Mutex) *Queue { return &Queue{mu: mu} }

// PushLocked queues op, a change touching weight identifiers, and makes
// sure an applier runs. The replica's mutex is held.
func (q *Queue) PushLocked(weight int, op func()) {
	q.ops = append(q.ops, op)
	q.weight += weight
	if !q.running {
		q.running = true
		go q.run()
	}
}

func (q *Queue) run() {
	for {
		q.applyMu.Lock()
		q.mu.Lock()
		ops := q.takeLocked()
		if len(ops) == 0 {
			q.running = false
			q.mu.Unlock()
			q.applyMu.Unlock()
			return
		}
		q.mu.Unlock()
		for _, op := range ops {
			op()
		}
		q.applyMu.Unlock()
	}
}

func (q *Queue) takeLocked() []func() {
	ops := q.ops
	q.ops, q.weight = nil, 0
	return ops
}

// LockSettled locks the replica with every queued change applied, for a
// reader (or a writer other than an upload). Release with UnlockSettled.
func (q *Queue) LockSettled() {
	q.applyMu.Lock()
	q.mu.Lock()
	for _, op := range q.takeLocked() {
		op()
	}
}

// UnlockSettled releases what LockSettled took.
func (q *Queue) UnlockSettled() {
	q.mu.Unlock()
	q.applyMu.Unlock()
}

// SettleIfBacklogged applies the queue when it holds too many
// identifiers. Upload handlers call it, holding no lock, before they push.
func (q *Queue) SettleIfBacklogged() {
	q.mu.Lock()
	backlog := q.weight > maxQueued
	q.mu.Unlock()
	if backlog {
		q.LockSettled()
		q.UnlockSettled()
	}
}

// Settled is LockSettled and UnlockSettled as a sync.Locker, for the
// helpers that read a replica under its lock (Listing, MembersOf).
func (q *Queue) Settled() sync.Locker { return settled{q} }

type settled struct{ q *Queue }

func (s settled) Lock()   { s.q.LockSettled() }
func (s settled) Unlock() { s.q.UnlockSettled() }

// Core is what a replica that applies uploads after answering them (the
// Google and Meta replicas) is built on: a Base whose Reset first applies
// the changes already accepted, so none lands in the emptied replica, and
// the Queue those changes wait in. The replica embeds it; its mutex stays
// its own.
type Core[S any] struct {
	Base[S]
	// Changes applies accepted membership changes after their requests
	// are answered: readers of membership lock through it, upload
	// handlers queue under the replica's mutex.
	Changes *Queue
}

// NewCore returns the core of a replica mounted as mount, guarded by mu,
// saved through snapshot and restore, with empty, which forgets every
// audience, member and request, already called: a replica starts empty.
func NewCore[S any](mount Mount, mu *sync.Mutex, snapshot func() S, restore func(S) error, empty func()) Core[S] {
	q := NewQueue(mu)
	return Core[S]{Base: NewBase(mount, q.Settled(), snapshot, restore, empty), Changes: q}
}
