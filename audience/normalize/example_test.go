package normalize_test

import (
	"fmt"
	"os"
	"strings"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/audience/normalize"
)

func ExampleProfile_Value() {
	google, _ := lookup("google")
	id, reason := google.Value(audience.Email, "  ALEXZ@example.com   ", normalize.Options{})
	fmt.Println(id.Value, reason == "")

	_, reason = google.Value(audience.Phone, "(650) 555-1212", normalize.Options{})
	fmt.Println(reason)
	// Output:
	// 509e933019bb285a134a9334b8bb679dff79d0ce023d529af4bd744d47b4fd8a true
	// phone.no_country
}

func ExampleProfile_Normalize() {
	meta, _ := lookup("meta")
	us := normalize.Options{DefaultRegion: "US"}
	for _, v := range []struct {
		kind audience.Kind
		raw  string
	}{
		{audience.Phone, "+1 (650) 555-1212"},
		{audience.FirstName, "José"},
		{audience.City, "Washington D.C"},
		{audience.Zip, "98121-4892"},
		{audience.BirthDay, "1"},
	} {
		norm, _ := meta.Normalize(v.kind, v.raw, us)
		fmt.Println(norm)
	}
	// Output:
	// 16505551212
	// josé
	// washingtondc
	// 98121
	// 01
}

func ExampleProfile_Member() {
	google, _ := lookup("google")
	var m audience.Member
	m.Fields[audience.Email] = "Quinn.Y@gmail.com"
	m.Fields[audience.Phone] = "020 7183 8750" // read in the member's country
	m.Fields[audience.FirstName] = "Quinn"
	m.Fields[audience.LastName] = "Young"
	m.Fields[audience.Country] = "GB"
	// No postal code: the address is incomplete and left out.
	var tally normalize.Tally
	ids, ok := google.Member(&m, normalize.Options{DefaultRegion: "US"}, nil, &tally)
	fmt.Println(ok, len(ids), ids[0].Kind, ids[1].Kind, tally.Rejected)
	// Output:
	// true 2 email phone map[address.incomplete:1]
}

func ExampleHashLines() {
	x, _ := lookup("x")
	in := strings.NewReader("@AdsAPI\nnot a handle\n")
	tally, err := normalize.HashLines(in, os.Stdout, x, audience.Handle, normalize.Options{})
	fmt.Println(tally.Rejected, err)
	// Output:
	// 49e0be2aeccfb51a8dee4c945c8a70a9ac500cf6f5cb08112575f74db9b1470d
	// !invalid: handle.malformed
	// map[handle.malformed:1] <nil>
}
