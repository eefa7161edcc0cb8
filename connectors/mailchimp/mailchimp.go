// Package mailchimp is the Mailchimp destination: an audience is a tag on
// the contacts of one Mailchimp list, and keeping it in step starts and
// stops a Customer Journey (the cart-abandonment e-mail).
//
// Joining the audience adds the tag, creating the contact when it is not
// on the list; leaving removes the tag. Contacts are created in batches of
// up to 500 through the list's batch endpoint with update_existing false,
// so an existing contact's status is never touched: a new contact gets
// status_if_new (transactional by default, which receives no marketing
// e-mail; or pending, double opt-in), never subscribed. An existing
// contact whose merge fields are sent is updated one by one with PUT and
// status_if_new only, which changes no status either. The tag is then
// added to the batch's contacts in one bulk request. Removing the tag is
// one request per contact, by subscriber hash: state keeps no address,
// and Mailchimp's bulk tagging takes addresses. A member whose consent is
// denied at the source is not sent and, if tagged, is untagged.
//
// The address is sent in clear because Mailchimp must mail it. It reaches
// this package sealed (audience.Identifier.Sealed; see platform/mailchimp)
// and is opened only into the request body: no log line, error or result
// holds it, nor any refused member's reason, which is a code chosen here
// from Mailchimp's answer rather than its message (which quotes the
// address).
//
// The API key's suffix (…-us21) names the data centre, whose host the
// requests go to. At most 10 requests are in flight (Mailchimp's limit of
// simultaneous connections); 429 and 5xx answers are retried through the
// one retry policy.
package mailchimp

import (
	"fmt"
	"strings"

	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
	"github.com/audiencesync/audiencesync/connectors/platformhttp"
	mcplatform "github.com/audiencesync/audiencesync/platform/mailchimp"
)

// MaxBatch is the most members one batch request carries.
const MaxBatch = 500

// Destination tags the contacts of Mailchimp lists.
type Destination struct {
	key         string
	dc          string
	statusIfNew string
	merge       []mergeField
	// attrTags are the merge tags of Info().Attributes, in order.
	attrTags    []string
	attrs       []string
	concurrency int
	log         *zap.Logger
	http        *platformhttp.Client
	conn        *platformconn.REST
}

// Compile-time interface guard; each optional capability's guard stands
// above the method that provides it.
var _ connectors.Destination = (*Destination)(nil)

// New builds a Mailchimp destination from validated settings whose
// secrets are resolved. It makes no network call.
func New(s *Settings, env connectors.Env) (*Destination, error) {
	conn, err := platformconn.NewREST(s.Settings, connLimits, env, s.Validate, "", "")
	if err != nil {
		return nil, err
	}
	merge, _ := s.mergeKinds() // validated above
	d := &Destination{
		key:         s.APIKey.Reveal(),
		statusIfNew: s.StatusIfNew,
		merge:       merge,
		attrTags:    s.attributeTags(),
		attrs:       s.SentAttributes(),
		concurrency: conn.Concurrency,
		log:         conn.Log,
		conn:        conn,
	}
	if d.statusIfNew == "" {
		d.statusIfNew = DefaultStatusIfNew
	}
	if s.Sandbox && d.key == "" {
		d.key = mcplatform.ReplicaAPIKey
	}
	if d.dc = dataCenter(d.key); d.dc == "" {
		return nil, fmt.Errorf("mailchimp: api_key does not end in a data centre such as -us21: copy the whole key from Account > Extras > API keys")
	}
	d.http = conn.HTTP(platformhttp.Options{Transport: platformconn.Wire(d.concurrency + 2)})
	conn.Client = d.http
	return d, nil
}

// Info describes the destination to the engine: the address, and the
// kinds merge_fields sends.
func (d *Destination) Info() connectors.DestinationInfo {
	kinds := []audience.Kind{audience.Email}
	for _, m := range d.merge {
		kinds = append(kinds, m.kind)
	}
	return connectors.DestinationInfo{
		Platform:    mcplatform.Platform(),
		Kinds:       kinds,
		MaxBatch:    MaxBatch,
		Concurrency: d.concurrency,
		Attributes:  d.attrs,
	}
}

// Close releases idle connections; a second call does nothing.
func (d *Destination) Close() error { return d.conn.Close() }

// audienceID is how a resolved audience is named: list id and tag id.
func audienceID(list, tag string) string { return list + "/" + tag }

// splitID reads an audienceID.
func splitID(id string) (list, tag string, ok bool) {
	list, tag, ok = strings.Cut(id, "/")
	return list, tag, ok && list != "" && tag != ""
}
