package hubspot_test

import (
	"fmt"
	"testing"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/connectortest"
	"github.com/audiencesync/audiencesync/connectors/hubspot"
	replica "github.com/audiencesync/audiencesync/sandbox/hubspot"
)

// conformanceProps are the contact properties the conformance lists map,
// one per kind synthetic members carry.
var conformanceProps = map[audience.Kind]string{
	audience.Email: "email", audience.Phone: "phone", audience.FirstName: "firstname",
	audience.LastName: "lastname", audience.Zip: "zip", audience.Country: "country",
}

// conformanceList fills a fresh replica with a list of members, each a
// contact whose custom properties hold its key, consent and attributes,
// and returns it with the request that reads the list by id.
func conformanceList(t *testing.T, members []audience.Member) (*bundle, connectors.ReadRequest) {
	t.Helper()
	b := setup(t, replica.Options{})
	req := connectors.ReadRequest{
		Key:        "crm_key",
		Fields:     conformanceProps,
		Consent:    connectors.ConsentFields{AdUserData: "ad_user_data", AdPersonalization: "ad_personalization"},
		Attributes: connectortest.SyntheticAttributes,
	}
	contacts := make([]map[string]string, len(members))
	for i, m := range members {
		contacts[i] = connectortest.RecordOf(m, req)
	}
	req.Audience = "id:" + b.rep.AddContactList("Conformance", contacts)
	return b, req
}

// TestConformance runs the source suite on lists of the replica. The
// failing source's batch reads answer 503 from the one holding member
// after+1 on, past every retry.
func TestConformance(t *testing.T) {
	t.Parallel()
	connectortest.Source(t, connectortest.SourceHarness{
		New: func(t *testing.T, members []audience.Member) (connectors.Source, connectors.ReadRequest) {
			b, req := conformanceList(t, members)
			return b.source(t, nil), req
		},
		Failing: func(t *testing.T, members []audience.Member, after int) (connectors.Source, connectors.ReadRequest) {
			b, req := conformanceList(t, members)
			spec := "hubspot.batchread:503"
			if ok := after / hubspot.BatchRead; ok > 0 {
				spec = fmt.Sprintf("hubspot.batchread:ok*%d,%s", ok, spec)
			}
			if err := b.faults.Load(spec); err != nil {
				t.Fatal(err)
			}
			return b.source(t, nil), req
		},
		PageSize:        hubspot.MembershipPage,
		Attributes:      true,
		Declares:        true,
		MissingAudience: "name:No such list",
		MissingAdvice:   "check source.audience",
	})
}
