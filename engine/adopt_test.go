package engine_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/engine"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/state"
)

// sizedPlain is a destination that can tell an audience's size but not
// empty it (X).
type sizedPlain struct{ plainDest }

func (s sizedPlain) AudienceSize(ctx context.Context, a connectors.Audience) (connectors.AudienceSize, error) {
	return s.d.AudienceSize(ctx, a)
}

// unknownSize is a sizer that has no figure for the audience (X below
// 100 matched users).
type unknownSize struct{ plainDest }

func (unknownSize) AudienceSize(context.Context, connectors.Audience) (connectors.AudienceSize, error) {
	return connectors.AudienceSize{}, nil
}

// TestLostStateRefusesExistingAudience: a sync filled an audience, then
// its state was lost (a new state file). Runs without a record of the
// audience must not silently take it over: they are refused before any
// upload unless they adopt it, or rebuild it where the destination can
// empty it. A destination that cannot tell the size goes ahead, warning.
func TestLostStateRefusesExistingAudience(t *testing.T) {
	t.Parallel()
	before, after := members(0, 30), members(10, 40) // 0..9 left while state was lost
	tests := []struct {
		name string
		// wrap turns the fake into the destination under test.
		wrap    func(b *bundle) connectors.Destination
		opts    engine.Options
		refused bool
		// exact: the audience ends up exactly the source; otherwise it
		// also keeps the members that left.
		exact bool
		warns bool
	}{
		{"plain run is refused", nil, engine.Options{}, true, false, false},
		{"forced run is refused too", nil, engine.Options{Force: true}, true, false, false},
		{"adopt takes it over, keeping the departed", nil, engine.Options{Adopt: true}, false, false, false},
		{"full refresh rebuilds it", nil, engine.Options{FullRefresh: true}, false, true, false},
		{"full refresh cannot rebuild what cannot be emptied", func(b *bundle) connectors.Destination { return sizedPlain{plainDest{b.dest}} },
			engine.Options{FullRefresh: true}, true, false, false},
		{"adopt where it cannot be emptied", func(b *bundle) connectors.Destination { return sizedPlain{plainDest{b.dest}} },
			engine.Options{Adopt: true}, false, false, false},
		{"no size capability: warned, not refused", func(b *bundle) connectors.Destination { return plainDest{b.dest} },
			engine.Options{}, false, false, true},
		{"size unknown: warned, not refused", func(b *bundle) connectors.Destination { return unknownSize{plainDest{b.dest}} },
			engine.Options{}, false, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			first := setup(t)
			_, err := first.run(before, engine.Options{})
			require.NoError(t, err)
			audID := first.audienceID()

			// The same platform, a new state file.
			b := setupAt(t, filepath.Join(t.TempDir(), "new.db"), first.dest)
			core, logs := observer.New(zapcore.WarnLevel)
			b.eng.Logger = zap.New(core)
			var mods []func(*engine.Job)
			if tt.wrap != nil {
				d := tt.wrap(b)
				mods = append(mods, func(j *engine.Job) { j.Targets[0].Dest = d })
			}
			b.dest.ResetCalls()
			rep, err := b.run(after, tt.opts, mods...)
			if tt.refused {
				var ue *engine.UnrecordedAudienceError
				require.ErrorAs(t, err, &ue)
				require.Equal(t, audID, ue.AudienceID)
				require.Equal(t, int64(30), ue.Size.Members)
				require.Contains(t, err.Error(), "--adopt")
				require.Equal(t, ue.CanEmpty, tt.wrap == nil, "only a destination that can empty the audience is offered --full-refresh")
				require.Equal(t, report.StatusFailed, dest(rep).Status)
				require.Empty(t, b.dest.Calls(), "nothing is uploaded to a refused audience")
				require.Equal(t, held(t, before), b.dest.Held(audID))
				_, err := b.store.AudienceID(t.Context(), state.Scope{Sync: "test-sync", Destination: "dest"})
				require.ErrorIs(t, err, state.ErrNotFound, "a refused audience stays unrecorded, so the next run asks again")
				_, err = b.run(after, engine.Options{}, mods...)
				require.ErrorAs(t, err, &ue)
				return
			}
			require.NoError(t, err)
			require.Equal(t, report.StatusSucceeded, dest(rep).Status)
			require.Equal(t, audID, b.audienceID())
			want := held(t, after)
			if !tt.exact {
				want = held(t, members(0, 40))
			}
			require.Equal(t, want, b.dest.Held(audID))
			require.Equal(t, tt.warns, logs.FilterMessageSnippet("state has no record").Len() > 0, "warning: %v", logs.All())
		})
	}
}

// TestUnrecordedEmptyAudienceIsUsed: an audience found by name that holds
// no members (one created by a run that crashed before recording its id,
// or made by hand) is used as if new.
func TestUnrecordedEmptyAudienceIsUsed(t *testing.T) {
	t.Parallel()
	b := setup(t)
	aud, err := b.dest.Ensure(t.Context(), connectors.AudienceSpec{Name: "Test audience", Create: true})
	require.NoError(t, err)
	rep, err := b.run(members(0, 20), engine.Options{})
	require.NoError(t, err)
	require.Equal(t, report.StatusSucceeded, dest(rep).Status)
	require.Equal(t, aud.ID, b.audienceID())
	require.Equal(t, held(t, members(0, 20)), b.dest.Held(aud.ID))
}

// answerLost applies the first add batch and then fails it, as a
// connection that reset after the platform did the work: the platform
// holds members that state never heard of.
type answerLost struct {
	plainDest
	lost bool
}

func (a *answerLost) AudienceSize(ctx context.Context, aud connectors.Audience) (connectors.AudienceSize, error) {
	return a.d.AudienceSize(ctx, aud)
}

func (a *answerLost) Apply(ctx context.Context, aud connectors.Audience, b connectors.Batch) (connectors.BatchResult, error) {
	res, err := a.d.Apply(ctx, aud, b)
	if err == nil && !a.lost {
		a.lost = true
		return connectors.BatchResult{}, connectors.Fatal(errors.New("connection reset"))
	}
	return res, err
}

// TestCrashDuringFirstUploadIsNotRefused: a first run created the
// audience, recorded its id, and the platform applied a batch whose
// answer was lost, so state holds the id and no member. The next run is
// not refused (the audience is this sync's own) and converges.
func TestCrashDuringFirstUploadIsNotRefused(t *testing.T) {
	t.Parallel()
	b := setup(t)
	d := &answerLost{plainDest: plainDest{b.dest}}
	use := func(j *engine.Job) { j.Targets[0].Dest = d; j.Targets[0].Concurrency = 1 }
	ms := members(0, 250) // three batches of 100
	_, err := b.run(ms, engine.Options{}, use)
	require.Error(t, err)
	require.Zero(t, b.count(), "the lost batch was not committed")
	held0 := b.dest.Held(b.audienceID())
	require.NotEmpty(t, held0, "the platform applied the lost batch")

	rep, err := b.run(ms, engine.Options{}, use)
	require.NoError(t, err)
	require.Equal(t, report.StatusSucceeded, dest(rep).Status)
	require.Equal(t, held(t, ms), b.dest.Held(b.audienceID()))
	require.Equal(t, int64(len(ms)), b.count())
}
