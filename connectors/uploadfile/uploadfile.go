// Package uploadfile writes the files each ad platform takes for a manual
// audience upload: Google Customer Match, Meta customer files and X audience
// lists. The file destination and the `audiencesync hash` CSV mode share it,
// so a file prepared by hand and one written by a sync are laid out alike.
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
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/audiencesync/audiencesync/audience"
)

// Profile names, as destinations and the normaliser spell them.
const (
	Google = "google"
	Meta   = "meta"
	X      = "x"
)

// Column is one column of a platform's upload layout: the identifier kind it
// holds and the platform's name for it. Meta's names are also the schema
// keys of its API, which the meta connector takes from here.
type Column struct {
	Kind audience.Kind
	Name string
}

// layouts lists each platform's columns in the order its template uses.
var layouts = map[string][]Column{
	Google: {
		{audience.Email, "Email"},
		{audience.Phone, "Phone"},
		{audience.FirstName, "First Name"},
		{audience.LastName, "Last Name"},
		{audience.Country, "Country"},
		{audience.Zip, "Zip"},
	},
	Meta: {
		{audience.Email, "EMAIL"},
		{audience.Phone, "PHONE"},
		{audience.FirstName, "FN"},
		{audience.LastName, "LN"},
		{audience.FirstInitial, "FI"},
		{audience.City, "CT"},
		{audience.Region, "ST"},
		{audience.Zip, "ZIP"},
		{audience.Country, "COUNTRY"},
		{audience.Gender, "GEN"},
		{audience.BirthYear, "DOBY"},
		{audience.BirthMonth, "DOBM"},
		{audience.BirthDay, "DOBD"},
		{audience.MobileID, "MADID"},
		{audience.ExternalID, "EXTERN_ID"},
	},
	X: {
		{audience.Email, "email"},
		{audience.Phone, "phone_number"},
		{audience.Handle, "handle"},
		{audience.TwitterID, "twitter_id"},
		{audience.MobileID, "device_id"},
		{audience.ExternalID, "partner_user_id"},
	},
}

// Profiles lists the profiles with an upload file layout.
func Profiles() []string { return []string{Google, Meta, X} }

// Kinds returns the kinds profile's layout has a column for, in column
// order.
func Kinds(profile string) ([]audience.Kind, error) {
	cols, err := layout(profile)
	if err != nil {
		return nil, err
	}
	out := make([]audience.Kind, len(cols))
	for i, c := range cols {
		out[i] = c.Kind
	}
	return out, nil
}

// Columns returns profile's layout in column order.
func Columns(profile string) ([]Column, error) {
	cols, err := layout(profile)
	if err != nil {
		return nil, err
	}
	return append([]Column(nil), cols...), nil
}

func layout(profile string) ([]Column, error) {
	cols, ok := layouts[profile]
	if !ok {
		return nil, fmt.Errorf("no upload file layout for profile %q (use %s)", profile, strings.Join(Profiles(), ", "))
	}
	return cols, nil
}

// Writer writes one upload file: a header, then one row per member.
type Writer struct {
	csv *csv.Writer
	// slot maps a kind to its column, -1 when the file has none.
	slot    [audience.NumKinds]int
	row     []string
	profile string
}

// NewWriter starts an upload file for profile on w with a column for each
// of kinds, in the platform's column order; nil kinds means every column of
// the layout. A kind the layout has no column for is an error. The header
// is written by the first Flush.
func NewWriter(w io.Writer, profile string, kinds []audience.Kind) (*Writer, error) {
	cols, err := layout(profile)
	if err != nil {
		return nil, err
	}
	for _, k := range kinds {
		if !slices.ContainsFunc(cols, func(c Column) bool { return c.Kind == k }) {
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
