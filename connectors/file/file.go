// Package file is the file destination: instead of calling a platform it
// writes each run's adds and removes, and the whole audience after the run,
// as the upload files Google, Meta and X take by hand (see uploadfile). It
// serves several normalisation profiles at once; the engine runs one
// sub-destination per format through ForProfile.
//
// Layout, per sync and run:
//
//	<dir>/<sync>/<run id>/<format>-adds.csv       members added in the run
//	<dir>/<sync>/<run id>/<format>-removes.csv    members removed in the run
//	<dir>/<sync>/<run id>/<format>-audience.csv   the audience after the run
//	<dir>/<sync>/latest/<format>-audience.csv     the newest audience file
//
// In a sync with segments each segment's files sit one directory further
// down, named after its audience (the segment and destination names, or
// the audience name the config gives): <dir>/<sync>/<run id>/<audience>/
// and <dir>/<sync>/latest/<audience>/, so several segments can send to one
// file connection without writing the same files (RunInfo.Segment).
//
// Names end .csv.gz when gzip is set. Files are 0600 and directories 0700:
// they hold hashed contact data.
package file

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/platform"
	"github.com/audiencesync/audiencesync/platform/builtin"
)

// Type is the connection type this package serves.
const Type = "file"

// MaxBatch is how many members one Apply call may carry.
const MaxBatch = 10000

// Settings configure a file destination.
type Settings struct {
	// Dir is where files are written; relative paths resolve against the
	// config file's directory.
	Dir string `yaml:"dir"`
	// Formats lists the layouts to write, by platform name (google, meta,
	// x, or any registered platform with an upload-file layout). Default:
	// DefaultFormats.
	Formats []string `yaml:"formats"`
	// Gzip compresses every file.
	Gzip bool `yaml:"gzip"`

	// platforms are the platforms formats are looked up in; nil for the
	// built-in ones (see SpecFor).
	platforms *platform.Registry
}

// DefaultFormats are the formats written when a config names none. It is
// a fixed list, not every registered platform: a platform added later
// never adds files to an existing config.
var DefaultFormats = []string{"google", "meta", "x"}

func (s *Settings) registry() *platform.Registry {
	if s.platforms == nil {
		return builtin.Registry()
	}
	return s.platforms
}

// formats returns the configured formats, or the default ones.
func (s *Settings) formats() []string {
	if len(s.Formats) == 0 {
		return slices.Clone(DefaultFormats)
	}
	return slices.Clone(s.Formats)
}

// Validate checks the settings without touching the disk.
func (s *Settings) Validate() error {
	if s.Dir == "" {
		return errors.New("file: dir is required: name the directory to write upload files to")
	}
	reg := s.registry()
	var known []string
	for _, p := range reg.All() {
		if p.Layout != nil {
			known = append(known, p.Name)
		}
	}
	for i, f := range s.Formats {
		if !slices.Contains(known, f) {
			return fmt.Errorf("file: unknown format %q: use %s", f, strings.Join(known, ", "))
		}
		if slices.Contains(s.Formats[:i], f) {
			return fmt.Errorf("file: format %q is listed twice", f)
		}
	}
	return nil
}

const sample = `# Writes each run's changes as the files Google, Meta and X take for a
# manual upload, for review or hand upload: <dir>/<sync>/<run id>/ holds
# <format>-adds.csv, <format>-removes.csv and <format>-audience.csv (the whole
# audience after the run); <dir>/<sync>/latest/ holds the newest audience.
exports:
  type: file
  # Relative paths resolve against this file's directory.
  dir: ./out
  # Layouts to write: google, meta, x. Default: all three.
  formats: [google, meta, x]
  # Compress every file with gzip (names end .csv.gz).
  gzip: false
`

// Spec declares the file destination, with the built-in platforms'
// formats, for a registry.
func Spec() connectors.Spec { return SpecFor(nil) }

// SpecFor declares a file destination whose formats are the upload-file
// layouts of platforms (nil: the built-in platforms).
func SpecFor(platforms *platform.Registry) connectors.Spec {
	return connectors.Spec{
		Type:           Type,
		Role:           connectors.RoleDestination,
		Summary:        "Writes adds, removes and the whole audience as Google, Meta and X upload files.",
		Sample:         sample,
		Settings:       func() any { return &Settings{platforms: platforms} },
		NewDestination: connectors.DestinationFunc(New),
	}
}

// Destination is the file destination as configured. It only hands out
// per-format sub-destinations; it cannot apply batches itself.
type Destination struct {
	dir     string
	formats []*platform.Platform
	gzip    bool
	log     *zap.Logger
}

var (
	_ connectors.Destination     = (*Destination)(nil)
	_ connectors.ProfileSplitter = (*Destination)(nil)
)

// New builds a file destination from settings, resolving Dir against
// env.BaseDir. Nothing is created on disk until a batch arrives.
func New(s *Settings, env connectors.Env) (*Destination, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	reg := s.registry()
	var formats []*platform.Platform
	for _, f := range s.formats() {
		p, err := reg.Lookup(f)
		if err != nil {
			return nil, fmt.Errorf("file: format %q: %w", f, err)
		}
		formats = append(formats, p)
	}
	return &Destination{dir: env.Resolve(s.Dir), formats: formats, gzip: s.Gzip, log: env.Log()}, nil
}

// Profiles returns the configured formats.
func (d *Destination) Profiles() []string {
	out := make([]string, len(d.formats))
	for i, p := range d.formats {
		out[i] = p.Name
	}
	return out
}

// ForProfile returns the sub-destination writing profile's files.
func (d *Destination) ForProfile(profile string) (connectors.Destination, error) {
	i := slices.IndexFunc(d.formats, func(p *platform.Platform) bool { return p.Name == profile })
	if i < 0 {
		return nil, fmt.Errorf("file: format %q is not configured (formats: %s)", profile, strings.Join(d.Profiles(), ", "))
	}
	p := d.formats[i]
	return &profileDestination{
		dir:     d.dir,
		profile: profile,
		plat:    p,
		gzip:    d.gzip,
		kinds:   p.LayoutKinds(),
		log:     d.log.With(zap.String("format", profile)),
	}, nil
}

var errSplit = connectors.Fatal(errors.New("the file destination writes one set of files per format: use ForProfile"))

// Info describes the limits every sub-destination shares; Profile is empty
// because only the sub-destinations have one.
func (d *Destination) Info() connectors.DestinationInfo {
	return connectors.DestinationInfo{MaxBatch: MaxBatch, Concurrency: 1}
}

// Ensure fails: use ForProfile.
func (d *Destination) Ensure(ctx context.Context, spec connectors.AudienceSpec) (connectors.Audience, error) {
	return connectors.Audience{}, errSplit
}

// Apply fails: use ForProfile.
func (d *Destination) Apply(ctx context.Context, aud connectors.Audience, b connectors.Batch) (connectors.BatchResult, error) {
	return connectors.BatchResult{}, errSplit
}

// Close does nothing; sub-destinations close their own files.
func (d *Destination) Close() error { return nil }
