package file_test

import (
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/connectortest"
	"github.com/audiencesync/audiencesync/connectors/file"
	"github.com/audiencesync/audiencesync/platform/builtin"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

func newFile(t *testing.T, s file.Settings) *file.Destination {
	t.Helper()
	if s.Dir == "" {
		s.Dir = t.TempDir()
	}
	d, err := file.Spec().NewDestination(&s, connectors.Env{})
	require.NoError(t, err)
	return d.(*file.Destination)
}

// sub is a per-format destination with the optional capabilities the file
// destination implements.
type sub interface {
	connectors.Destination
	connectors.RunObserver
	connectors.SnapshotWriter
}

func forProfile(t *testing.T, d *file.Destination, profile string) sub {
	t.Helper()
	p, err := d.ForProfile(profile)
	require.NoError(t, err)
	return p.(sub)
}

// readRows returns the rows of an upload file after its header.
func readRows(t *testing.T, path string) (header []string, rows [][]string) {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	var r io.Reader = f
	if strings.HasSuffix(path, ".gz") {
		gz, err := gzip.NewReader(f)
		require.NoError(t, err)
		r = gz
	}
	all, err := csv.NewReader(r).ReadAll()
	require.NoError(t, err)
	require.NotEmpty(t, all, "%s has no header", path)
	return all[0], all[1:]
}

func identity(row []string) string {
	return connectortest.Identity(slices.DeleteFunc(slices.Clone(row), func(s string) bool { return s == "" })...)
}

// remoteMembers replays every run's adds and removes in run order.
func remoteMembers(dir, sync, profile string, gz bool) func(t *testing.T) map[string]bool {
	ext := ".csv"
	if gz {
		ext += ".gz"
	}
	return func(t *testing.T) map[string]bool {
		held := map[string]bool{}
		runs, err := os.ReadDir(filepath.Join(dir, sync))
		if errors.Is(err, os.ErrNotExist) {
			return held
		}
		require.NoError(t, err)
		for _, run := range runs { // ReadDir sorts by name; the suite's run ids sort by time
			if run.Name() == "latest" {
				continue
			}
			for _, what := range []string{"adds", "removes"} {
				path := filepath.Join(dir, sync, run.Name(), profile+"-"+what+ext)
				if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
					continue
				}
				_, rows := readRows(t, path)
				for _, row := range rows {
					if what == "adds" {
						held[identity(row)] = true
					} else {
						delete(held, identity(row))
					}
				}
			}
		}
		return held
	}
}

func TestConformance(t *testing.T) {
	t.Parallel()
	for _, profile := range []string{"google", "meta", "x"} {
		for _, gz := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/gzip=%t", profile, gz), func(t *testing.T) {
				t.Parallel()
				connectortest.Destination(t, connectortest.DestinationHarness{
					New: func(t *testing.T) (connectors.Destination, connectortest.Remote) {
						dir := t.TempDir()
						d := forProfile(t, newFile(t, file.Settings{Dir: dir, Gzip: gz}), profile)
						return d, connectortest.Remote{Members: remoteMembers(dir, "conformance", profile, gz)}
					},
				})
			})
		}
	}
}

func TestSpec(t *testing.T) {
	t.Parallel()
	settings := connectortest.Spec(t, file.Spec())
	require.Equal(t, &file.Settings{Dir: "./out", Formats: []string{"google", "meta", "x"}}, settings)
}

func TestValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		s       file.Settings
		wantErr string
	}{
		{"minimal", file.Settings{Dir: "out"}, ""},
		{"formats", file.Settings{Dir: "out", Formats: []string{"meta", "x"}, Gzip: true}, ""},
		{"no dir", file.Settings{}, "dir is required"},
		{"unknown format", file.Settings{Dir: "out", Formats: []string{"tiktok"}}, `unknown format "tiktok": use google, meta, x`},
		{"duplicate format", file.Settings{Dir: "out", Formats: []string{"x", "x"}}, `format "x" is listed twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.s.Validate()
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
			_, err = file.New(&tt.s, connectors.Env{})
			require.Error(t, err, "New validates too")
		})
	}
}

func TestSplitter(t *testing.T) {
	t.Parallel()
	d := newFile(t, file.Settings{})
	require.Equal(t, []string{"google", "meta", "x"}, d.Profiles())
	_, err := d.Ensure(t.Context(), connectors.AudienceSpec{Name: "a"})
	require.ErrorIs(t, err, connectors.ErrFatal)
	require.ErrorContains(t, err, "use ForProfile")
	_, err = d.Apply(t.Context(), connectors.Audience{}, connectors.Batch{Op: connectors.OpAdd})
	require.ErrorIs(t, err, connectors.ErrFatal)
	require.Positive(t, d.Info().MaxBatch)
	require.NoError(t, d.Close())

	only := newFile(t, file.Settings{Formats: []string{"meta"}})
	require.Equal(t, []string{"meta"}, only.Profiles())
	_, err = only.ForProfile("google")
	require.ErrorContains(t, err, `format "google" is not configured`)

	wantKinds := map[string][]audience.Kind{
		"google": {audience.Email, audience.Phone, audience.FirstName, audience.LastName, audience.Country, audience.Zip},
		"x":      {audience.Email, audience.Phone, audience.Handle, audience.TwitterID, audience.MobileID, audience.ExternalID},
	}
	for profile, kinds := range wantKinds {
		info := forProfile(t, d, profile).Info()
		plat, err := builtin.Registry().Lookup(profile)
		require.NoError(t, err)
		require.Equal(t, connectors.DestinationInfo{Platform: plat, Kinds: kinds, MaxBatch: 10000, Concurrency: 1}, info)
	}
	require.Len(t, forProfile(t, d, "meta").Info().Kinds, 15)
}

func TestEnsure(t *testing.T) {
	t.Parallel()
	d := forProfile(t, newFile(t, file.Settings{}), "google")
	tests := []struct {
		spec   connectors.AudienceSpec
		wantID string
	}{
		{connectors.AudienceSpec{Name: "Cart abandoners"}, "file:cart-abandoners"},
		{connectors.AudienceSpec{Name: "../../Étoile VIP!"}, "file:toile-vip"},
		{connectors.AudienceSpec{KnownID: "file:cart-abandoners"}, "file:cart-abandoners"},
		{connectors.AudienceSpec{}, "file:audience"},
	}
	for _, tt := range tests {
		aud, err := d.Ensure(t.Context(), tt.spec)
		require.NoError(t, err)
		require.Equal(t, tt.wantID, aud.ID)
		require.False(t, aud.Created)
	}
}

// hashed is a synthetic hashed identifier.
func hashed(k audience.Kind, v string) audience.Identifier {
	sum := sha256.Sum256([]byte(v))
	return audience.Identifier{Kind: k, Value: hex.EncodeToString(sum[:]), Hashed: true}
}

// goldenUploads are fixed synthetic members for profile.
func goldenUploads(profile string, from, n int) []connectors.Upload {
	out := make([]connectors.Upload, n)
	for i := range out {
		j := from + i
		ids := []audience.Identifier{hashed(audience.Email, fmt.Sprintf("user%d@example.com", j))}
		switch profile {
		case "google":
			ids = append(ids, hashed(audience.Phone, fmt.Sprintf("+1555555%04d", j)),
				audience.Identifier{Kind: audience.Country, Value: "US"}, audience.Identifier{Kind: audience.Zip, Value: fmt.Sprintf("%05d", 10000+j)})
		case "meta":
			ids = append(ids, hashed(audience.FirstName, "ada"), audience.Identifier{Kind: audience.ExternalID, Value: fmt.Sprintf("crm-%d", j)})
		case "x":
			ids = append(ids, hashed(audience.Handle, fmt.Sprintf("user_%d", j)))
		}
		out[i] = connectors.Upload{Key: audience.KeyFromSource(fmt.Sprint(j)), Identifiers: ids}
	}
	return out
}

func seq(ups []connectors.Upload) iter.Seq2[connectors.Upload, error] {
	return func(yield func(connectors.Upload, error) bool) {
		for _, u := range ups {
			if !yield(u, nil) {
				return
			}
		}
	}
}

var goldenRun = connectors.RunInfo{ID: "2026-01-02T03-04-05Z", Sync: "cart abandoners", Started: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}

func TestGoldenLayout(t *testing.T) {
	t.Parallel()
	for _, profile := range []string{"google", "meta", "x"} {
		t.Run(profile, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			d := forProfile(t, newFile(t, file.Settings{Dir: dir}), profile)
			ctx := t.Context()
			aud, err := d.Ensure(ctx, connectors.AudienceSpec{Name: "Cart abandoners"})
			require.NoError(t, err)
			require.NoError(t, d.BeginRun(ctx, goldenRun))
			res, err := d.Apply(ctx, aud, connectors.Batch{Op: connectors.OpAdd, Seq: 1, Members: goldenUploads(profile, 0, 3)})
			require.NoError(t, err)
			require.Empty(t, res.Rejected)
			_, err = d.Apply(ctx, aud, connectors.Batch{Op: connectors.OpAdd, Seq: 2, Members: goldenUploads(profile, 3, 1)})
			require.NoError(t, err)
			_, err = d.Apply(ctx, aud, connectors.Batch{Op: connectors.OpRemove, Seq: 3, Members: goldenUploads(profile, 10, 2)})
			require.NoError(t, err)
			require.NoError(t, d.EndRun(ctx, goldenRun, true))
			require.NoError(t, d.WriteSnapshot(ctx, goldenRun, aud, seq(goldenUploads(profile, 0, 4))))

			runDir := filepath.Join(dir, "cart-abandoners", goldenRun.ID)
			for _, what := range []string{"adds", "removes", "audience"} {
				name := profile + "-" + what + ".csv"
				got, err := os.ReadFile(filepath.Join(runDir, name))
				require.NoError(t, err)
				connectortest.Golden(t, filepath.Join("testdata", name), got, *update)
			}
			latest, err := os.ReadFile(filepath.Join(dir, "cart-abandoners", "latest", profile+"-audience.csv"))
			require.NoError(t, err)
			connectortest.Golden(t, filepath.Join("testdata", profile+"-audience.csv"), latest, *update)
		})
	}
}

func TestPermissions(t *testing.T) {
	t.Parallel()
	for _, gz := range []bool{false, true} {
		t.Run(fmt.Sprintf("gzip=%t", gz), func(t *testing.T) {
			t.Parallel()
			dir := filepath.Join(t.TempDir(), "out")
			d := forProfile(t, newFile(t, file.Settings{Dir: dir, Gzip: gz}), "meta")
			ctx := t.Context()
			require.NoError(t, d.BeginRun(ctx, goldenRun))
			_, err := d.Apply(ctx, connectors.Audience{ID: "file:a"}, connectors.Batch{Op: connectors.OpAdd, Seq: 1, Members: goldenUploads("meta", 0, 2)})
			require.NoError(t, err)
			_, err = d.Apply(ctx, connectors.Audience{ID: "file:a"}, connectors.Batch{Op: connectors.OpRemove, Seq: 2, Members: goldenUploads("meta", 5, 1)})
			require.NoError(t, err)
			require.NoError(t, d.EndRun(ctx, goldenRun, true))
			require.NoError(t, d.WriteSnapshot(ctx, goldenRun, connectors.Audience{ID: "file:a"}, seq(goldenUploads("meta", 0, 2))))

			files := 0
			require.NoError(t, filepath.WalkDir(dir, func(path string, e os.DirEntry, err error) error {
				require.NoError(t, err)
				info, err := e.Info()
				require.NoError(t, err)
				if e.IsDir() {
					require.Equal(t, os.FileMode(0o700), info.Mode().Perm(), path)
					return nil
				}
				files++
				require.Equal(t, os.FileMode(0o600), info.Mode().Perm(), path)
				require.Equal(t, gz, strings.HasSuffix(path, ".csv.gz"), path)
				return nil
			}))
			require.Equal(t, 4, files, "adds, removes, audience and latest audience")
		})
	}
}

func TestFilesCreatedLazily(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "out")
	d := forProfile(t, newFile(t, file.Settings{Dir: dir}), "x")
	require.NoError(t, d.BeginRun(t.Context(), goldenRun))
	require.NoError(t, d.EndRun(t.Context(), goldenRun, true))
	_, err := os.Stat(dir)
	require.ErrorIs(t, err, os.ErrNotExist, "a run without batches writes nothing")
}

func TestSnapshotAtomic(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := forProfile(t, newFile(t, file.Settings{Dir: dir}), "google")
	ctx := t.Context()
	aud := connectors.Audience{ID: "file:a", Name: "a"}
	require.NoError(t, d.WriteSnapshot(ctx, goldenRun, aud, seq(goldenUploads("google", 0, 5))))
	runFile := filepath.Join(dir, "cart-abandoners", goldenRun.ID, "google-audience.csv")
	latest := filepath.Join(dir, "cart-abandoners", "latest", "google-audience.csv")
	before, err := os.ReadFile(runFile)
	require.NoError(t, err)

	errSource := errors.New("state store went away")
	failing := func(yield func(connectors.Upload, error) bool) {
		for i, u := range goldenUploads("google", 100, 20000) {
			if i == 15000 {
				yield(connectors.Upload{}, errSource)
				return
			}
			if !yield(u, nil) {
				return
			}
		}
	}
	err = d.WriteSnapshot(ctx, goldenRun, aud, failing)
	require.ErrorIs(t, err, errSource)

	for _, path := range []string{runFile, latest} {
		after, err := os.ReadFile(path)
		require.NoError(t, err)
		require.Equal(t, string(before), string(after), "%s must be left as it was", path)
	}
	for _, sub := range []string{goldenRun.ID, "latest"} {
		entries, err := os.ReadDir(filepath.Join(dir, "cart-abandoners", sub))
		require.NoError(t, err)
		require.Len(t, entries, 1, "no temporary file may be left in %s", sub)
	}

	t.Run("a later run replaces latest", func(t *testing.T) {
		run2 := goldenRun
		run2.ID = "run-2"
		require.NoError(t, d.WriteSnapshot(ctx, run2, aud, seq(goldenUploads("google", 0, 2))))
		_, rows := readRows(t, latest)
		require.Len(t, rows, 2)
		_, rows = readRows(t, runFile)
		require.Len(t, rows, 5, "the earlier run's file is kept")
	})
}

func TestSnapshotCancelled(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := forProfile(t, newFile(t, file.Settings{Dir: dir}), "x")
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := d.WriteSnapshot(ctx, goldenRun, connectors.Audience{ID: "file:a"}, seq(goldenUploads("x", 0, 3)))
	require.ErrorIs(t, err, context.Canceled)
	_, err = os.Stat(filepath.Join(dir, "cart-abandoners", goldenRun.ID, "x-audience.csv"))
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestRunLifecycle(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := forProfile(t, newFile(t, file.Settings{Dir: dir}), "meta")
	ctx := t.Context()
	aud := connectors.Audience{ID: "file:a"}
	batch := connectors.Batch{Op: connectors.OpAdd, Seq: 1, Members: goldenUploads("meta", 0, 1)}

	_, err := d.Apply(ctx, aud, batch)
	require.ErrorIs(t, err, connectors.ErrFatal, "Apply outside a run")

	require.NoError(t, d.BeginRun(ctx, goldenRun))
	require.ErrorContains(t, d.BeginRun(ctx, goldenRun), "still open")

	bad := connectors.Batch{Op: connectors.OpAdd, Seq: 2, Members: []connectors.Upload{
		goldenUploads("meta", 0, 1)[0],
		{Identifiers: []audience.Identifier{hashed(audience.Handle, "user_1")}},
	}}
	_, err = d.Apply(ctx, aud, bad)
	var rejected *connectors.BatchRejectedError
	require.ErrorAs(t, err, &rejected, "a kind the layout lacks refuses the whole batch")
	_, err = os.Stat(filepath.Join(dir, "cart-abandoners"))
	require.ErrorIs(t, err, os.ErrNotExist, "nothing written for a refused batch")

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, err = d.Apply(cctx, aud, batch)
	require.ErrorIs(t, err, context.Canceled)

	_, err = d.Apply(ctx, aud, batch)
	require.NoError(t, err)
	// Rows of applied batches are on disk before the run ends.
	_, rows := readRows(t, filepath.Join(dir, "cart-abandoners", goldenRun.ID, "meta-adds.csv"))
	require.Len(t, rows, 1)

	require.NoError(t, d.Close(), "Close ends an open run")
	require.NoError(t, d.EndRun(ctx, goldenRun, false), "EndRun after Close is harmless")
	require.NoError(t, d.BeginRun(ctx, connectors.RunInfo{ID: "run-2", Sync: goldenRun.Sync}))
	require.NoError(t, d.EndRun(ctx, goldenRun, true))

	t.Run("a reused run id is refused", func(t *testing.T) {
		require.NoError(t, d.BeginRun(ctx, goldenRun))
		_, err := d.Apply(ctx, aud, batch)
		require.ErrorContains(t, err, "exists")
		require.NoError(t, d.EndRun(ctx, goldenRun, false))
	})
}

func TestNamesStayInsideDir(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dir := filepath.Join(root, "out")
	d := forProfile(t, newFile(t, file.Settings{Dir: dir}), "x")
	ctx := t.Context()
	run := connectors.RunInfo{ID: "../../../run", Sync: "../.."}
	require.NoError(t, d.BeginRun(ctx, run))
	_, err := d.Apply(ctx, connectors.Audience{ID: "file:a"}, connectors.Batch{Op: connectors.OpAdd, Seq: 1, Members: goldenUploads("x", 0, 1)})
	require.NoError(t, err)
	require.NoError(t, d.EndRun(ctx, run, true))
	require.NoError(t, d.WriteSnapshot(ctx, run, connectors.Audience{ID: "file:a"}, seq(nil)))
	entries, err := os.ReadDir(root)
	require.NoError(t, err)
	require.Len(t, entries, 1, "nothing may be written outside dir")
	_, err = os.Stat(filepath.Join(dir, "unnamed", "run", "x-adds.csv"))
	require.NoError(t, err)
}

func TestConcurrentApply(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	d := forProfile(t, newFile(t, file.Settings{Dir: dir, Gzip: true}), "google")
	ctx := t.Context()
	require.NoError(t, d.BeginRun(ctx, goldenRun))
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for b := range 10 {
				op := connectors.OpAdd
				if b%2 == 1 {
					op = connectors.OpRemove
				}
				_, err := d.Apply(ctx, connectors.Audience{ID: "file:a"}, connectors.Batch{Op: op, Seq: g*10 + b + 1, Members: goldenUploads("google", (g*10+b)*50, 50)})
				require.NoError(t, err)
			}
		})
	}
	wg.Wait()
	require.NoError(t, d.EndRun(ctx, goldenRun, true))
	for _, what := range []string{"adds", "removes"} {
		_, rows := readRows(t, filepath.Join(dir, "cart-abandoners", goldenRun.ID, "google-"+what+".csv.gz"))
		require.Len(t, rows, 8*5*50)
	}
}

// TestSegmentsShareConnection runs two segments of one sync through one
// file connection, as the service does (one destination each, built from
// the same settings): each segment's files sit under its audience's
// directory, so neither overwrites the other, and two segments naming one
// audience are refused with what to do rather than mixed.
func TestSegmentsShareConnection(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := t.Context()
	segments := []struct {
		segment string
		spec    connectors.AudienceSpec
		members int
		wantDir string
	}{
		{"cart-0-3d", connectors.AudienceSpec{Name: "cart-0-3d/exports"}, 3, "cart-0-3d-exports"},
		{"cart-4-14d", connectors.AudienceSpec{Name: "Late carts"}, 5, "Late-carts"},
	}
	for _, s := range segments {
		d := forProfile(t, newFile(t, file.Settings{Dir: dir}), "google")
		aud, err := d.Ensure(ctx, s.spec)
		require.NoError(t, err)
		run := goldenRun
		run.Segment = s.segment
		require.NoError(t, d.BeginRun(ctx, run))
		_, err = d.Apply(ctx, aud, connectors.Batch{Op: connectors.OpAdd, Seq: 1, Members: goldenUploads("google", 0, s.members)})
		require.NoError(t, err)
		_, err = d.Apply(ctx, aud, connectors.Batch{Op: connectors.OpRemove, Seq: 2, Members: goldenUploads("google", 100, 1)})
		require.NoError(t, err)
		require.NoError(t, d.EndRun(ctx, run, true))
		require.NoError(t, d.WriteSnapshot(ctx, run, aud, seq(goldenUploads("google", 0, s.members))))
	}
	sync := filepath.Join(dir, "cart-abandoners")
	for _, s := range segments {
		for path, want := range map[string]int{
			filepath.Join(sync, goldenRun.ID, s.wantDir, "google-adds.csv"):     s.members,
			filepath.Join(sync, goldenRun.ID, s.wantDir, "google-removes.csv"):  1,
			filepath.Join(sync, goldenRun.ID, s.wantDir, "google-audience.csv"): s.members,
			filepath.Join(sync, "latest", s.wantDir, "google-audience.csv"):     s.members,
		} {
			_, rows := readRows(t, path)
			require.Len(t, rows, want, path)
		}
	}
	for _, sub := range []string{goldenRun.ID, "latest"} {
		entries, err := os.ReadDir(filepath.Join(sync, sub))
		require.NoError(t, err)
		var names []string
		for _, e := range entries {
			require.True(t, e.IsDir(), "no file of a segment is left at the top of %s: %s", sub, e.Name())
			names = append(names, e.Name())
		}
		require.Equal(t, []string{"Late-carts", "cart-0-3d-exports"}, names)
	}

	t.Run("two segments naming one audience are refused", func(t *testing.T) {
		run := goldenRun
		run.ID = "run-same-audience"
		for i, seg := range []string{"a", "b"} {
			d := forProfile(t, newFile(t, file.Settings{Dir: dir}), "google")
			aud, err := d.Ensure(ctx, connectors.AudienceSpec{Name: "Shared"})
			require.NoError(t, err)
			run.Segment = seg
			require.NoError(t, d.BeginRun(ctx, run))
			_, err = d.Apply(ctx, aud, connectors.Batch{Op: connectors.OpAdd, Seq: 1, Members: goldenUploads("google", 0, 1)})
			if i == 0 {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, os.ErrExist)
				require.ErrorContains(t, err, "give each its own audience name")
			}
			require.NoError(t, d.EndRun(ctx, run, true))
		}
	})
}
