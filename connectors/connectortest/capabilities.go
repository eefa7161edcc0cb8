package connectortest

import (
	"context"
	"errors"
	"iter"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/connectors"
)

// maxFeedbackPolls is how many polls a request may stay pending for.
const maxFeedbackPolls = 10

// errInterrupt is what the suite's record and member iterators fail with
// to interrupt a replace.
var errInterrupt = errors.New("connectortest: interrupted on purpose")

// capabilityChecks checks the optional capabilities probe implements and
// logs those it does not.
func capabilityChecks(t *testing.T, h DestinationHarness, probe connectors.Destination) {
	t.Helper()
	for _, c := range []struct {
		name   string
		has    bool
		checks func(*testing.T, DestinationHarness)
		what   string // what goes unchecked without it
	}{
		{"Resetter", implements[connectors.Resetter](probe), resetterChecks, "RemoveAll"},
		{"Replacer", implements[connectors.Replacer](probe), replacerChecks, "Replace"},
		{"SessionReplacer", implements[connectors.SessionReplacer](probe), sessionChecks, "resuming a replace session"},
		{"FeedbackPoller", implements[connectors.FeedbackPoller](probe), feedbackChecks, "Feedback"},
	} {
		if !c.has {
			t.Logf("%T does not implement connectors.%s: %s is not checked", probe, c.name, c.what)
			continue
		}
		t.Run(c.name, func(t *testing.T) { c.checks(t, h) })
	}
}

// check runs f as a parallel subtest over a fresh setup.
func check(t *testing.T, h DestinationHarness, name string, f func(t *testing.T, s *destSetup)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		t.Parallel()
		f(t, setup(t, h))
	})
}

// implements reports whether d has the capability T.
func implements[T any](d connectors.Destination) bool {
	_, ok := d.(T)
	return ok
}

func resetterChecks(t *testing.T, h DestinationHarness) {
	check(t, h, "EmptiesAudience", func(t *testing.T, s *destSetup) {
		r := s.dest.(connectors.Resetter)
		s.apply(t, connectors.OpAdd, s.uploads(0, 5))
		removeAll := func(ctx context.Context) error { return r.RemoveAll(ctx, s.aud) }
		s.inRun(t, removeAll)
		s.requireMembers(t, nil)
		s.inRun(t, removeAll) // emptying an empty audience is no error
		s.requireMembers(t, nil)
		again := s.uploads(10, 2)
		s.apply(t, connectors.OpAdd, again)
		s.requireMembers(t, again)
	})
}

func replacerChecks(t *testing.T, h DestinationHarness) {
	check(t, h, "EndsWithExactlyNewMembers", func(t *testing.T, s *destSetup) {
		r := s.dest.(connectors.Replacer)
		s.apply(t, connectors.OpAdd, s.uploads(0, 5))
		next := s.uploads(3, 6) // keeps two, drops three, adds four
		s.inRun(t, func(ctx context.Context) error {
			res, err := r.Replace(ctx, s.aud, len(next), members(next, -1))
			require.Empty(t, res.Rejected, "valid members must not be rejected")
			return err
		})
		s.requireMembers(t, next)
	})

	check(t, h, "ReadErrorReturned", func(t *testing.T, s *destSetup) {
		r := s.dest.(connectors.Replacer)
		next := s.uploads(0, 4)
		s.inRun(t, func(ctx context.Context) error {
			_, err := r.Replace(ctx, s.aud, len(next), members(next, 2))
			require.ErrorIs(t, err, errInterrupt, "Replace returns the error of the members it reads")
			return nil
		})
	})
}

// sessionChecks interrupts a replace session of more than one request
// and finishes it as the next run would.
func sessionChecks(t *testing.T, h DestinationHarness) {
	check(t, h, "InterruptedThenResumedOrAbandoned", func(t *testing.T, s *destSetup) {
		r := s.dest.(connectors.SessionReplacer)
		s.apply(t, connectors.OpAdd, s.uploads(0, 3))
		// One member more than a request carries: two requests at least.
		all := s.uploads(100, s.dest.Info().MaxBatch+1)

		// Run 1 stops when the second batch is about to go out, as a
		// crash after the first was acknowledged would.
		var recorded []connectors.ReplaceSession
		record := func(rs connectors.ReplaceSession) error {
			recorded = append(recorded, rs)
			if len(recorded) == 2 {
				return errInterrupt
			}
			return nil
		}
		s.inRun(t, func(ctx context.Context) error {
			_, _, err := r.ReplaceInSession(ctx, s.aud, len(all), members(all, -1), connectors.ReplaceSession{}, record)
			require.ErrorIs(t, err, errInterrupt, "a failing record stops the session with its error")
			return nil
		})
		require.Len(t, recorded, 2, "record is called before each batch")
		first := recorded[0]
		require.NotEmpty(t, first.ID, "the recorded session names the platform's session")
		require.Equal(t, 1, first.Batch, "a new session starts at batch 1")
		require.Equal(t, connectors.ReplaceSession{ID: first.ID, Batch: 2}, recorded[1])

		// replaceFrom replaces the audience with ups in a run of its own,
		// handed resume, and returns whether the session was resumed.
		replaceFrom := func(ups []connectors.Upload, resume connectors.ReplaceSession) (resumed bool) {
			recorded = nil
			record := func(rs connectors.ReplaceSession) error { recorded = append(recorded, rs); return nil }
			s.inRun(t, func(ctx context.Context) error {
				var err error
				_, resumed, err = r.ReplaceInSession(ctx, s.aud, len(ups), members(ups, -1), resume, record)
				return err
			})
			require.NotEmpty(t, recorded, "record is called before each batch")
			return resumed
		}

		// Run 2 finishes the session the platform still holds open.
		resume := recorded[1]
		require.True(t, replaceFrom(all, resume), "a session interrupted moments ago is still open on the platform and must be resumed")
		require.Equal(t, resume, recorded[0], "a resumed session goes on from the recorded batch")
		s.requireMembers(t, all)

		// Run 3 is handed that session again, finished by now: the
		// platform has it no more, so a new session replaces the audience.
		next := s.uploads(500, 4)
		require.False(t, replaceFrom(next, resume), "a session the platform no longer has open is not resumed")
		require.NotEqual(t, resume.ID, recorded[0].ID, "a new session has a new id")
		require.Equal(t, 1, recorded[0].Batch)
		s.requireMembers(t, next)
	})
}

func feedbackChecks(t *testing.T, h DestinationHarness) {
	check(t, h, "PendingThenDone", func(t *testing.T, s *destSetup) {
		fp := s.dest.(connectors.FeedbackPoller)
		s.inRun(t, func(ctx context.Context) error {
			res, err := s.dest.Apply(ctx, s.aud, connectors.Batch{Op: connectors.OpAdd, Seq: 1, Members: s.uploads(0, 5)})
			require.NoError(t, err)
			require.NotEmpty(t, res.RequestID, "a FeedbackPoller's Apply returns the request id to poll")
			ids := []string{res.RequestID}

			rep, err := fp.Feedback(ctx, s.aud, ids)
			require.NoError(t, err)
			require.True(t, rep.Status != "" || len(rep.Counts) > 0 || rep.Size > 0,
				"feedback on a request says something about it: %+v", rep)
			polls := 1
			for len(rep.Pending) > 0 {
				require.Subset(t, ids, rep.Pending, "only requests asked about are pending")
				require.Less(t, polls, maxFeedbackPolls, "a request stayed pending for %d polls", polls)
				rep, err = fp.Feedback(ctx, s.aud, rep.Pending)
				require.NoError(t, err)
				polls++
			}
			t.Logf("the request was done after %d polls", polls)

			rep, err = fp.Feedback(ctx, s.aud, nil)
			require.NoError(t, err, "polling with nothing pending")
			require.Empty(t, rep.Pending, "nothing asked about, nothing pending")

			unknown := "connectortest-unknown-request"
			rep, err = fp.Feedback(ctx, s.aud, []string{unknown})
			require.NoError(t, err, "a request id the platform does not know is no error")
			require.NotContains(t, rep.Pending, unknown, "a request id the platform does not know is not kept pending")
			return nil
		})
	})
}

// members yields ups, failing with errInterrupt after failAfter of them
// (never when failAfter < 0).
func members(ups []connectors.Upload, failAfter int) iter.Seq2[connectors.Upload, error] {
	return func(yield func(connectors.Upload, error) bool) {
		for i, u := range ups {
			if i == failAfter {
				yield(connectors.Upload{}, errInterrupt)
				return
			}
			if !yield(u, nil) {
				return
			}
		}
	}
}
