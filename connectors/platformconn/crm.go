package platformconn

import (
	"slices"

	"github.com/audiencesync/audiencesync/connectors"
)

// CRM is what a CRM source (hubspot, salesforce) keeps between calls
// besides its credentials and tuning: its connection, set up as a
// platform connector's is, and the fields whose "true" means the person
// opted out.
type CRM struct {
	Conn
	// OptOut are the source fields whose "true" means opted out: mapped
	// to a consent question, they answer denied.
	OptOut []string
}

// NewCRM sets a CRM source's connection up as New does. optOut are the
// configured opt-out fields; nil (not configured) takes defaults, while
// an empty list turns opt-out fields off.
func NewCRM(s Settings, l Limits, env connectors.Env, validate func() error, optOut, defaults []string) (CRM, error) {
	conn, err := New(s, l, env, validate)
	if err != nil {
		return CRM{}, err
	}
	if optOut == nil {
		optOut = defaults
	}
	return CRM{Conn: conn, OptOut: slices.Clone(optOut)}, nil
}
