package mailchimp

import (
	"fmt"
	"sync"
	"testing"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/audience/normalize"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/connectortest"
	mcplatform "github.com/audiencesync/audiencesync/platform/mailchimp"
)

// uploads memoises the conformance members: a sealed value differs each
// time it is sealed, and the suite recognises a member by its identifiers.
var uploads sync.Map // int -> connectors.Upload

// upload is the i'th conformance member as the engine hands it over: the
// platform profile's subscriber hash, sealed address and first name.
func upload(i int) connectors.Upload {
	if u, ok := uploads.Load(i); ok {
		return u.(connectors.Upload)
	}
	var m audience.Member
	m.Fields[audience.Email] = fmt.Sprintf("User%06d@Example.com", i)
	m.Fields[audience.FirstName] = fmt.Sprintf("Ann %d", i)
	var tally normalize.Tally
	ids, ok := mcplatform.Platform().Profile.Member(&m, normalize.Options{}, nil, &tally)
	if !ok {
		panic("conformance member rejected")
	}
	audience.SortIdentifiers(ids)
	u, _ := uploads.LoadOrStore(i, connectors.Upload{Key: audience.KeyFromSource(fmt.Sprint(i)), Identifiers: ids})
	return u.(connectors.Upload)
}

// identities maps the subscriber hashes of the first conformance members
// to their identities.
var identities = sync.OnceValue(func() map[string]string {
	out := map[string]string{}
	for i := range 5000 {
		u := upload(i)
		for _, id := range u.Identifiers {
			if id.Hashed {
				out[id.Value] = connectortest.IdentityOf(u.Identifiers)
			}
		}
	}
	return out
})

func TestConformance(t *testing.T) {
	t.Parallel()
	connectortest.Destination(t, connectortest.DestinationHarness{
		New: func(t *testing.T) (connectors.Destination, connectortest.Remote) {
			r := newReplica(t, "")
			d := r.dest(t, nil)
			return d, connectortest.Remote{
				Members: func(t *testing.T) map[string]bool {
					out := map[string]bool{}
					for _, h := range r.tagged(t) {
						if id, ok := identities()[h]; ok {
							out[id] = true
						} else {
							out["unknown:"+h] = true
						}
					}
					return out
				},
				RequestSizes: func(*testing.T) []int { return r.rec.batchSizes() },
				Faults:       connectortest.InjectorFaults(r.faults, mcplatform.Name, "batch", "tags"),
			}
		},
		Upload:   upload,
		Audience: connectors.AudienceSpec{List: mcplatform.ReplicaListID, Tag: "cart-abandoner", Create: true},
		// An address Mailchimp finds fake is refused on its own.
		RejectingMember: func() connectors.Upload {
			var m audience.Member
			m.Fields[audience.Email] = "nobody@localhost"
			var tally normalize.Tally
			ids, _ := mcplatform.Platform().Profile.Member(&m, normalize.Options{}, nil, &tally)
			return connectors.Upload{Key: audience.KeyFromSource("bad"), Identifiers: ids}
		},
	})
}
