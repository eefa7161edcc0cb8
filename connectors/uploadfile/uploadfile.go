// Package uploadfile writes the files each ad platform takes for a manual
// audience upload (Google Customer Match, Meta customer files, X audience
// lists), laid out as the platform's platform.Platform.Layout says. The file
// destination and the `audiencesync hash` CSV mode share it, so a file
// prepared by hand and one written by a sync are laid out alike.
//
// A Writer places each identifier in the column of its kind. Values are
// written as given: hashing (and leaving Google's country and postal code in
// clear) is the normaliser's job. A member carrying several values of one
// kind keeps the first in the file, since every layout has one column per
// kind; the engine sorts identifiers, so the choice is stable across runs.
// The API connectors send every value.
//
// X's audience upload takes one identifier type per file: for a file meant
// for X's interface, give NewWriter a single kind.
package uploadfile

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/platform"
)

// Writer writes one upload file: a header, then one row per member.
type Writer struct {
	csv *csv.Writer
	// slot maps a kind to its column, -1 when the file has none.
	slot    [audience.NumKinds]int
	row     []string
	profile string
}

// ErrNoLayout is wrapped by NewWriter for a platform without an upload-file
// layout.
var ErrNoLayout = errors.New("the platform has no upload file layout")

// NewWriter starts an upload file for platform p on w with a column for
// each of kinds, in the platform's column order; nil kinds means every
// column of the layout. A kind the layout has no column for is an error.
// The header is written by the first Flush.
func NewWriter(w io.Writer, p *platform.Platform, kinds []audience.Kind) (*Writer, error) {
	cols, profile := p.Layout, p.Name
	if len(cols) == 0 {
		return nil, fmt.Errorf("write a %s upload file: %w", profile, ErrNoLayout)
	}
	for _, k := range kinds {
		if !slices.ContainsFunc(cols, func(c platform.Column) bool { return c.Kind == k }) {
			return nil, fmt.Errorf("%s upload files have no column for %s", profile, k)
		}
	}
	uw := &Writer{csv: csv.NewWriter(w), profile: profile}
	for i := range uw.slot {
		uw.slot[i] = -1
	}
	var header []string
	for _, c := range cols {
		if kinds != nil && !slices.Contains(kinds, c.Kind) {
			continue
		}
		uw.slot[c.Kind] = len(header)
		header = append(header, c.Name)
	}
	uw.row = make([]string, len(header))
	if err := uw.csv.Write(header); err != nil {
		return nil, fmt.Errorf("write %s upload file header: %w", profile, err)
	}
	return uw, nil
}

// Write adds one member's row; a member with no identifier at all adds
// none, as an empty row would read as a blank line. An identifier of a kind
// the file has no column for is an error, so a mis-wired caller cannot
// silently drop data.
func (w *Writer) Write(ids []audience.Identifier) error {
	clear(w.row)
	if len(ids) == 0 {
		return nil
	}
	for _, id := range ids {
		if id.Kind >= audience.Kind(audience.NumKinds) || w.slot[id.Kind] < 0 {
			return fmt.Errorf("%s upload file has no column for %s", w.profile, id.Kind)
		}
		if i := w.slot[id.Kind]; w.row[i] == "" {
			w.row[i] = id.Value
		}
	}
	if err := w.csv.Write(w.row); err != nil {
		return fmt.Errorf("write %s upload file row: %w", w.profile, err)
	}
	return nil
}

// Flush writes buffered rows to the underlying writer and reports any error
// from this or an earlier write.
func (w *Writer) Flush() error {
	w.csv.Flush()
	if err := w.csv.Error(); err != nil {
		return fmt.Errorf("flush %s upload file: %w", w.profile, err)
	}
	return nil
}
