package salesforce

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/crmmap"
)

// refKind says how source.audience names an audience.
type refKind uint8

const (
	campaignByID refKind = iota + 1
	campaignByName
	soqlQuery
)

// audienceRef is a parsed source.audience.
type audienceRef struct {
	kind  refKind
	value string
}

func (r audienceRef) String() string {
	switch r.kind {
	case campaignByID:
		return "campaign " + r.value
	case campaignByName:
		return fmt.Sprintf("campaign %q", r.value)
	}
	return "the soql: query"
}

// campaignID matches a Campaign id: key prefix 701, 15 or 18 characters.
var campaignID = regexp.MustCompile(`^701[0-9A-Za-z]{12}([0-9A-Za-z]{3})?$`)

// parseRef reads source.audience: soql:QUERY, name:NAME, id:701…, a bare
// campaign id, or a campaign name.
func parseRef(s string) (audienceRef, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return audienceRef{}, errors.New("source.audience is empty: name a Salesforce campaign (audience: Spring launch), give its id (audience: 701…) or a query (audience: soql:SELECT Id, Email FROM Contact)")
	}
	if prefix, rest, ok := connectors.CutAudience(s); ok {
		switch prefix {
		case "soql":
			if !strings.HasPrefix(strings.ToUpper(rest), "SELECT ") {
				return audienceRef{}, errors.New("source.audience soql: needs a query starting with SELECT")
			}
			return audienceRef{soqlQuery, rest}, nil
		case "name":
			if rest == "" {
				return audienceRef{}, errors.New("source.audience name: needs a campaign name after it")
			}
			return audienceRef{campaignByName, rest}, nil
		case "id":
			if !campaignID.MatchString(rest) {
				return audienceRef{}, fmt.Errorf("source.audience %q: a campaign id has 15 or 18 letters and digits and starts with 701", s)
			}
			return audienceRef{campaignByID, rest}, nil
		}
	}
	if campaignID.MatchString(s) {
		return audienceRef{campaignByID, s}, nil
	}
	return audienceRef{campaignByName, s}, nil
}

// quote writes s as a SOQL string literal.
func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\n", `\n`, "\r", `\r`, "\t", `\t`)
	return "'" + r.Replace(s) + "'"
}

// leadFields are the Lead spellings of Contact fields that differ: a
// Lead's address is not a mailing address.
var leadFields = map[string]string{
	"mailingstreet":      "Street",
	"mailingcity":        "City",
	"mailingstate":       "State",
	"mailingstatecode":   "StateCode",
	"mailingpostalcode":  "PostalCode",
	"mailingcountry":     "Country",
	"mailingcountrycode": "CountryCode",
}

// sides is a campaign field's Contact and Lead names.
type sides struct{ contact, lead string }

// sidesOf reads a source field of a campaign audience: a Contact field
// (read from the Lead's counterpart for Leads) or CONTACT|LEAD.
func sidesOf(f string) (sides, error) {
	c, l, pair := strings.Cut(f, "|")
	c, l = strings.TrimSpace(c), strings.TrimSpace(l)
	c = strings.TrimPrefix(c, "Contact.")
	l = strings.TrimPrefix(l, "Lead.")
	if !pair {
		l = c
		if alt, ok := leadFields[strings.ToLower(c)]; ok {
			l = alt
		}
	}
	for _, n := range []string{c, l} {
		if !fieldName.MatchString(n) {
			return sides{}, fmt.Errorf("%q is not a Salesforce field name (write Email, MailingPostalCode, or ContactField|LeadField)", f)
		}
	}
	return sides{c, l}, nil
}

var fieldName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$`)

// column is one value the mapper reads from a record: for a campaign
// member its Contact and Lead columns, for a query one column (lead ==
// contact).
type column struct{ contact, lead int }

// plan is how one audience is read: the query, its count query, the
// columns the records carry and how they become members.
type plan struct {
	query, count string
	// cols are the result columns the mapper reads, as the Bulk CSV header
	// names them (Contact.Email).
	cols     []string
	campaign bool
	// personCols are the ContactId and LeadId columns of a campaign.
	personCols column
	// m is where records hold the key, the identifiers, the consent
	// answers and the attributes.
	m *crmmap.Mapping[column]
}

// colSet collects the columns a plan reads, once each.
type colSet struct{ cols []string }

func (s *colSet) add(name string) int {
	for i, c := range s.cols {
		if strings.EqualFold(c, name) {
			return i
		}
	}
	s.cols = append(s.cols, name)
	return len(s.cols) - 1
}

// campaignPlan reads the members of campaign id.
func campaignPlan(id string, req connectors.ReadRequest, optOut []string) (*plan, error) {
	p := &plan{campaign: true}
	var cs colSet
	cs.add("Id")
	p.personCols = column{cs.add("ContactId"), cs.add("LeadId")}
	both := func(f string) (column, error) {
		sd, err := sidesOf(f)
		if err != nil {
			return column{}, err
		}
		return column{cs.add("Contact." + sd.contact), cs.add("Lead." + sd.lead)}, nil
	}
	// The key is the Contact's or the Lead's id unless source.key names
	// a field.
	isID := func(k string) bool { return k == "" || strings.EqualFold(k, "Id") }
	var err error
	if p.m, err = crmmap.Map(req, places(both, p.personCols, isID, optOut)); err != nil {
		return nil, err
	}
	p.cols = cs.cols
	where := campaignFrom(id)
	p.query = "SELECT " + strings.Join(p.cols, ", ") + where
	p.count = "SELECT COUNT()" + where
	return p, nil
}

// campaignFrom is the FROM and WHERE of a campaign's members: Contacts,
// and Leads not converted (a converted Lead's member row gains the
// Contact's id).
func campaignFrom(id string) string {
	return " FROM CampaignMember WHERE CampaignId = " + quote(id) + " AND (ContactId != null OR Lead.IsConverted = false)"
}

// queryPlan reads the records of a SOQL query; its columns must include
// the mapped fields.
func queryPlan(soql string, req connectors.ReadRequest, optOut []string) (*plan, error) {
	p := &plan{query: soql}
	from := topLevel(soql, "FROM")
	if from < 0 {
		return nil, errors.New("the soql: query has no FROM")
	}
	rest := soql[from:]
	if i := topLevel(rest, "ORDER BY"); i >= 0 {
		// COUNT() takes no ORDER BY; what follows it (LIMIT) still counts.
		end := len(rest)
		for _, kw := range []string{"LIMIT", "OFFSET"} {
			if j := topLevel(rest[i:], kw); j >= 0 {
				end = min(end, i+j)
			}
		}
		rest = rest[:i] + rest[end:]
	}
	p.count = "SELECT COUNT() " + strings.TrimSpace(rest)
	var cs colSet
	one := func(f string) (column, error) {
		f = strings.TrimSpace(f)
		if !fieldName.MatchString(f) {
			return column{}, fmt.Errorf("%q is not a column name of the query (write it as the query selects it, such as Email or Account.Name)", f)
		}
		i := cs.add(f)
		return column{i, i}, nil
	}
	// Without source.key the key is the record's Id, selected first.
	var id column
	if strings.TrimSpace(req.Key) == "" {
		i := cs.add("Id")
		id = column{i, i}
	}
	isID := func(k string) bool { return k == "" }
	var err error
	if p.m, err = crmmap.Map(req, places(one, id, isID, optOut)); err != nil {
		return nil, err
	}
	p.cols = cs.cols
	return p, nil
}

// places is how a plan finds what a sync maps: col resolves a field name
// to its columns, adding them to the plan's; id is the key's column when
// isID accepts source.key. A consent field's "true" means opted out when
// optOut names it, ignoring case and the relationship path (Lead.).
func places(col func(string) (column, error), id column, isID func(string) bool, optOut []string) crmmap.Places[column] {
	return crmmap.Places[column]{
		Of: col, RecordKey: id, IsRecordKey: isID,
		OptOut: func(f string) bool {
			base := f[strings.LastIndex(f, ".")+1:]
			if j := strings.Index(base, "|"); j >= 0 {
				base = base[:j]
			}
			return slices.ContainsFunc(optOut, func(o string) bool { return strings.EqualFold(o, base) })
		},
		NoFields: "Salesforce field: map at least email or phone (for example email: Email, phone: Phone)",
		Reasons:  crmmap.Reasons{MissingKey: ReasonMissingKey, NoIdentifiers: ReasonNoIdentifiers, InvalidConsent: ReasonInvalidConsent},
	}
}

// topLevel finds keyword kw in a query outside string literals and
// parentheses, as a whole word; -1 when absent.
func topLevel(q, kw string) int {
	depth, inStr := 0, false
	upper := strings.ToUpper(q)
	for i := 0; i < len(q); i++ {
		switch ch := q[i]; {
		case inStr && ch == '\\':
			i++
		case ch == '\'':
			inStr = !inStr
		case inStr:
		case ch == '(':
			depth++
		case ch == ')':
			depth--
		case depth == 0 && strings.HasPrefix(upper[i:], kw) && wordEdge(q, i-1) && wordEdge(q, i+len(kw)):
			return i
		}
	}
	return -1
}

func wordEdge(q string, i int) bool {
	if i < 0 || i >= len(q) {
		return true
	}
	c := q[i]
	return !(c == '_' || c == '.' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z')
}
