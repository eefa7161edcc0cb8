package engine_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/engine"
	"github.com/audiencesync/audiencesync/report"
)

// sentinel is an attribute value distinctive enough to grep for in what
// the run writes.
const sentinel = "zz-attr-sentinel-7f3c"

// attrRequest asks for a string and a number attribute.
func attrRequest(j *engine.Job) {
	j.Request.Attributes = []connectors.Attribute{
		{Name: "stage", Field: "stage", Type: audience.AttrString},
		{Name: "visits", Field: "visits", Type: audience.AttrNumber},
	}
}

// attrMembers are n members whose stage is the sentinel and whose visits
// are their number: 0..n-1. Every tenth has no visits, every
// seventeenth a value of the wrong type (what a buggy source could hand
// over).
func attrMembers(n int) []audience.Member {
	ms := members(0, n)
	for i := range ms {
		visits := audience.NumberValue(float64(i))
		switch {
		case i%10 == 9:
			visits = audience.Value{}
		case i%17 == 16:
			visits = audience.StringValue("12")
		}
		ms[i].Attrs = []audience.Value{audience.StringValue(sentinel), visits}
	}
	return ms
}

// segmentRecorder is a Job.Segment that keeps members with at least
// minVisits visits and records what it was shown.
type segmentRecorder struct {
	minVisits float64
	mu        sync.Mutex
	seen      map[string][]audience.Value // by member key
	now       time.Time
	targets   int
}

func (s *segmentRecorder) segment(t *engine.Target, now time.Time) engine.MemberFilter {
	s.mu.Lock()
	s.now, s.targets = now, s.targets+1
	s.mu.Unlock()
	return func(m *audience.Member) (bool, string) {
		s.mu.Lock()
		s.seen[m.Key] = append([]audience.Value(nil), m.Attrs...)
		s.mu.Unlock()
		v, ok := m.Attrs[1].Number()
		switch {
		case !ok:
			return false, "attribute.missing.visits"
		case v < s.minVisits:
			return false, "segment.filtered"
		}
		return true, ""
	}
}

// TestAttributesReachTheSegmentHookOnly runs a sync whose source hands
// over attributes through a segment that filters on them: the hook sees
// every member's attributes as read, the report counts them and what the
// segment left out, and the distinctive attribute value is in no upload,
// no spool file and no byte of the state store.
func TestAttributesReachTheSegmentHookOnly(t *testing.T) {
	t.Parallel()
	b := setup(t)
	seg := &segmentRecorder{minVisits: 20, seen: map[string][]audience.Value{}}
	ms := attrMembers(200) // above SpillAfter: the adds are spooled
	var spooled [][]byte
	b.dest.OnApply = func(call int) {
		if call == 1 {
			spooled = openSpoolFiles(t)
		}
	}
	rep, err := b.run(ms, engine.Options{}, attrRequest, func(j *engine.Job) { j.Segment = seg.segment })
	require.NoError(t, err)

	require.Equal(t, 1, seg.targets, "the hook is asked once per target")
	require.Equal(t, b.now, seg.now, "with the run's clock")
	require.Len(t, seg.seen, len(ms), "the hook sees every member")
	var kept []audience.Member
	wantExcluded := map[string]int64{}
	for i, m := range ms {
		want := m.Attrs
		if i%17 == 16 && i%10 != 9 {
			want = []audience.Value{m.Attrs[0], audience.InvalidValue()} // a value of the wrong type is invalid
		}
		require.Equal(t, want, seg.seen[m.Key], m.Key)
		v, ok := want[1].Number()
		switch {
		case !ok:
			wantExcluded["attribute.missing.visits"]++
		case v < 20:
			wantExcluded["segment.filtered"]++
		default:
			kept = append(kept, m)
		}
	}

	require.Equal(t, []report.AttributeCount{
		{Name: "stage", Present: 200},
		{Name: "visits", Present: 200 - 20 - 10, Missing: 20, Invalid: 10},
	}, rep.Source.Attributes)
	d := dest(rep)
	require.Equal(t, wantExcluded, d.Excluded)
	require.Equal(t, int64(len(kept)), d.Members)
	require.Equal(t, int64(len(kept)), d.Planned.Add)
	require.Equal(t, held(t, kept), b.dest.Held(b.audienceID()), "only the segment's members are uploaded")

	uploads := fmt.Sprintf("%#v", b.dest.Calls())
	require.NotContains(t, uploads, sentinel, "no upload carries an attribute")
	require.NotEmpty(t, spooled, "the run spooled its adds")
	for _, f := range spooled {
		require.NotContains(t, string(f), sentinel, "no spool file holds an attribute")
	}
	requireNotInStateFiles(t, b.path, sentinel)

	// A member that stops matching leaves the audience on the next run,
	// with no change to its identifiers.
	seg.minVisits = 100
	rep, err = b.run(ms, engine.Options{Force: true}, attrRequest, func(j *engine.Job) { j.Segment = seg.segment })
	require.NoError(t, err)
	var stay []audience.Member
	for _, m := range kept {
		if v, _ := m.Attrs[1].Number(); v >= 100 {
			stay = append(stay, m)
		}
	}
	require.Equal(t, int64(len(kept)-len(stay)), dest(rep).Planned.Remove)
	require.Equal(t, held(t, stay), b.dest.Held(b.audienceID()))
	requireNotInStateFiles(t, b.path, sentinel)
}

// openSpoolFiles reads every spool file the process has open. They are
// unlinked as soon as they are made, so they are found through
// /proc/self/fd.
func openSpoolFiles(t *testing.T) [][]byte {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err, "the spool check reads /proc/self/fd")
	var out [][]byte
	for _, fd := range fds {
		p := filepath.Join("/proc/self/fd", fd.Name())
		target, err := os.Readlink(p)
		if err != nil || !strings.Contains(target, "audiencesync-plan-") {
			continue
		}
		data, err := os.ReadFile(p)
		if err == nil && len(data) > 0 {
			out = append(out, data)
		}
	}
	return out
}

// requireNotInStateFiles checks the bytes of the state store's files (the
// database and its journal) for s, and, so the check cannot pass by
// reading nothing, for the sync's name, which state does hold.
func requireNotInStateFiles(t *testing.T, dbPath, s string) {
	t.Helper()
	files, err := filepath.Glob(dbPath + "*")
	require.NoError(t, err)
	var all strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(f)
		require.NoError(t, err)
		require.NotContains(t, string(data), s, "%s holds an attribute value", filepath.Base(f))
		all.Write(data)
	}
	require.Contains(t, all.String(), "test-sync", "the state files were read")
}

// TestAttributesWithoutSegment checks that attributes cost a sync without
// segments nothing but their counts: every member is uploaded, and
// attributes a source hands over unasked are not kept.
func TestAttributesWithoutSegment(t *testing.T) {
	t.Parallel()
	t.Run("asked, no segment", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		ms := attrMembers(50)
		rep, err := b.run(ms, engine.Options{}, attrRequest)
		require.NoError(t, err)
		require.Equal(t, int64(50), dest(rep).Members)
		require.Nil(t, dest(rep).Excluded)
		require.Equal(t, int64(5), rep.Source.Attributes[1].Missing)
		requireNotInStateFiles(t, b.path, sentinel)
	})
	t.Run("handed over unasked", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		var seen int
		var mu sync.Mutex
		rep, err := b.run(attrMembers(50), engine.Options{}, func(j *engine.Job) {
			j.Segment = func(*engine.Target, time.Time) engine.MemberFilter {
				return func(m *audience.Member) (bool, string) {
					mu.Lock()
					defer mu.Unlock()
					if m.Attrs != nil {
						seen++
					}
					return true, ""
				}
			}
		})
		require.NoError(t, err)
		require.Zero(t, seen, "attributes not asked for are dropped at the read")
		require.Empty(t, rep.Source.Attributes)
		require.Equal(t, int64(50), dest(rep).Members)
	})
	t.Run("a nil filter keeps everyone", func(t *testing.T) {
		t.Parallel()
		b := setup(t)
		rep, err := b.run(attrMembers(50), engine.Options{}, attrRequest, func(j *engine.Job) {
			j.Segment = func(*engine.Target, time.Time) engine.MemberFilter { return nil }
		})
		require.NoError(t, err)
		require.Equal(t, int64(50), dest(rep).Members)
	})
}

// TestAttributeConflict checks that two records of one key that differ
// only in an attribute are a conflict: the first one's attributes stand.
func TestAttributeConflict(t *testing.T) {
	t.Parallel()
	b := setup(t)
	ms := attrMembers(3)
	again := ms[1]
	again.Attrs = []audience.Value{audience.StringValue("other"), again.Attrs[1]}
	same := ms[2]
	rep, err := b.run(append(ms, again, same), engine.Options{}, attrRequest)
	require.NoError(t, err)
	require.Equal(t, int64(1), rep.Source.Rejected[engine.ReasonKeyConflict])
	require.Equal(t, int64(1), rep.Source.Duplicates)
	require.Equal(t, int64(3), rep.Source.Attributes[0].Present, "attributes are counted over valid records")
}
