package linkedin

import (
	"fmt"
	"sync"
	"testing"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/connectortest"
	liplatform "github.com/audiencesync/audiencesync/platform/linkedin"
)

// upload is the i'th conformance member: a hashed e-mail address and, for
// every other member, an Android advertising id.
func upload(i int) connectors.Upload {
	ids := []audience.Identifier{{Kind: audience.Email, Value: sha(fmt.Sprintf("user%06d@example.com", i)), Hashed: true}}
	if i%2 == 0 {
		ids = append(ids, audience.Identifier{Kind: audience.MobileID, Value: fmt.Sprintf("6d92078a-8246-4ba4-ae5b-%012d", i)})
	}
	return connectors.Upload{Key: audience.KeyFromSource(fmt.Sprint(i)), Identifiers: ids}
}

// owner is the conformance member an identifier belongs to, and how many
// identifiers that member has.
type owner struct {
	identity string
	size     int
}

// owners maps each identifier of the first conformance members, as the
// replica stores it, to its member.
var owners = sync.OnceValue(func() map[string]owner {
	out := map[string]owner{}
	for i := range 5000 {
		u := upload(i)
		o := owner{identity: connectortest.IdentityOf(u.Identifiers), size: len(u.Identifiers)}
		for _, id := range u.Identifiers {
			out[stored(id)] = o
		}
	}
	return out
})

// stored is how the replica writes an identifier.
func stored(id audience.Identifier) string {
	if id.Kind == audience.MobileID {
		return "GOOGLE_AID:" + id.Value
	}
	return id.Value
}

// members reads the replica's identifiers back as members: a member
// counts when all its identifiers are there; anything else becomes an
// entry of its own, which the suite sees as unexpected.
func members(held []string) map[string]bool {
	out := map[string]bool{}
	present := map[owner]int{}
	for _, v := range held {
		o, ok := owners()[v]
		if !ok {
			out["unknown:"+v] = true
			continue
		}
		present[o]++
	}
	for o, n := range present {
		if n == o.size {
			out[o.identity] = true
		} else {
			out["partial:"+o.identity] = true
		}
	}
	return out
}

func TestConformance(t *testing.T) {
	t.Parallel()
	connectortest.Destination(t, connectortest.DestinationHarness{
		New: func(t *testing.T) (connectors.Destination, connectortest.Remote) {
			r := newReplica(t, "", nil)
			d := r.dest(t, nil)
			return d, connectortest.Remote{
				Members: func(t *testing.T) map[string]bool {
					var held []string
					for _, s := range r.li.State(true) {
						held = append(held, s.Identifiers...)
					}
					return members(held)
				},
				RequestSizes: func(*testing.T) []int { return r.rec.requestElements() },
				Faults:       connectortest.InjectorFaults(r.faults, liplatform.Name, "users"),
			}
		},
		Upload: upload,
		// LinkedIn refuses an idValue that is not a SHA-256 hash; the
		// connector passes what it is given, so the platform names the
		// member.
		RejectingMember: func() connectors.Upload {
			return connectors.Upload{
				Key:         audience.KeyFromSource("bad"),
				Identifiers: []audience.Identifier{{Kind: audience.Email, Value: "not-a-hash", Hashed: true}},
			}
		},
	})
}
