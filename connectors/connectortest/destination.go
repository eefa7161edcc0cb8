package connectortest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/retry/retrytest"
)

// DestinationHarness builds the destination under test.
type DestinationHarness struct {
	// New returns a destination over a fresh, empty remote (a sandbox, an
	// httptest fake, a temporary directory) and the suite's view of that
	// remote. Each call must be independent: subtests run in parallel.
	New func(t *testing.T) (connectors.Destination, Remote)
	// Upload returns the i'th valid member, distinct for distinct i. Nil
	// uses SyntheticUpload with the destination's kinds, which covers
	// destinations taking a hashed e-mail address or phone number.
	Upload func(i int) connectors.Upload
	// RejectingMember returns a member the destination or its platform
	// refuses on its own while accepting the rest of the batch. Nil when
	// the destination never refuses single members; that check is skipped.
	RejectingMember func() connectors.Upload
	// Audience is what the suite ensures; the zero value asks for an
	// audience named "audiencesync conformance", created if absent.
	Audience connectors.AudienceSpec
}

// Remote is the suite's view of a destination's remote audience.
type Remote struct {
	// Members returns the members the remote audience holds, each keyed
	// by Identity of its identifier values.
	Members func(t *testing.T) map[string]bool
	// RequestSizes, if set, returns how many members each request the
	// remote has received so far carried.
	RequestSizes func(t *testing.T) []int
	// Faults, if set, injects failures into the remote; the suite then
	// checks how the destination reports them (see Destination). Nil for
	// a destination with no remote to fail (the file destination); the
	// suite logs that those checks do not apply.
	Faults Faults
}

// SyntheticUpload returns the i'th made-up member carrying a hashed e-mail
// address and phone number, as far as kinds include them.
func SyntheticUpload(kinds []audience.Kind, i int) connectors.Upload {
	u := connectors.Upload{
		Key:     audience.KeyFromSource(fmt.Sprintf("c-%06d", i)),
		Consent: audience.Consent{AdUserData: audience.ConsentGranted, AdPersonalization: audience.ConsentGranted},
	}
	if slices.Contains(kinds, audience.Email) {
		u.Identifiers = append(u.Identifiers, hashed(audience.Email, fmt.Sprintf("user%06d@example.com", i)))
	}
	if slices.Contains(kinds, audience.Phone) {
		u.Identifiers = append(u.Identifiers, hashed(audience.Phone, fmt.Sprintf("+1555%07d", i)))
	}
	return u
}

func hashed(k audience.Kind, v string) audience.Identifier {
	sum := sha256.Sum256([]byte(v))
	return audience.Identifier{Kind: k, Value: hex.EncodeToString(sum[:]), Hashed: true}
}

// Destination runs the destination conformance suite.
func Destination(t *testing.T, h DestinationHarness) {
	t.Helper()
	require.NotNil(t, h.New, "DestinationHarness.New is required")

	t.Run("Info", func(t *testing.T) {
		t.Parallel()
		d, _ := h.New(t)
		t.Cleanup(func() { _ = d.Close() })
		info := d.Info()
		require.NotNil(t, info.Platform, "Info().Platform names the platform")
		require.NotNil(t, info.Platform.Profile, "Info().Platform has a normalisation profile")
		require.NotEmpty(t, info.Kinds, "Info().Kinds lists accepted kinds")
		require.NotContains(t, info.Kinds, audience.KindInvalid)
		require.Positive(t, info.MaxBatch, "Info().MaxBatch must be positive")
		require.Positive(t, info.Concurrency, "Info().Concurrency must be positive")
		require.GreaterOrEqual(t, info.MaxIdentifiers, 0)
		require.GreaterOrEqual(t, info.RefreshWindow, time.Duration(0))
	})

	t.Run("EnsureIdempotent", func(t *testing.T) {
		t.Parallel()
		s := setup(t, h)
		again, err := s.dest.Ensure(t.Context(), s.spec)
		require.NoError(t, err)
		require.Equal(t, s.aud.ID, again.ID, "ensuring the same audience twice must find the first")
		require.False(t, again.Created, "the second Ensure must not create")
	})

	t.Run("AddIdempotent", func(t *testing.T) {
		t.Parallel()
		s := setup(t, h)
		batch := s.uploads(0, 5)
		s.apply(t, connectors.OpAdd, batch)
		s.apply(t, connectors.OpAdd, batch)
		s.requireMembers(t, batch)
	})

	t.Run("RemoveIdempotent", func(t *testing.T) {
		t.Parallel()
		s := setup(t, h)
		all := s.uploads(0, 5)
		s.apply(t, connectors.OpAdd, all)
		gone := all[1:3]
		s.apply(t, connectors.OpRemove, gone)
		s.apply(t, connectors.OpRemove, gone)
		s.apply(t, connectors.OpRemove, s.uploads(100, 2)) // never added
		s.requireMembers(t, []connectors.Upload{all[0], all[3], all[4]})
	})

	t.Run("FullBatch", func(t *testing.T) {
		t.Parallel()
		s := setup(t, h)
		limit := s.dest.Info().MaxBatch
		batch := s.uploads(0, limit)
		res := s.apply(t, connectors.OpAdd, batch)
		require.Empty(t, res.Rejected, "valid members must not be rejected")
		s.requireMembers(t, batch)
		if s.remote.RequestSizes != nil {
			sizes := s.remote.RequestSizes(t)
			total := 0
			for _, n := range sizes {
				require.LessOrEqual(t, n, limit, "a request exceeded MaxBatch")
				total += n
			}
			require.GreaterOrEqual(t, total, limit, "the remote saw fewer members than were sent")
		}
	})

	t.Run("PartialRejection", func(t *testing.T) {
		t.Parallel()
		if h.RejectingMember == nil {
			t.Skip("destination never refuses single members (DestinationHarness.RejectingMember is nil)")
		}
		s := setup(t, h)
		good := s.uploads(0, 2)
		bad := h.RejectingMember()
		res := s.apply(t, connectors.OpAdd, []connectors.Upload{good[0], bad, good[1]})
		require.Len(t, res.Rejected, 1, "exactly the refused member must be reported")
		require.Equal(t, 1, res.Rejected[0].Index, "Rejected indexes the batch")
		require.NotEmpty(t, res.Rejected[0].Reason, "a rejection says why")
		s.requireMembers(t, good)
	})

	t.Run("ConcurrentApply", func(t *testing.T) {
		t.Parallel()
		s := setup(t, h)
		n := s.dest.Info().Concurrency
		if n < 2 {
			t.Skip("destination takes one Apply at a time")
		}
		var want []connectors.Upload
		batches := make([][]connectors.Upload, n)
		for i := range batches {
			batches[i] = s.uploads(i*10, 10)
			want = append(want, batches[i]...)
		}
		s.inRun(t, func(ctx context.Context) error {
			var wg sync.WaitGroup
			errs := make([]error, n)
			for i, b := range batches {
				wg.Go(func() {
					_, errs[i] = s.dest.Apply(ctx, s.aud, connectors.Batch{Op: connectors.OpAdd, Seq: i + 1, Members: b})
				})
			}
			wg.Wait()
			for _, err := range errs {
				require.NoError(t, err)
			}
			return nil
		})
		s.requireMembers(t, want)
	})

	t.Run("CloseTwice", func(t *testing.T) {
		t.Parallel()
		d, _ := h.New(t)
		require.NoError(t, d.Close())
		require.NoError(t, d.Close(), "a second Close must be harmless")
	})

	// One probe destination says which of the optional checks apply.
	probe, remote := h.New(t)
	_ = probe.Close()
	if remote.Faults != nil {
		t.Run("Errors", func(t *testing.T) { errorChecks(t, h) })
	} else {
		t.Logf("%T: Remote.Faults is nil, so the error vocabulary (expired token, rate limit, server error, lost answer) is not checked", probe)
	}
	capabilityChecks(t, h, probe)
}

// destSetup is one subtest's destination, remote and ensured audience.
type destSetup struct {
	h      DestinationHarness
	dest   connectors.Destination
	remote Remote
	spec   connectors.AudienceSpec
	aud    connectors.Audience
	runs   int
	// clock is the fake clock the retries of send wait on.
	clock *retrytest.Clock
}

func setup(t *testing.T, h DestinationHarness) *destSetup {
	t.Helper()
	d, remote := h.New(t)
	t.Cleanup(func() { _ = d.Close() })
	require.NotNil(t, remote.Members, "Remote.Members is required")
	spec := h.Audience
	if spec == (connectors.AudienceSpec{}) {
		spec = connectors.AudienceSpec{Name: "audiencesync conformance", Create: true}
	}
	aud, err := d.Ensure(t.Context(), spec)
	require.NoError(t, err)
	require.NotEmpty(t, aud.ID, "Ensure must return the audience id")
	return &destSetup{h: h, dest: d, remote: remote, spec: spec, aud: aud, clock: retrytest.NewClock(time.Now())}
}

// uploads returns n valid members starting at from.
func (s *destSetup) uploads(from, n int) []connectors.Upload {
	out := make([]connectors.Upload, n)
	for i := range out {
		if s.h.Upload != nil {
			out[i] = s.h.Upload(from + i)
		} else {
			out[i] = SyntheticUpload(s.dest.Info().Kinds, from+i)
		}
	}
	return out
}

// inRun runs f between BeginRun and EndRun when the destination observes
// runs. Run ids sort in the order runs were made.
func (s *destSetup) inRun(t *testing.T, f func(ctx context.Context) error) {
	t.Helper()
	ctx := t.Context()
	s.runs++
	run := connectors.RunInfo{ID: fmt.Sprintf("run-%04d", s.runs), Sync: "conformance", Started: time.Now()}
	obs, observing := s.dest.(connectors.RunObserver)
	if observing {
		require.NoError(t, obs.BeginRun(ctx, run))
	}
	err := f(ctx)
	if observing {
		require.NoError(t, obs.EndRun(ctx, run, err == nil))
	}
	require.NoError(t, err)
}

// apply sends one batch in a run of its own.
func (s *destSetup) apply(t *testing.T, op connectors.Op, members []connectors.Upload) connectors.BatchResult {
	t.Helper()
	var res connectors.BatchResult
	s.inRun(t, func(ctx context.Context) error {
		var err error
		res, err = s.dest.Apply(ctx, s.aud, connectors.Batch{Op: op, Seq: 1, Members: members})
		return err
	})
	for _, r := range res.Rejected {
		require.True(t, r.Index >= 0 && r.Index < len(members), "rejection index %d outside the batch", r.Index)
	}
	return res
}

func (s *destSetup) requireMembers(t *testing.T, want []connectors.Upload) {
	t.Helper()
	wantSet := make(map[string]bool, len(want))
	for _, u := range want {
		wantSet[IdentityOf(u.Identifiers)] = true
	}
	got := s.remote.Members(t)
	if len(got) != len(wantSet) || !maps.Equal(got, wantSet) {
		var missing, extra int
		for k := range wantSet {
			if !got[k] {
				missing++
			}
		}
		for k := range got {
			if !wantSet[k] {
				extra++
			}
		}
		t.Fatalf("remote audience holds %d members, want %d: %d missing, %d unexpected", len(got), len(wantSet), missing, extra)
	}
}
