package salesforce

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/audiencesync/audiencesync/connectors/salesforce/replicacreds"
	"github.com/audiencesync/audiencesync/sandbox/internal/wire"
)

// record is one sObject: field name (canonical spelling) → value; a
// missing or empty value is null. Booleans are "true" or "false".
type record map[string]string

// schema is each object's fields, canonical spelling, and its parent
// relationships (relationship name → the id field and parent object).
// MailingCountryCode is absent, as in an org without state and country
// picklists: asking for it is INVALID_FIELD. Contacts and Leads also have
// the org's customFields, which seeded records leave empty.
var schema = map[string][]string{
	"Contact": append([]string{"Id", "FirstName", "LastName", "Email", "Phone", "MobilePhone", "MailingCity", "MailingState",
		"MailingPostalCode", "MailingCountry", "HasOptedOutOfEmail", "LastModifiedDate", "SystemModstamp"}, customFields...),
	"Lead": append([]string{"Id", "FirstName", "LastName", "Email", "Phone", "MobilePhone", "City", "State", "PostalCode", "Country",
		"HasOptedOutOfEmail", "IsConverted", "ConvertedContactId", "LastModifiedDate", "SystemModstamp"}, customFields...),
	"Campaign":       {"Id", "Name", "IsActive", "Status", "LastModifiedDate"},
	"CampaignMember": {"Id", "CampaignId", "ContactId", "LeadId", "Status", "HasResponded", "LastModifiedDate"},
}

type parent struct{ idField, object string }

var parents = map[string]map[string]parent{
	"CampaignMember": {"contact": {"ContactId", "Contact"}, "lead": {"LeadId", "Lead"}, "campaign": {"CampaignId", "Campaign"}},
	"Lead":           {"convertedcontact": {"ConvertedContactId", "Contact"}},
}

// customFields are the custom fields the replica's org has on Contact and
// Lead, as an org keeps its own key, consent answers (picklists) and
// segmentation data: a text, a picklist pair, a number, a checkbox and a
// date/time.
var customFields = []string{"Customer_Key__c", "Ad_User_Data__c", "Ad_Personalization__c",
	"Tier__c", "Visits__c", "Subscribed__c", "Last_Visit__c"}

// booleans are the fields answered as JSON booleans; numbers those
// answered as JSON numbers.
var (
	booleans = map[string]bool{"IsConverted": true, "HasOptedOutOfEmail": true, "IsActive": true, "HasResponded": true, "Subscribed__c": true}
	numbers  = map[string]bool{"Visits__c": true}
)

// canonical returns the schema's spelling of field on object, or false.
func canonical(object, field string) (string, bool) {
	for _, f := range schema[object] {
		if strings.EqualFold(f, field) {
			return f, true
		}
	}
	return "", false
}

// canonicalObject returns the schema's spelling of an object name.
func canonicalObject(name string) (string, bool) {
	for o := range schema {
		if strings.EqualFold(o, name) {
			return o, true
		}
	}
	return "", false
}

// store holds the org's records by object, in creation order.
type store struct {
	objects map[string][]record
	byID    map[string]record
	next    map[string]int // per key prefix
}

// keyPrefixes are Salesforce's id prefixes of the objects.
var keyPrefixes = map[string]string{"Contact": "003", "Lead": "00Q", "Campaign": "701", "CampaignMember": "00v"}

func newStore() *store {
	return &store{objects: map[string][]record{}, byID: map[string]record{}, next: map[string]int{}}
}

// insert adds r to object, giving it an id unless it has one.
func (st *store) insert(object string, r record) record {
	if r["Id"] == "" {
		st.next[object]++
		r["Id"] = fmt.Sprintf("%s%012dAAA", keyPrefixes[object], st.next[object])
	}
	st.objects[object] = append(st.objects[object], r)
	st.byID[r["Id"]] = r
	return r
}

// stamp is a datetime as Salesforce writes it.
func stamp(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000-0700") }

// seed fills a fresh org: 30 Contacts and 20 Leads (three converted), and
// three campaigns.
func (st *store) seed(now time.Time) {
	ts := stamp(now.Add(-24 * time.Hour))
	contacts := make([]record, 30)
	for i := range contacts {
		contacts[i] = st.insert("Contact", synthContact(i+1, ts))
	}
	leads := make([]record, 20)
	for i := range leads {
		leads[i] = st.insert("Lead", synthLead(i+1, ts))
	}
	// Leads 1 to 3 were converted into Contacts 28 to 30.
	for i := range 3 {
		leads[i]["IsConverted"] = "true"
		leads[i]["ConvertedContactId"] = contacts[27+i]["Id"]
	}
	spring := st.insert("Campaign", record{"Id": replicacreds.SpringCampaignID, "Name": replicacreds.SpringCampaign, "IsActive": "true", "Status": "In Progress", "LastModifiedDate": ts})
	webinar := st.insert("Campaign", record{"Id": replicacreds.WebinarCampaignID, "Name": replicacreds.WebinarCampaign, "IsActive": "false", "Status": "Completed", "LastModifiedDate": ts})
	st.insert("Campaign", record{"Id": replicacreds.EmptyCampaignID, "Name": replicacreds.EmptyCampaign, "IsActive": "true", "Status": "Planned", "LastModifiedDate": ts})
	// Spring: Contacts 1–20 and Leads 1–12; converted Leads 1–3 stay
	// members by their Lead id (a Lead converted without its member row
	// gaining the Contact), so reading must leave them out.
	for _, c := range contacts[:20] {
		st.member(spring["Id"], c["Id"], "", ts)
	}
	for _, l := range leads[:12] {
		st.member(spring["Id"], "", l["Id"], ts)
	}
	for _, c := range contacts[10:25] {
		st.member(webinar["Id"], c["Id"], "", ts)
	}
}

func (st *store) member(campaign, contact, lead, ts string) {
	st.insert("CampaignMember", record{"CampaignId": campaign, "ContactId": contact, "LeadId": lead, "Status": "Sent",
		"HasResponded": "false", "LastModifiedDate": ts})
}

// synthKey marks a record generated by synthContact or synthLead with its
// number, so the state file keeps only what differs from the generated
// record (no addresses, which a state file must not hold). It is no
// field: queries cannot name it.
const synthKey = "_synthetic"

// synthContact is Contact n, obviously synthetic.
func synthContact(n int, ts string) record {
	return record{synthKey: strconv.Itoa(n), "FirstName": "Contact", "LastName": fmt.Sprintf("Test%04d", n), "Email": fmt.Sprintf("contact%04d@example.com", n),
		"Phone": fmt.Sprintf("+1 202 555 %04d", n%10000), "MailingPostalCode": fmt.Sprintf("2%04d", n%10000), "MailingCountry": "US",
		"HasOptedOutOfEmail": wire.OptedOut(int64(n)), "LastModifiedDate": ts, "SystemModstamp": ts}
}

// synthLead is Lead n, obviously synthetic; its address fields are a
// Lead's (PostalCode, Country).
func synthLead(n int, ts string) record {
	return record{synthKey: strconv.Itoa(n), "FirstName": "Lead", "LastName": fmt.Sprintf("Test%04d", n), "Email": fmt.Sprintf("lead%04d@example.com", n),
		"MobilePhone": fmt.Sprintf("+1 303 555 %04d", n%10000), "PostalCode": fmt.Sprintf("8%04d", n%10000), "Country": "US",
		"HasOptedOutOfEmail": "false", "IsConverted": "false", "LastModifiedDate": ts, "SystemModstamp": ts}
}

// synthesize returns the generated record a synthetic one started from.
func synthesize(object string, r record) (record, bool) {
	n, err := strconv.Atoi(r[synthKey])
	if err != nil || n <= 0 {
		return nil, false
	}
	switch object {
	case "Contact":
		return synthContact(n, ""), true
	case "Lead":
		return synthLead(n, ""), true
	}
	return nil, false
}

// Snapshot is the replica's durable state: its records by object, a
// synthetic record only by its number and what differs from it.
type Snapshot struct {
	Objects map[string][]map[string]string `json:"objects"`
}

// Snapshot returns the records, for the sandbox's state file.
func (s *Server) Snapshot() Snapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	snap := Snapshot{Objects: map[string][]map[string]string{}}
	for o, recs := range s.data.objects {
		for _, r := range recs {
			saved := map[string]string(r)
			if base, ok := synthesize(o, r); ok {
				saved = map[string]string{}
				for k, v := range r {
					if k == "Id" || k == synthKey || base[k] != v {
						saved[k] = v
					}
				}
			}
			snap.Objects[o] = append(snap.Objects[o], saved)
		}
	}
	return snap
}

// Restore replaces the records with a snapshot's.
func (s *Server) Restore(snap Snapshot) error {
	st := newStore()
	for _, o := range slices.Sorted(maps.Keys(snap.Objects)) {
		if _, ok := schema[o]; !ok {
			return fmt.Errorf("unknown object %q", o)
		}
		for _, r := range snap.Objects[o] {
			if r["Id"] == "" {
				return errors.New("a record without Id")
			}
			rec := record(maps.Clone(r))
			if base, ok := synthesize(o, rec); ok {
				maps.Copy(base, rec)
				rec = base
			}
			st.insert(o, rec)
		}
		st.next[o] = len(snap.Objects[o]) + 1000
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.data = st
	return nil
}

// AddSyntheticMembers adds n new synthetic Contacts to campaign id as
// members, for tests and benchmarks of large reads. It reports whether
// the campaign exists.
func (s *Server) AddSyntheticMembers(id string, n int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.data.byID[id] == nil {
		return false
	}
	ts := stamp(s.opts.Now())
	base := len(s.data.objects["Contact"])
	for i := range n {
		c := s.data.insert("Contact", synthContact(base+i+1, ts))
		s.data.member(id, c["Id"], "", ts)
	}
	return true
}

// ConvertLead marks Lead id converted, as converting it in Salesforce
// does; its member rows keep their Lead id. It reports whether the Lead
// exists.
func (s *Server) ConvertLead(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	l := s.data.byID[id]
	if l == nil || !strings.HasPrefix(id, keyPrefixes["Lead"]) {
		return false
	}
	l["IsConverted"] = "true"
	return true
}

// AddContacts adds a new Contact per element of contacts (its fields,
// canonical spelling, values as the REST API writes them) to campaign id
// as members, in that order, for tests that need given members. It fails
// on a campaign or field the org does not have, adding nothing.
func (s *Server) AddContacts(id string, contacts []map[string]string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.data.byID[id] == nil || !strings.HasPrefix(id, keyPrefixes["Campaign"]) {
		return fmt.Errorf("no campaign %s", id)
	}
	for _, c := range contacts {
		for f := range c {
			if got, ok := canonical("Contact", f); !ok || got != f || f == "Id" {
				return fmt.Errorf("no settable Contact field %q", f)
			}
		}
	}
	ts := stamp(s.opts.Now())
	for _, c := range contacts {
		r := record(maps.Clone(c))
		r["LastModifiedDate"], r["SystemModstamp"] = ts, ts
		r = s.data.insert("Contact", r)
		s.data.member(id, r["Id"], "", ts)
	}
	return nil
}
