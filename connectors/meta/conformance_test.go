package meta_test

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/connectortest"
	"github.com/audiencesync/audiencesync/connectors/meta"
)

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func id(k audience.Kind, v string) audience.Identifier {
	return audience.Identifier{Kind: k, Value: v, Hashed: k != audience.MobileID && k != audience.ExternalID}
}

// upload is the i'th conformance member: every other one a multi-key row
// (hashed e-mail and phone), the rest a mobile advertiser id or an
// external id, sent in clear as Meta takes them.
func upload(i int) connectors.Upload {
	u := connectors.Upload{
		Key:     audience.KeyFromSource(fmt.Sprintf("c-%06d", i)),
		Consent: audience.Consent{AdUserData: audience.ConsentGranted, AdPersonalization: audience.ConsentGranted},
	}
	switch i % 4 {
	case 0, 2:
		u.Identifiers = []audience.Identifier{
			id(audience.Email, sha(fmt.Sprintf("user%06d@example.com", i))),
			id(audience.Phone, sha(fmt.Sprintf("1555%07d", i))),
		}
	case 1:
		u.Identifiers = []audience.Identifier{id(audience.MobileID, fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i))}
	case 3:
		u.Identifiers = []audience.Identifier{id(audience.ExternalID, fmt.Sprintf("crm-%06d", i))}
	}
	return u
}

// owners maps each identifier value of the first uploads to its member.
var owners = sync.OnceValue(func() map[string]int {
	m := map[string]int{}
	for i := range meta.MaxRows + 200 {
		for _, x := range upload(i).Identifiers {
			m[x.Value] = i
		}
	}
	return m
})

// remoteMembers regroups the identifiers the replica holds into members,
// keyed as connectortest.IdentityOf keys an upload. A member only partly
// present, or an identifier no member owns, shows up as a key of its own
// and fails the suite's comparison.
func remoteMembers(ids []string) map[string]bool {
	byOwner := map[int][]string{}
	out := map[string]bool{}
	for _, v := range ids {
		v = strings.TrimPrefix(strings.TrimPrefix(v, "madid:"), "extern_id:")
		if i, ok := owners()[v]; ok {
			byOwner[i] = append(byOwner[i], v)
		} else {
			out[v] = true
		}
	}
	for _, vs := range byOwner {
		out[connectortest.Identity(vs...)] = true
	}
	return out
}

func TestConformance(t *testing.T) {
	t.Parallel()
	connectortest.Destination(t, connectortest.DestinationHarness{
		New: func(t *testing.T) (connectors.Destination, connectortest.Remote) {
			b := setup(t, "")
			d := b.dest()
			return d, connectortest.Remote{
				Members: func(t *testing.T) map[string]bool {
					return remoteMembers(b.sb.Members("meta", b.audienceID("audiencesync conformance")))
				},
				RequestSizes: func(t *testing.T) []int {
					var sizes []int
					for _, r := range b.calls("users") {
						sizes = append(sizes, rowCount(t, r))
					}
					return sizes
				},
				Faults: connectortest.InjectorFaults(b.faults, "meta", "users"),
			}
		},
		Upload: upload,
		RejectingMember: func() connectors.Upload {
			return connectors.Upload{
				Key:         audience.KeyFromSource("c-bad"),
				Identifiers: []audience.Identifier{id(audience.Email, "not-a-sha256-digest")},
			}
		},
	})
}
