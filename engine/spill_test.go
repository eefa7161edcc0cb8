package engine_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/fake"
	"github.com/audiencesync/audiencesync/engine"
	"github.com/audiencesync/audiencesync/report"
)

// spillMembers makes n synthetic members with e-mail, phone and name, the
// e-mails numbered from offset.
func spillMembers(n, offset int) []audience.Member {
	out := make([]audience.Member, n)
	for i := range out {
		m := &out[i]
		m.Key = fmt.Sprintf("C%06d", i)
		m.Fields[audience.Email] = fmt.Sprintf("spill-member-%06d@example.com", i+offset)
		m.Fields[audience.Phone] = fmt.Sprintf("(202) 555-%04d", i%10000)
		m.Fields[audience.FirstName] = "Augusta"
		m.Fields[audience.LastName] = "Lovelace"
	}
	return out
}

// hookSource is a fake source that calls after once it has emitted its
// members, while the run's spill files are open.
type hookSource struct {
	fake.Source
	after func()
}

func (s *hookSource) Read(ctx context.Context, req connectors.ReadRequest, out connectors.Emitter) error {
	if err := s.Source.Read(ctx, req, out); err != nil {
		return err
	}
	s.after()
	return nil
}

// openSpillFiles reads every file the process holds open under dir: spill
// files are unlinked as soon as created, so /proc/self/fd is the way in.
func openSpillFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	fds, err := os.ReadDir("/proc/self/fd")
	require.NoError(t, err)
	out := map[string][]byte{}
	for _, fd := range fds {
		link, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))

		if err != nil || !strings.HasPrefix(link, dir+string(filepath.Separator)) {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil {
			out[link] = b
		}
	}
	return out
}

// TestSpillFilesHoldNoContactData plans a large update of an audience
// with known synthetic contact data by merging streams, spilling after a
// few members, and reads every spill file while the run holds it open —
// the members read, sorted, once the source is read and once they are
// merged with state, and the planned sends, as the first batch is
// applied: the files are there, and none
// holds an e-mail address, a phone number or a name in clear.
func TestSpillFilesHoldNoContactData(t *testing.T) {
	t.Parallel()
	b := setup(t)
	b.dest.Kinds = []audience.Kind{audience.Email, audience.Phone, audience.FirstName, audience.LastName}
	spill := t.TempDir()
	b.eng.SpillDir, b.eng.StreamPlanAt, b.eng.SpillAfter = spill, 1, 500
	withNames := func(j *engine.Job) {
		j.Request.Fields[audience.FirstName], j.Request.Fields[audience.LastName] = "first", "last"
		j.Targets[0].Info = b.dest.Info()
		j.MaxRemoveFraction = 1
	}
	const n = 20000
	_, err := b.run(spillMembers(n, 0), engine.Options{}, withNames)
	require.NoError(t, err)

	var mu sync.Mutex
	seen := map[string][]byte{}
	scan := func() {
		mu.Lock()
		defer mu.Unlock()
		for name, data := range openSpillFiles(t, spill) {
			if len(data) > len(seen[name]) {
				seen[name] = data
			}
		}
	}
	b.eng.Observer = engine.ObserverFunc(func(e engine.Event) {
		if _, ok := e.(engine.BatchApplied); ok {
			scan()
		}
	})
	// Every other member changes e-mail (updates, kept in memory), and
	// a quarter more are new (adds, spooled).
	next := spillMembers(n+n/4, 0)
	for i := 0; i < n; i += 2 {
		next[i].Fields[audience.Email] = fmt.Sprintf("spill-moved-%06d@example.com", i)
	}
	src := &hookSource{Source: fake.Source{Members: next}, after: scan}
	engine.SetStreamedHook(b.eng, scan)
	rep, err := b.eng.Run(context.Background(), b.job(src, withNames), engine.Options{})
	require.NoError(t, err)
	require.Equal(t, report.Planned{Update: n / 2, Add: n / 4, Unchanged: n / 2}, dest(rep).Planned)

	total := 0
	for name, data := range seen {
		total += len(data)
		for _, clear := range []string{"@example.com", "spill-member", "spill-moved", "+1202555", "555-", "Lovelace", "lovelace", "Augusta", "augusta"} {
			require.False(t, bytes.Contains(data, []byte(clear)), "spill file %s holds %q in clear", name, clear)
		}
	}
	require.GreaterOrEqual(t, total, 1<<20, "the test read the spill files: %d files, %d bytes", len(seen), total)
	var kinds []string
	for name := range seen {
		kinds = append(kinds, strings.SplitN(filepath.Base(name), "-", 3)[1])
	}
	slices.Sort(kinds)
	require.Equal(t, []string{"identifiers", "matchkeys", "members", "plan"}, slices.Compact(kinds),
		"the members read (their records, identifiers and match keys) and the planned sends were all spilled")
	requireEmptyDir(t, spill)
}

// TestSpillDirRemovedWhateverTheEnd: whether a streaming run succeeds, its
// source fails part-way, or it is cancelled mid-read, its spill directory
// is gone once Run returns.
func TestSpillDirRemovedWhateverTheEnd(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		source func(cancel func()) connectors.Source
		fails  bool
	}{
		{"success", func(func()) connectors.Source { return &fake.Source{Members: members(0, 3000)} }, false},
		{"source fails", func(func()) connectors.Source { return &fake.Source{Members: members(0, 3000), FailAfter: 2500} }, true},
		{"cancelled", func(cancel func()) connectors.Source {
			return &hookSource{Source: fake.Source{Members: members(0, 3000)}, after: cancel}
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			spill := t.TempDir()
			b.eng.SpillDir, b.eng.StreamPlanAt, b.eng.SpillAfter = spill, 1, 100
			_, err := b.run(members(0, 3000), engine.Options{})
			require.NoError(t, err)
			requireEmptyDir(t, spill)

			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			var during []string
			src := tt.source(func() {
				during = dirNames(t, spill)
				cancel()
			})
			_, err = b.eng.Run(ctx, b.job(src), engine.Options{})
			if tt.fails {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
			}
			if tt.name == "cancelled" {
				require.True(t, errors.Is(err, context.Canceled), "err = %v", err)
				require.Len(t, during, 1, "the run's spill directory exists while it reads")
			}
			requireEmptyDir(t, spill)
		})
	}
}

func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

func requireEmptyDir(t *testing.T, dir string) {
	t.Helper()
	require.Empty(t, dirNames(t, dir), "spill directory %s is left behind", dir)
}
