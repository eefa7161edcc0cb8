package x

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/connectortest"
)

// owners maps each identifier the conformance members carry, as the
// replica stores it, to the identity of its member and how many
// identifiers that member has, so the replica's flat identifier set can be
// read back as members.
type owners struct {
	mu   sync.Mutex
	of   map[string]string
	size map[string]int
}

// upload is the i'th conformance member: one identifier of every kind X
// takes, partner_user_id in clear.
func (o *owners) upload(i int) connectors.Upload {
	ids := []audience.Identifier{
		{Kind: audience.Email, Value: sha(fmt.Sprintf("user%06d@example.com", i)), Hashed: true},
		{Kind: audience.Phone, Value: sha(fmt.Sprintf("1202555%04d", i%10000) + fmt.Sprint(i)), Hashed: true},
		{Kind: audience.Handle, Value: sha(fmt.Sprintf("handle_%d", i)), Hashed: true},
		{Kind: audience.TwitterID, Value: sha(fmt.Sprint(1_000_000 + i)), Hashed: true},
		{Kind: audience.MobileID, Value: sha(fmt.Sprintf("6d92078a-8246-4ba4-ae5b-%012d", i)), Hashed: true},
		{Kind: audience.ExternalID, Value: fmt.Sprintf("crm-%d", i)},
	}
	o.register(ids)
	return connectors.Upload{Key: audience.KeyFromSource(fmt.Sprint(i)), Identifiers: ids}
}

func (o *owners) register(ids []audience.Identifier) {
	identity := connectortest.IdentityOf(ids)
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, id := range ids {
		o.of[stored(id)] = identity
	}
	o.size[identity] = len(ids)
}

// stored is how the replica writes an identifier.
func stored(id audience.Identifier) string {
	if id.Kind == audience.ExternalID {
		return "partner_user_id:" + id.Value
	}
	return id.Value
}

// members groups the replica's identifiers by member: a member counts when
// all its identifiers are there; anything else becomes an entry of its own
// so the suite sees it as unexpected.
func (o *owners) members(held []string) map[string]bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	present := map[string][]string{}
	out := map[string]bool{}
	for _, v := range held {
		identity, ok := o.of[v]
		if !ok {
			out["unknown:"+v] = true
			continue
		}
		present[identity] = append(present[identity], strings.TrimPrefix(v, "partner_user_id:"))
	}
	for identity, vals := range present {
		if len(vals) == o.size[identity] {
			out[identity] = true
		} else {
			out[connectortest.Identity(vals...)] = true
		}
	}
	return out
}

func TestConformance(t *testing.T) {
	t.Parallel()
	o := &owners{of: map[string]string{}, size: map[string]int{}}
	connectortest.Destination(t, connectortest.DestinationHarness{
		New: func(t *testing.T) (connectors.Destination, connectortest.Remote) {
			r := newReplica(t, "", 0, nil)
			d := r.dest(t, nil)
			return d, connectortest.Remote{
				Members: func(t *testing.T) map[string]bool {
					var held []string
					for _, a := range r.x.State(true) {
						if !a.Deleted {
							held = append(held, a.Identifiers...)
						}
					}
					return o.members(held)
				},
				RequestSizes: func(*testing.T) []int { return r.rec.requestOps() },
				Faults:       connectortest.InjectorFaults(r.faults, "x", "users"),
			}
		},
		Upload: o.upload,
		// X refuses a value that is not a SHA-256 hash; the connector
		// passes what it is given, so the platform names the member.
		RejectingMember: func() connectors.Upload {
			return connectors.Upload{
				Key:         audience.KeyFromSource("bad"),
				Identifiers: []audience.Identifier{{Kind: audience.Email, Value: "not-a-hash", Hashed: true}},
			}
		},
	})
}
