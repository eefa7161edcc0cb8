package salesforce_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/connectortest"
	"github.com/audiencesync/audiencesync/connectors/salesforce"
	"github.com/audiencesync/audiencesync/connectors/salesforce/replicacreds"
	replica "github.com/audiencesync/audiencesync/sandbox/salesforce"
)

// conformanceFields are the Contact fields the conformance campaign maps,
// one per kind synthetic members carry.
var conformanceFields = map[audience.Kind]string{
	audience.Email: "Email", audience.Phone: "Phone", audience.FirstName: "FirstName",
	audience.LastName: "LastName", audience.Zip: "MailingPostalCode", audience.Country: "MailingCountry",
}

// conformanceAttrs are connectortest.SyntheticAttributes read from the
// replica org's custom fields.
func conformanceAttrs() []connectors.Attribute {
	fields := []string{"Tier__c", "Visits__c", "Subscribed__c", "Last_Visit__c"}
	out := make([]connectors.Attribute, len(connectortest.SyntheticAttributes))
	for i, a := range connectortest.SyntheticAttributes {
		a.Field = fields[i]
		out[i] = a
	}
	return out
}

// conformanceCampaign fills the replica's empty campaign with members,
// each a Contact whose custom fields hold its key, consent and attributes,
// and returns the request that reads it.
func conformanceCampaign(t *testing.T, b *bundle, members []audience.Member) connectors.ReadRequest {
	t.Helper()
	req := connectors.ReadRequest{
		Audience:   replicacreds.EmptyCampaignID,
		Key:        "Customer_Key__c",
		Fields:     conformanceFields,
		Consent:    connectors.ConsentFields{AdUserData: "Ad_User_Data__c", AdPersonalization: "Ad_Personalization__c"},
		Attributes: conformanceAttrs(),
	}
	contacts := make([]map[string]string, len(members))
	for i, m := range members {
		contacts[i] = connectortest.RecordOf(m, req)
		for j, a := range req.Attributes {
			if ts, ok := m.Attrs[j].Time(); ok {
				contacts[i][a.Field] = ts.Format("2006-01-02T15:04:05.000-0700") // as Salesforce writes a date/time
			}
		}
	}
	require.NoError(t, b.rep.AddContacts(replicacreds.EmptyCampaignID, contacts))
	return req
}

// TestConformance runs the source suite on a campaign of the replica, read
// with the REST query API (pages of 200) and with Bulk 2.0 query jobs
// (results pages of 100). The failing source's pages answer 503 from the
// one holding member after+1 on, past every retry.
func TestConformance(t *testing.T) {
	t.Parallel()
	const restBatch, bulkPage = 200, 100
	for _, tc := range []struct {
		name string
		bulk bool
		page int
		// endpoint is the fault target of the pages, and before how many
		// of its calls precede the first page (the campaign lookup and
		// the count are queries too).
		endpoint string
		before   int
	}{
		{name: "rest", page: restBatch, endpoint: "query", before: 2},
		{name: "bulk", bulk: true, page: bulkPage, endpoint: "results"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			build := func(t *testing.T, members []audience.Member, faults string) (connectors.Source, connectors.ReadRequest) {
				b := setup(t, replica.Options{})
				req := conformanceCampaign(t, b, members)
				require.NoError(t, b.faults.Load(faults))
				src := b.source(t, restBatch, func(s *salesforce.Settings) {
					if tc.bulk {
						s.BulkThreshold, s.BulkPage = 1, bulkPage
					}
				})
				return src, req
			}
			connectortest.Source(t, connectortest.SourceHarness{
				New: func(t *testing.T, members []audience.Member) (connectors.Source, connectors.ReadRequest) {
					return build(t, members, "")
				},
				Failing: func(t *testing.T, members []audience.Member, after int) (connectors.Source, connectors.ReadRequest) {
					spec := "salesforce." + tc.endpoint + ":503"
					if ok := tc.before + after/tc.page; ok > 0 {
						spec = fmt.Sprintf("salesforce.%s:ok*%d,%s", tc.endpoint, ok, spec)
					}
					return build(t, members, spec)
				},
				PageSize:        tc.page,
				Attributes:      true,
				Declares:        true,
				MissingAudience: "name:No such campaign",
				MissingAdvice:   "check source.audience",
			})
		})
	}
}
