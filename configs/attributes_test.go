package configs_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/configs"
	"github.com/audiencesync/audiencesync/connectors"
)

// withAttributes is minimal with block (indented under source:) as its
// source's attributes, from line 14.
func withAttributes(block string) string {
	return strings.Replace(minimal, "      fields: {email: email}\n", "      fields: {email: email}\n      attributes:\n"+block, 1)
}

// TestSourceAttributes checks that source.attributes is read in file
// order, with the field defaulting to the name.
func TestSourceAttributes(t *testing.T) {
	t.Parallel()
	cfg, err := configs.Parse([]byte(withAttributes(`        visits: {field: hs_analytics_num_visits, type: number}
        lifecyclestage: {type: string}
        last_visit: {field: last_seen, type: timestamp, layout: "02/01/2006 15:04"}
        opted_in: {field: opt, type: bool}
`)), "test.yaml", "/cfg", testRegistry(), configs.LoadOptions{SkipSecrets: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []connectors.Attribute{
		{Name: "visits", Field: "hs_analytics_num_visits", Type: audience.AttrNumber},
		{Name: "lifecyclestage", Field: "lifecyclestage", Type: audience.AttrString},
		{Name: "last_visit", Field: "last_seen", Type: audience.AttrTime, Layout: "02/01/2006 15:04"},
		{Name: "opted_in", Field: "opt", Type: audience.AttrBool},
	}
	got := cfg.Syncs[0].Source.Attrs
	if len(got) != len(want) {
		t.Fatalf("Attrs = %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("Attrs[%d] = %+v, want %+v", i, got[i], want[i])
		}
	}
}

func TestSourceAttributeProblems(t *testing.T) {
	t.Parallel()
	const at = `test.yaml:15: sync "s1" source attributes `
	for _, tc := range []struct {
		name, block string
		want        []string
	}{
		{"unknown type", "        visits: {type: integer}\n",
			[]string{at + `visits: unknown attribute type "integer" (known: string, number, bool, timestamp)`}},
		{"no type", "        visits: {field: n}\n",
			[]string{at + `visits has no type: add type: string, number, bool or timestamp`}},
		{"duplicate name", "        visits: {type: number}\n        visits: {type: string}\n",
			[]string{`test.yaml:16: duplicate key "visits" in sync "s1" source attributes (first at line 15)`}},
		{"identifier kind", "        country: {type: string}\n",
			[]string{at + `"country" is the name of the identifier kind country: name the attribute otherwise (such as crm_country), so a filter cannot confuse the two`}},
		{"identifier alias", "        zipcode: {type: string}\n",
			[]string{at + `"zipcode" is the name of the identifier kind zip: name the attribute otherwise (such as crm_zipcode), so a filter cannot confuse the two`}},
		{"not an identifier", "        Last-Visit: {type: timestamp}\n",
			[]string{at + `"Last-Visit": an attribute name is lower-case letters, digits and '_', starting with a letter (segment filters use it as a name)`}},
		{"layout on a number", "        visits: {type: number, layout: \"2006\"}\n",
			[]string{at + `visits: layout is for timestamp attributes only, not number: remove it`}},
		{"layout without the reference time", "        seen: {type: timestamp, layout: \"dd/mm/yyyy\"}\n",
			[]string{at + `seen layout "dd/mm/yyyy" is not a Go time layout: write the reference time 2006-01-02 15:04:05 as the source writes it, such as "02/01/2006 15:04"`}},
		{"unknown key", "        visits: {type: number, format: x}\n",
			nil}, // the decoder's own message; checked below by prefix
		{"empty", "        visits:\n",
			[]string{at + `visits is empty: give its type (and field, when the source field has another name), such as {field: hs_analytics_num_visits, type: number}`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := configs.Parse([]byte(withAttributes(tc.block)), "test.yaml", "/cfg", testRegistry(), configs.LoadOptions{SkipSecrets: true})
			var cerr *configs.Error
			if !errors.As(err, &cerr) {
				t.Fatalf("Parse error = %v, want *configs.Error", err)
			}
			if tc.want == nil {
				if len(cerr.Problems) != 1 || !strings.Contains(cerr.Problems[0].String(), `"format"`) {
					t.Fatalf("problems = %v, want one naming the unknown key", cerr.Problems)
				}
				return
			}
			var got []string
			for _, p := range cerr.Problems {
				got = append(got, p.String())
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
