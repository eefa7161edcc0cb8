package connectortest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
)

// SourceHarness builds the source under test.
type SourceHarness struct {
	// New returns a source whose audience holds exactly members, and the
	// request that reads it: Fields mapping each of Kinds, Key naming the
	// key field and Consent the consent fields (unless NoKey, NoConsent).
	// A source writes unspecified consent as no value (see ConsentValue).
	New func(t *testing.T, members []audience.Member) (connectors.Source, connectors.ReadRequest)
	// Failing returns a source that yields members but fails after the
	// first after of them, as a dropped connection or a corrupt file does.
	// Nil when the connector cannot simulate one; that check is skipped.
	Failing func(t *testing.T, members []audience.Member, after int) (connectors.Source, connectors.ReadRequest)
	// Kinds are the kinds synthetic members carry; nil for DefaultKinds.
	Kinds []audience.Kind
	// NoKey says the source has no primary key: members carry none.
	NoKey bool
	// NoConsent says the source carries no consent: members carry none.
	NoConsent bool
	// CancelWithin is how many members a source may still emit once its
	// context is cancelled; 0 means 2048.
	CancelWithin int

	// The checks below are for sources that read a remote system page by
	// page (a CRM's API); each is off at its zero value.

	// PageSize is how many records the source reads per request (a page
	// of memberships, a batch of records). ReadsEveryMember then also
	// reads audiences one short of a page, of exactly one and two pages,
	// and one past them, where paging goes wrong.
	PageSize int
	// Attributes says the source hands over attributes: synthetic members
	// then carry values of SyntheticAttributes (some missing), and New
	// must store each under its Field and return a request whose
	// Attributes are SyntheticAttributes, in order (each Field may be
	// renamed to the source's spelling).
	Attributes bool
	// Declares says the source declares how many records the audience
	// holds (connectors.DeclareCount) before it hands them over; the
	// suite checks the figure against what the read yields.
	Declares bool
	// MissingAudience names an audience no source New builds holds (a
	// list or campaign that does not exist). When set, the source must be
	// a connectors.AudienceChecker: checking it is an error that contains
	// MissingAdvice (what the user should do), checking the audience New
	// returns is not, and reading it fails having emitted nobody.
	MissingAudience string
	MissingAdvice   string
}

// cancelMembers is large enough that a source checking its context every
// thousand records or so cannot finish before it notices.
const cancelMembers = 10000

// Source runs the source conformance suite.
func Source(t *testing.T, h SourceHarness) {
	t.Helper()
	require.NotNil(t, h.New, "SourceHarness.New is required")
	if h.Kinds == nil {
		h.Kinds = DefaultKinds
	}
	if h.CancelWithin == 0 {
		h.CancelWithin = 2048
	}
	members := func(n int) []audience.Member {
		ms := SyntheticMembers(n, h.Kinds)
		for i := range ms {
			if h.NoKey {
				ms[i].Key = ""
			}
			if h.NoConsent {
				ms[i].Consent = audience.Consent{}
			}
			if h.Attributes {
				ms[i].Attrs = SyntheticAttrValues(i)
			}
		}
		return ms
	}

	t.Run("ReadsEveryMember", func(t *testing.T) {
		t.Parallel()
		sizes := []int{0, 1, 137}
		if p := h.PageSize; p > 0 {
			sizes = append(sizes, p-1, p, p+1, 2*p, 2*p+1)
		}
		for _, n := range sizes {
			want := members(n)
			src, req := h.New(t, want)
			if h.Attributes {
				requireSyntheticAttributes(t, req.Attributes)
			}
			rec := &declaringRecorder{declared: -1}
			require.NoError(t, src.Read(t.Context(), req, rec), "read %d members", n)
			require.NoError(t, src.Close())
			got := rec.Members()
			for _, m := range got {
				require.GreaterOrEqual(t, m.Line, int64(0), "Member.Line points at the record")
			}
			if diff := cmp.Diff(canonical(want), canonical(got)); diff != "" {
				t.Fatalf("read %d members: mismatch (-want +got):\n%s", n, diff)
			}
			require.Empty(t, rec.Rejections(), "synthetic members are all valid")
			if h.Declares {
				require.Equal(t, int64(n), rec.Declared(), "read %d members: the declared count is the records the read yields", n)
				require.True(t, rec.declaredFirst, "read %d members: the count is declared before the first member", n)
			}
		}
	})

	t.Run("MissingAudienceIsAConfigError", func(t *testing.T) {
		t.Parallel()
		if h.MissingAudience == "" {
			t.Log("the harness names no missing audience (SourceHarness.MissingAudience): not checked")
			return
		}
		src, req := h.New(t, members(3))
		t.Cleanup(func() { _ = src.Close() })
		checker, ok := src.(connectors.AudienceChecker)
		require.True(t, ok, "a source whose audiences can be missing is a connectors.AudienceChecker, so `check` finds a wrong name")
		found, err := checker.CheckAudience(t.Context(), req.Audience)
		require.NoError(t, err, "the audience New made exists")
		require.NotEmpty(t, found, "CheckAudience says what it found")
		_, err = checker.CheckAudience(t.Context(), h.MissingAudience)
		require.Error(t, err, "checking audience %q that does not exist", h.MissingAudience)
		require.Contains(t, err.Error(), h.MissingAdvice, "the error says what to do")
		missing := req
		missing.Audience = h.MissingAudience
		var rec Recorder
		err = readWithin(t, src, t.Context(), missing, &rec)
		require.Error(t, err, "reading an audience that does not exist fails")
		require.Contains(t, err.Error(), h.MissingAdvice)
		require.Empty(t, rec.Members(), "and hands over nobody")
	})

	t.Run("CancelStopsRead", func(t *testing.T) {
		t.Parallel()
		src, req := h.New(t, members(cancelMembers))
		t.Cleanup(func() { _ = src.Close() })
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		after := -1
		emitted := 0
		out := emitFunc(func(*audience.Member) error {
			emitted++
			if after < 0 {
				cancel()
				after = 0
				return nil
			}
			after++
			return nil
		})
		err := readWithin(t, src, ctx, req, out)
		require.ErrorIs(t, err, context.Canceled, "Read must return an error wrapping ctx.Err()")
		require.LessOrEqual(t, after, h.CancelWithin, "source emitted %d members after cancellation", after)
		require.Less(t, emitted, cancelMembers, "source read everything despite cancellation")
	})

	t.Run("CancelledBeforeRead", func(t *testing.T) {
		t.Parallel()
		src, req := h.New(t, members(cancelMembers))
		t.Cleanup(func() { _ = src.Close() })
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		emitted := 0
		err := readWithin(t, src, ctx, req, emitFunc(func(*audience.Member) error { emitted++; return nil }))
		require.ErrorIs(t, err, context.Canceled)
		require.LessOrEqual(t, emitted, h.CancelWithin)
	})

	t.Run("DeadlineStopsRead", func(t *testing.T) {
		t.Parallel()
		src, req := h.New(t, members(cancelMembers))
		t.Cleanup(func() { _ = src.Close() })
		ctx, cancel := context.WithDeadline(t.Context(), time.Now().Add(-time.Second))
		defer cancel()
		err := readWithin(t, src, ctx, req, emitFunc(func(*audience.Member) error { return nil }))
		require.ErrorIs(t, err, context.DeadlineExceeded)
	})

	t.Run("FailurePartWay", func(t *testing.T) {
		t.Parallel()
		if h.Failing == nil {
			t.Skip("harness cannot simulate a source failing part-way (SourceHarness.Failing is nil)")
		}
		ms := members(500)
		for _, after := range []int{0, 1, 250} {
			src, req := h.Failing(t, ms, after)
			var rec Recorder
			err := readWithin(t, src, t.Context(), req, &rec)
			require.Error(t, err, "a source failing after %d members must return an error: the engine would otherwise remove the rest", after)
			require.Less(t, len(rec.Members()), len(ms))
			require.NoError(t, src.Close())
		}
	})

	t.Run("EmitErrorStopsRead", func(t *testing.T) {
		t.Parallel()
		src, req := h.New(t, members(100))
		t.Cleanup(func() { _ = src.Close() })
		errStop := errors.New("connectortest: emitter refuses")
		calls := 0
		err := readWithin(t, src, t.Context(), req, emitFunc(func(*audience.Member) error {
			calls++
			if calls >= 3 {
				return errStop
			}
			return nil
		}))
		require.ErrorIs(t, err, errStop, "Read must return the Emit error")
		require.Equal(t, 3, calls, "Read must stop at the first Emit error")
	})

	t.Run("CloseTwice", func(t *testing.T) {
		t.Parallel()
		src, _ := h.New(t, members(1))
		require.NoError(t, src.Close())
		require.NoError(t, src.Close(), "a second Close must be harmless")
	})
}

// readWithin runs Read, failing the test if it does not return in time.
func readWithin(t *testing.T, src connectors.Source, ctx context.Context, req connectors.ReadRequest, out connectors.Emitter) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- src.Read(ctx, req, out) }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Read did not return within 30s")
		return nil
	}
}

type emitFunc func(*audience.Member) error

func (f emitFunc) Emit(m *audience.Member) error { return f(m) }
func (emitFunc) Reject(string, int64)            {}

// memberView is what the suite compares of a member: its attributes
// spelled out, since audience.Value keeps its contents unexported.
type memberView struct {
	Key     string
	Fields  [audience.NumKinds]string
	Consent audience.Consent
	Attrs   string
}

// canonical orders members by content and leaves out Line, which is the
// source's own business, so sources that do not keep order still compare.
func canonical(ms []audience.Member) []memberView {
	out := make([]memberView, len(ms))
	for i, m := range ms {
		out[i] = memberView{Key: m.Key, Fields: m.Fields, Consent: m.Consent, Attrs: attrsString(m.Attrs)}
	}
	slices.SortFunc(out, func(a, b memberView) int { return strings.Compare(a.String(), b.String()) })
	return out
}

func (m memberView) String() string {
	return fmt.Sprintf("%q %q %d %d %s", m.Key, m.Fields, m.Consent.AdUserData, m.Consent.AdPersonalization, m.Attrs)
}
