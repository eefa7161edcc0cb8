// Package builtin is the one place connectors are registered: Registry
// lists every connector audiencesync ships.
package builtin

import (
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/csv"
	"github.com/audiencesync/audiencesync/connectors/file"
	"github.com/audiencesync/audiencesync/connectors/googleads"
	"github.com/audiencesync/audiencesync/connectors/hubspot"
	"github.com/audiencesync/audiencesync/connectors/linkedin"
	"github.com/audiencesync/audiencesync/connectors/mailchimp"
	"github.com/audiencesync/audiencesync/connectors/meta"
	"github.com/audiencesync/audiencesync/connectors/salesforce"
	sqlsource "github.com/audiencesync/audiencesync/connectors/sql"
	"github.com/audiencesync/audiencesync/connectors/x"
)

// Registry returns a new registry holding every built-in connector. Each
// call builds a fresh value, so callers (and tests) may add to it freely.
func Registry() *connectors.Registry {
	r := &connectors.Registry{}
	for _, spec := range []connectors.Spec{
		// Sources.
		csv.Spec(),
		hubspot.Spec(),
		salesforce.Spec(),
		sqlsource.Spec(),
		// Destinations.
		file.Spec(),
		googleads.Spec(),
		meta.Spec(),
		x.Spec(),
		linkedin.Spec(),
		mailchimp.Spec(),
	} {
		r.Register(spec)
	}
	return r
}
