package file

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/internal/atomicfile"
	"github.com/audiencesync/audiencesync/platform"
)

// File and directory modes: the files hold hashed contact data.
const (
	dirMode  os.FileMode = 0o700
	fileMode os.FileMode = 0o600
)

// latestDir names the directory holding each sync's newest audience files.
const latestDir = "latest"

// profileDestination writes one format's files.
type profileDestination struct {
	dir     string
	profile string
	plat    *platform.Platform
	gzip    bool
	kinds   []audience.Kind
	log     *zap.Logger

	mu  sync.Mutex // guards run and serialises writes
	run *openRun   // nil outside a run
}

var (
	_ connectors.Destination    = (*profileDestination)(nil)
	_ connectors.RunObserver    = (*profileDestination)(nil)
	_ connectors.SnapshotWriter = (*profileDestination)(nil)
	_ connectors.AudienceSizer  = (*profileDestination)(nil)
)

// openRun is the run in progress; its files are created on first use.
type openRun struct {
	info    connectors.RunInfo
	dir     string
	adds    *uploadFile
	removes *uploadFile
}

func (d *profileDestination) Info() connectors.DestinationInfo {
	return connectors.DestinationInfo{
		Platform:    d.plat,
		Kinds:       slices.Clone(d.kinds),
		MaxBatch:    MaxBatch,
		Concurrency: 1,
	}
}

// Ensure names the audience after spec; there is nothing remote to create.
func (d *profileDestination) Ensure(ctx context.Context, spec connectors.AudienceSpec) (connectors.Audience, error) {
	name := cmp.Or(spec.Name, strings.TrimPrefix(cmp.Or(spec.ID, spec.KnownID), "file:"), "audience")
	return connectors.Audience{ID: "file:" + strings.ToLower(safeName(name)), Name: name}, nil
}

// AudienceSize is always a known 0: upload files hold no membership of
// their own (each run writes the whole audience from state), so a state
// that was lost leaves nothing behind to adopt.
func (d *profileDestination) AudienceSize(context.Context, connectors.Audience) (connectors.AudienceSize, error) {
	return connectors.AudienceSize{Known: true}, nil
}

func (d *profileDestination) runDir(run connectors.RunInfo) string {
	return filepath.Join(d.dir, safeName(run.Sync), safeName(run.ID))
}

// audienceDir is the directory, below a run's directory and below latest,
// holding aud's files: none for a sync without segments (the layout files
// always had), else one named after the audience, so the segments of a
// sync sending to one connection never write the same files. The
// audience is named after the segment and destination unless the config
// names it.
func audienceDir(run connectors.RunInfo, aud connectors.Audience) string {
	if run.Segment == "" {
		return ""
	}
	return safeName(cmp.Or(aud.Name, strings.TrimPrefix(aud.ID, "file:")))
}

func (d *profileDestination) fileName(what string) string {
	name := d.profile + "-" + what + ".csv"
	if d.gzip {
		name += ".gz"
	}
	return name
}

// BeginRun starts a run; one run at a time.
func (d *profileDestination) BeginRun(ctx context.Context, run connectors.RunInfo) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.run != nil {
		return fmt.Errorf("file %s: run %s is still open: end it before beginning run %s", d.profile, d.run.info.ID, run.ID)
	}
	d.run = &openRun{info: run, dir: d.runDir(run)}
	return nil
}

// Apply appends the batch to the run's adds or removes file. It never
// rejects a member: a file takes whatever the normaliser produced.
func (d *profileDestination) Apply(ctx context.Context, aud connectors.Audience, b connectors.Batch) (connectors.BatchResult, error) {
	if err := ctx.Err(); err != nil {
		return connectors.BatchResult{}, err
	}
	// Check every member first so a bad batch leaves no partial rows.
	for i, m := range b.Members {
		for _, id := range m.Identifiers {
			if !slices.Contains(d.kinds, id.Kind) {
				return connectors.BatchResult{}, connectors.RejectBatch("file.kind",
					fmt.Errorf("member %d of batch %d carries %s, which %s files have no column for", i, b.Seq, id.Kind, d.profile))
			}
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.run == nil {
		return connectors.BatchResult{}, connectors.Fatal(fmt.Errorf("file %s: batch %d arrived outside a run: BeginRun must come first", d.profile, b.Seq))
	}
	slot, what := &d.run.adds, "adds"
	if b.Op == connectors.OpRemove {
		slot, what = &d.run.removes, "removes"
	}
	if *slot == nil {
		path := filepath.Join(d.run.dir, audienceDir(d.run.info, aud), d.fileName(what))
		f, err := createUploadFile(path, d.plat, d.kinds, d.gzip)
		if err != nil {
			return connectors.BatchResult{}, err
		}
		*slot = f
	}
	f := *slot
	for _, m := range b.Members {
		if err := f.w.Write(m.Identifiers); err != nil {
			return connectors.BatchResult{}, fmt.Errorf("file %s: batch %d: %w", d.profile, b.Seq, err)
		}
	}
	// Flush each batch so what the engine commits as sent is on disk even
	// if the process dies before the run ends.
	if err := f.flush(); err != nil {
		return connectors.BatchResult{}, fmt.Errorf("file %s: batch %d: %w", d.profile, b.Seq, err)
	}
	return connectors.BatchResult{Platform: map[string]int64{"rows_written": int64(len(b.Members))}}, nil
}

// EndRun closes the run's files, whether or not the run succeeded: the
// rows written are batches that were applied.
func (d *profileDestination) EndRun(ctx context.Context, run connectors.RunInfo, ok bool) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.endRunLocked()
}

func (d *profileDestination) endRunLocked() error {
	if d.run == nil {
		return nil
	}
	var errs []error
	for _, f := range []*uploadFile{d.run.adds, d.run.removes} {
		if f != nil {
			errs = append(errs, f.close())
		}
	}
	d.run = nil
	return errors.Join(errs...)
}

// WriteSnapshot writes the whole audience to the run's audience file and
// then to the sync's latest file, each atomically: a failure part-way
// leaves the previous file as it was.
func (d *profileDestination) WriteSnapshot(ctx context.Context, run connectors.RunInfo, aud connectors.Audience, members iter.Seq2[connectors.Upload, error]) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	name := d.fileName("audience")
	sub := audienceDir(run, aud)
	target := filepath.Join(d.runDir(run), sub, name)
	n := 0
	err := atomicfile.Write(target, func(w io.Writer) error {
		uw, finish, err := newUploadWriter(w, d.plat, d.kinds, d.gzip)
		if err != nil {
			return err
		}
		for m, err := range members {
			if err != nil {
				return fmt.Errorf("read audience: %w", err)
			}
			if n%4096 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			if err := uw.Write(m.Identifiers); err != nil {
				return err
			}
			n++
		}
		return finish()
	})
	if err != nil {
		return fmt.Errorf("file %s: write audience snapshot: %w", d.profile, err)
	}
	latest := filepath.Join(d.dir, safeName(run.Sync), latestDir, sub, name)
	if err := atomicfile.Write(latest, func(w io.Writer) error { return copyFile(w, target) }); err != nil {
		return fmt.Errorf("file %s: update latest audience: %w", d.profile, err)
	}
	d.log.Debug("audience snapshot written", zap.String("run", run.ID), zap.Int("members", n))
	return nil
}

// Close ends a run left open.
func (d *profileDestination) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.endRunLocked()
}
