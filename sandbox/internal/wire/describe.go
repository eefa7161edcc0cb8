package wire

import (
	"fmt"
	"strings"
)

// Description is what a replica tells a user about itself in the
// sandbox's summary (sandbox.Describer): the API and where it is served,
// the fixed credentials it accepts, and notes such as the token it always
// refuses. Every replica's summary is laid out the same way.
type Description struct {
	// API names the API the replica stands in for.
	API string
	// Base is the sandbox's base URL; Call, when set, hints at the paths
	// to call under it.
	Base, Call string
	// Credentials are name and value pairs, in the order shown.
	Credentials [][2]string
	// Notes follow the credentials, one line each.
	Notes []string
}

// String renders d: a heading, then one indented line per credential and
// note.
func (d Description) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%-26sendpoint: %s/", d.API, d.Base)
	if d.Call != "" {
		fmt.Fprintf(&b, "  (call %s)", d.Call)
	}
	b.WriteByte('\n')
	for _, c := range d.Credentials {
		fmt.Fprintf(&b, "  %-17s%s\n", c[0]+":", c[1])
	}
	for _, n := range d.Notes {
		fmt.Fprintf(&b, "  %s\n", n)
	}
	return b.String()
}
