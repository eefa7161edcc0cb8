package platformconn

import (
	"context"
	"slices"
	"time"

	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/platformhttp"
	"github.com/audiencesync/audiencesync/connectors/retry"
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

// Pacing is a CRM source's retry pacing, what tests shrink: the most
// attempts of a request, the bounds of the waits between them, and what
// waits (retry.Sleep, or a test's fake clock).
type Pacing struct {
	Attempts         int
	MinWait, MaxWait time.Duration
	Sleep            func(ctx context.Context, d time.Duration) error
}

// DefaultPacing is five attempts with waits from a second to a minute.
func DefaultPacing() Pacing {
	return Pacing{Attempts: 5, MinWait: time.Second, MaxWait: time.Minute, Sleep: retry.Sleep}
}

// HTTP builds the source's retrying client as Conn.HTTP does, with the
// connection's clock and p's pacing filled in too.
func (c *CRM) HTTP(p Pacing, o platformhttp.Options) *platformhttp.Client {
	o.Attempts, o.MinWait, o.MaxWait = p.Attempts, p.MinWait, p.MaxWait
	o.Policy = retry.Policy{Now: c.Now, Sleep: p.Sleep}
	return c.Conn.HTTP(o)
}
