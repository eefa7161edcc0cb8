// Package csv is the CSV file source: it reads an audience from a CRM
// export whose first row names the columns, plain or gzip-compressed, in
// constant memory. A row it cannot use is counted with its line number and
// a reason, never shown. A file that looks cut short (a malformed last row
// without a line break) or that changes while it is read fails the read, so
// the engine removes nothing on a partial export.
package csv

import (
	"errors"
	"fmt"
	"unicode/utf8"

	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/connectors"
)

// Type is the connection type this package serves.
const Type = "csv"

// Reasons a row is rejected, as counted in run reports.
const (
	ReasonMalformed      = "row.malformed"   // unparsable, or not as many fields as the header
	ReasonMissingKey     = "row.missing_key" // the key column is empty
	ReasonInvalidConsent = "consent.invalid" // a consent column holds an unknown answer
)

// Settings configure a CSV source.
type Settings struct {
	// Path is the file to read; relative paths resolve against the config
	// file's directory. Gzip is detected by its magic bytes.
	Path string `yaml:"path"`
	// Delimiter separates fields: one character, or "tab". Default ",".
	Delimiter string `yaml:"delimiter"`
	// Comment, when set, is a character that starts lines to skip.
	Comment string `yaml:"comment"`
	// LazyQuotes accepts quotes inside unquoted fields and stray quotes in
	// quoted ones instead of rejecting the row.
	LazyQuotes bool `yaml:"lazy_quotes"`
}

// LocalFiles names the file the source reads, for `validate`.
func (s *Settings) LocalFiles() []connectors.LocalFile {
	return []connectors.LocalFile{{Key: "path", Path: s.Path}}
}

// Validate checks the settings without touching the file.
func (s *Settings) Validate() error {
	if s.Path == "" {
		return errors.New("csv: path is required: point it at the exported file")
	}
	comma, err := s.comma()
	if err != nil {
		return err
	}
	comment, err := s.comment()
	if err != nil {
		return err
	}
	if comment == comma {
		return errors.New("csv: comment and delimiter must differ")
	}
	return nil
}

func (s *Settings) comma() (rune, error) {
	switch s.Delimiter {
	case "":
		return ',', nil
	case "tab", `\t`:
		return '\t', nil
	}
	r, err := oneRune(s.Delimiter)
	if err != nil {
		return 0, fmt.Errorf("csv: delimiter %w (or \"tab\")", err)
	}
	return r, nil
}

func (s *Settings) comment() (rune, error) {
	if s.Comment == "" {
		return 0, nil
	}
	r, err := oneRune(s.Comment)
	if err != nil {
		return 0, fmt.Errorf("csv: comment %w", err)
	}
	return r, nil
}

// oneRune accepts exactly one character that encoding/csv can split on.
func oneRune(s string) (rune, error) {
	r, n := utf8.DecodeRuneInString(s)
	if n != len(s) || r == utf8.RuneError {
		return 0, fmt.Errorf("must be a single character, got %d bytes", len(s))
	}
	if r == '"' || r == '\r' || r == '\n' || r == 0 {
		return 0, fmt.Errorf("cannot be a quote, a line break or NUL")
	}
	return r, nil
}

const sample = `# A CSV export from a CRM. The first row must name the columns: a sync's
# source.fields, source.key and source.consent refer to those names.
crm_export:
  type: csv
  # Relative paths resolve against this file's directory. Gzip files are
  # detected and decompressed, whatever their name.
  path: ./exports/contacts.csv
  # One character, or "tab". Default ",".
  delimiter: ","
  # Lines starting with this character are skipped. Default: none.
  comment: "#"
  # Accept stray quotes instead of rejecting the row as malformed.
  lazy_quotes: false
`

// Spec declares the CSV source for a registry.
func Spec() connectors.Spec {
	return connectors.SourceSpec(Type,
		"Reads an audience from a CSV file (optionally gzip-compressed) whose first row names the columns.",
		sample, New)
}

// Source reads one CSV file. It holds no open resources between reads, so
// it is safe for concurrent reads and Close is a no-op.
type Source struct {
	path    string
	comma   rune
	comment rune
	lazy    bool
	log     *zap.Logger
}

var (
	_ connectors.Source  = (*Source)(nil)
	_ connectors.Checker = (*Source)(nil)
)

// New builds a source from validated settings, resolving the path against
// env.BaseDir.
func New(s *Settings, env connectors.Env) (*Source, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	comma, _ := s.comma()
	comment, _ := s.comment()
	return &Source{path: env.Resolve(s.Path), comma: comma, comment: comment, lazy: s.LazyQuotes, log: env.Log()}, nil
}

// Close does nothing: each Read opens and closes the file itself.
func (s *Source) Close() error { return nil }
