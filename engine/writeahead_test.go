package engine_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/engine"
	"github.com/audiencesync/audiencesync/state"
)

var testScope = state.Scope{Sync: "test-sync", Destination: "dest"}

func key(m audience.Member) audience.MemberKey { return audience.KeyFromSource(m.Key) }

// sent sums the identifier values sent by op across the calls.
func sentIDs(calls []connectors.Batch, op connectors.Op) map[string]int {
	out := map[string]int{}
	for _, c := range calls {
		if c.Op != op {
			continue
		}
		for _, m := range c.Members {
			for _, id := range m.Identifiers {
				out[id.Kind.String()+":"+id.Value]++
			}
		}
	}
	return out
}

// TestTaintedMembersArePlannedAgain: a member whose fate on the platform
// is unknown (tainted ahead of a removal that may or may not have landed)
// is re-sent if it is still in the source and removed again if not, and
// identifiers shared with a member who stays are never removed.
func TestTaintedMembersArePlannedAgain(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// change edits the source of the run after the taint; tainted are
		// the members (of 0..9) to taint.
		change  func(ms []audience.Member) []audience.Member
		tainted []int
		update  int64
		remove  int64
		added   int
		removed int
	}{
		{
			name:    "in the source with the same identifiers: all re-added, nothing removed",
			change:  func(ms []audience.Member) []audience.Member { return ms },
			tainted: []int{2, 5},
			update:  2, added: 4, removed: 0,
		},
		{
			name: "in the source with another phone: the old one removed, the new sent",
			change: func(ms []audience.Member) []audience.Member {
				ms[2].Fields[audience.Phone] = "+1 202 555 0999"
				return ms
			},
			tainted: []int{2},
			update:  1, added: 2, removed: 1,
		},
		{
			name:    "gone from the source: removed again",
			change:  func(ms []audience.Member) []audience.Member { return append(ms[:2:2], ms[3:]...) },
			tainted: []int{2},
			remove:  1, removed: 2,
		},
		{
			name: "gone, sharing its e-mail with a member who stays: the e-mail stays",
			change: func(ms []audience.Member) []audience.Member {
				ms[4].Fields[audience.Email] = ms[2].Fields[audience.Email]
				return append(ms[:2:2], ms[3:]...)
			},
			tainted: []int{2},
			// Member 4 now carries 2's e-mail: an update that drops its
			// own; 2 is gone and only its phone goes.
			update: 1, remove: 1, added: 2, removed: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			ms := members(0, 10)
			for i := range ms {
				ms[i].Fields[audience.Phone] = fmt.Sprintf("+1 202 555 %04d", 100+i)
			}
			_, err := b.run(ms, engine.Options{})
			require.NoError(t, err)
			var keys []audience.MemberKey
			for _, i := range tt.tainted {
				keys = append(keys, key(ms[i]))
			}
			require.NoError(t, b.store.Taint(context.Background(), testScope, keys))
			b.dest.ResetCalls()

			next := tt.change(append([]audience.Member(nil), ms...))
			rep, err := b.run(next, engine.Options{Force: true})
			require.NoError(t, err)
			d := dest(rep)
			require.Equal(t, tt.update, d.Planned.Update, "updates")
			require.Equal(t, tt.remove, d.Planned.Remove, "removes")
			total := 0
			for _, n := range sentIDs(b.dest.Calls(), connectors.OpAdd) {
				total += n
			}
			require.Equal(t, tt.added, total, "identifiers added")
			total = 0
			for _, n := range sentIDs(b.dest.Calls(), connectors.OpRemove) {
				total += n
			}
			require.Equal(t, tt.removed, total, "identifiers removed")
			require.Equal(t, held(t, next), b.dest.Held(b.audienceID()))

			// The re-send confirmed them: nothing more to do.
			rep, err = b.run(next, engine.Options{})
			require.NoError(t, err)
			require.Equal(t, int64(len(next)), dest(rep).Planned.Unchanged)
		})
	}
}

// TestRemovalsAreWrittenAhead checks, at the instant each destructive
// request reaches the platform, that state already marks the members it
// may change as unconfirmed: a crash then cannot leave state ahead of the
// platform.
func TestRemovalsAreWrittenAhead(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		opts engine.Options
		// reset keeps the fake's RemoveAll; without it the destination is
		// like X, which has none.
		reset bool
		// checked is how many members the checks must have seen.
		checked int
	}{
		{name: "removes and updates", opts: engine.Options{Force: true}, checked: 101},
		{name: "full refresh with clears", opts: engine.Options{Force: true, FullRefresh: true}, checked: 301},
		{name: "full refresh with removeAll", opts: engine.Options{Force: true, FullRefresh: true}, reset: true, checked: 300},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			_, err := b.run(members(0, 300), engine.Options{})
			require.NoError(t, err)
			next := members(100, 300)
			next[0].Fields[audience.Email] = "changed@example.com"

			var mu sync.Mutex // batches arrive concurrently
			checked := 0
			requireTainted := func(keys []audience.MemberKey) {
				mu.Lock()
				defer mu.Unlock()
				now := map[audience.MemberKey]audience.Fingerprint{}
				require.NoError(t, b.store.Members(context.Background(), testScope, func(e state.Entry) error {
					now[e.Key] = e.Fingerprint
					return nil
				}))
				if keys == nil { // everything
					for k := range now {
						keys = append(keys, k)
					}
				}
				for _, k := range keys {
					fp, ok := now[k]
					require.True(t, ok, "a member being removed is still in state")
					require.Equal(t, audience.Fingerprint{}, fp, "a member being removed is tainted first")
					checked++
				}
			}
			w := &aheadChecker{plainDest: plainDest{b.dest}, check: func(bt connectors.Batch) {
				if bt.Op != connectors.OpRemove {
					return
				}
				keys := make([]audience.MemberKey, len(bt.Members))
				for i, m := range bt.Members {
					keys[i] = m.Key
				}
				requireTainted(keys)
			}}
			var d connectors.Destination = w
			if tt.reset {
				d = &resettableChecker{aheadChecker: w, before: func() { requireTainted(nil) }}
			}
			_, err = b.run(next, tt.opts, func(j *engine.Job) { j.Targets[0].Dest = d })
			require.NoError(t, err)
			require.Equal(t, tt.checked, checked)
			require.Equal(t, held(t, next), b.dest.Held(b.audienceID()))
			require.Equal(t, int64(len(next)), b.count())
		})
	}
}

// aheadChecker runs check on every batch before the destination sees it.
type aheadChecker struct {
	plainDest
	check func(connectors.Batch)
}

func (c *aheadChecker) Apply(ctx context.Context, a connectors.Audience, bt connectors.Batch) (connectors.BatchResult, error) {
	c.check(bt)
	return c.plainDest.Apply(ctx, a, bt)
}

// resettableChecker is an aheadChecker with the fake's RemoveAll, which
// runs before first.
type resettableChecker struct {
	*aheadChecker
	before func()
}

func (r *resettableChecker) RemoveAll(ctx context.Context, a connectors.Audience) error {
	r.before()
	return r.d.RemoveAll(ctx, a)
}

// sessionReplacer is a replacer whose session survives a failure: it
// records batch 1 and 2, fails while failing is set, and reports the
// session resumed when asked to resume one it has open.
type sessionReplacer struct {
	replacer
	failing bool
	open    string
	resumes []connectors.ReplaceSession
}

func (s *sessionReplacer) ReplaceInSession(ctx context.Context, a connectors.Audience, total int, ms iter.Seq2[connectors.Upload, error],
	resume connectors.ReplaceSession, record func(connectors.ReplaceSession) error) (connectors.BatchResult, bool, error) {
	s.resumes = append(s.resumes, resume)
	resumed := resume.ID != "" && resume.ID == s.open
	id := "s-new"
	if resumed {
		id = resume.ID
	}
	for batch := 1; batch <= 2; batch++ {
		if err := record(connectors.ReplaceSession{ID: id, Batch: batch}); err != nil {
			return connectors.BatchResult{}, false, err
		}
	}
	if s.failing {
		s.open = id
		return connectors.BatchResult{}, false, connectors.Fatal(errors.New("the platform went away mid-session"))
	}
	res, err := s.Replace(ctx, a, total, ms)
	s.open = ""
	return res, resumed, err
}

// TestReplaceSessionIsRecordedAndFinished: a replace session a failed run
// left open is recorded; the next run, though plain, finishes it with the
// whole audience, removes for real the members gone since (the session may
// hold them), and forgets the session.
func TestReplaceSessionIsRecordedAndFinished(t *testing.T) {
	t.Parallel()
	b := setup(t)
	r := &sessionReplacer{replacer: replacer{plainDest: plainDest{b.dest}}}
	use := func(j *engine.Job) { j.Targets[0].Dest = r }
	_, err := b.run(members(0, 40), engine.Options{}, use)
	require.NoError(t, err)

	r.failing = true
	_, err = b.run(members(0, 40), engine.Options{FullRefresh: true}, use)
	require.Error(t, err)
	raw, err := b.store.Intent(context.Background(), testScope)
	require.NoError(t, err)
	require.JSONEq(t, `{"replace":{"id":"s-new","batch":2}}`, string(raw), "the last batch sent is recorded")

	r.failing = false
	b.dest.ResetCalls()
	next := members(5, 40)
	rep, err := b.run(next, engine.Options{Force: true}, use)
	require.NoError(t, err)
	require.Equal(t, []connectors.ReplaceSession{{}, {ID: "s-new", Batch: 2}}, r.resumes, "the failed run began afresh, the next resumed")
	require.Equal(t, int64(35), dest(rep).Planned.Update, "every member is re-sent: state was tainted for the session")
	require.Equal(t, 5, len(sentIDs(b.dest.Calls(), connectors.OpRemove)), "the gone members are removed from the resumed session's audience")
	require.Equal(t, held(t, next), b.dest.Held(b.audienceID()))
	_, err = b.store.Intent(context.Background(), testScope)
	require.ErrorIs(t, err, state.ErrNotFound, "the finished session is forgotten")

	rep, err = b.run(next, engine.Options{}, use)
	require.NoError(t, err)
	require.Equal(t, int64(35), dest(rep).Planned.Unchanged, "a plain run again")
}
