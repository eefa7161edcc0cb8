package crmmap_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/crmmap"
)

var reasons = crmmap.Reasons{MissingKey: "rec.missing_key", NoIdentifiers: "rec.no_identifiers", InvalidConsent: "rec.consent"}

// props maps by property name, as HubSpot does; "" is the record id, and a
// name with a space is refused. asked records every name Of saw, in order.
func props(asked *[]string) crmmap.Places[string] {
	return crmmap.Places[string]{
		Of: func(p string) (string, error) {
			*asked = append(*asked, p)
			if p == "" || strings.Contains(p, " ") {
				return "", errors.New("not a property name")
			}
			return p, nil
		},
		IsRecordKey: func(k string) bool { return k == "" || k == "id" },
		OptOut:      func(p string) bool { return p == "optout" },
		NoFields:    "property: map email",
		Reasons:     reasons,
	}
}

func TestMap(t *testing.T) {
	t.Parallel()
	full := connectors.ReadRequest{
		Fields:     map[audience.Kind]string{audience.Phone: " phone ", audience.Email: "email"},
		Key:        " crm_id ",
		Consent:    connectors.ConsentFields{AdUserData: "consent", AdPersonalization: "optout"},
		Attributes: []connectors.Attribute{{Name: "tier", Field: " tier ", Type: audience.AttrString}},
	}
	tests := []struct {
		name    string
		req     connectors.ReadRequest
		err     string
		asked   []string
		key     string
		consent [2]crmmap.Consent[string]
	}{
		{name: "everything, asked in order fields, attributes, key, consent", req: full,
			asked: []string{"email", "phone", "tier", "crm_id", "consent", "optout"}, key: "crm_id",
			consent: [2]crmmap.Consent[string]{{Set: true, At: "consent"}, {Set: true, At: "optout", OptOut: true}}},
		{name: "the record id as key", req: connectors.ReadRequest{Fields: map[audience.Kind]string{audience.Email: "email"}, Key: " id"},
			asked: []string{"email"}, key: ""},
		{name: "no fields", req: connectors.ReadRequest{Fields: map[audience.Kind]string{audience.Email: "  "}},
			err: "source.fields maps no property: map email"},
		{name: "a bad field", req: connectors.ReadRequest{Fields: map[audience.Kind]string{audience.Email: "e mail"}},
			err: "source.fields email: not a property name"},
		{name: "an attribute without a field", req: connectors.ReadRequest{Fields: map[audience.Kind]string{audience.Email: "email"},
			Attributes: []connectors.Attribute{{Name: "tier"}}}, err: "source.attributes tier: not a property name"},
		{name: "a bad key", req: connectors.ReadRequest{Fields: map[audience.Kind]string{audience.Email: "email"}, Key: "crm id"},
			err: "source.key: not a property name"},
		{name: "a bad consent field", req: connectors.ReadRequest{Fields: map[audience.Kind]string{audience.Email: "email"},
			Consent: connectors.ConsentFields{AdPersonalization: "ad pers"}}, err: "source.consent: not a property name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var asked []string
			m, err := crmmap.Map(tt.req, props(&asked))
			if tt.err != "" {
				require.EqualError(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.asked, asked)
			require.Equal(t, tt.key, m.Key)
			require.Equal(t, tt.consent, m.Consent)
		})
	}
}

// record is a test record: property values, and its id under "".
type record map[string]string

func (r record) get(p string) string { return r[p] }

func TestFill(t *testing.T) {
	t.Parallel()
	var asked []string
	m, err := crmmap.Map(connectors.ReadRequest{
		Fields:  map[audience.Kind]string{audience.Email: "email", audience.Phone: "phone"},
		Key:     "crm_id",
		Consent: connectors.ConsentFields{AdUserData: "consent", AdPersonalization: "optout"},
		Attributes: []connectors.Attribute{
			{Name: "visits", Field: "visits", Type: audience.AttrNumber},
			{Name: "tier", Field: "tier", Type: audience.AttrString},
		},
	}, props(&asked))
	require.NoError(t, err)
	require.Equal(t, []string{"crm_id", "email", "phone", "consent", "optout", "visits", "tier"}, m.Places())

	tests := []struct {
		name   string
		rec    record
		reason string
		want   func(m *audience.Member)
	}{
		{name: "a member", rec: record{"crm_id": " 7 ", "email": " A@example.com", "consent": "yes", "optout": "true", "visits": "3", "tier": "gold"},
			want: func(m *audience.Member) {
				m.Key = "7"
				m.Fields[audience.Email] = " A@example.com"
				m.Consent = audience.Consent{AdUserData: audience.ConsentGranted, AdPersonalization: audience.ConsentDenied}
				m.Attrs = []audience.Value{audience.NumberValue(3), audience.StringValue("gold")}
			}},
		{name: "opt-out not set leaves the default", rec: record{"crm_id": "8", "phone": "+15550100", "optout": "false"},
			want: func(m *audience.Member) {
				m.Key = "8"
				m.Fields[audience.Phone] = "+15550100"
				m.Attrs = []audience.Value{{}, {}}
			}},
		{name: "no key", rec: record{"crm_id": " ", "email": "a@example.com"}, reason: "rec.missing_key"},
		{name: "blank identifiers", rec: record{"crm_id": "9", "email": " ", "phone": ""}, reason: "rec.no_identifiers"},
		{name: "an unknown consent answer", rec: record{"crm_id": "9", "email": "a@example.com", "consent": "perhaps"}, reason: "rec.consent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dst := audience.Member{Key: "stale", Line: 3}
			dst.Fields[audience.Phone] = "stale"
			require.Equal(t, tt.reason, m.Fill(&dst, tt.rec.get))
			if tt.reason != "" {
				return
			}
			var want audience.Member
			tt.want(&want)
			require.Equal(t, want, dst, "nothing of the previous member is left")
		})
	}
}

func TestFillReusesAttrs(t *testing.T) {
	t.Parallel()
	var asked []string
	pl := props(&asked)
	pl.Parse = func(a *connectors.Attribute, raw string) audience.Value {
		return audience.StringValue(a.Name + "=" + raw)
	}
	m, err := crmmap.Map(connectors.ReadRequest{
		Fields:     map[audience.Kind]string{audience.Email: "email"},
		Attributes: []connectors.Attribute{{Name: "tier", Field: "tier"}},
	}, pl)
	require.NoError(t, err)
	var dst audience.Member
	require.Empty(t, m.Fill(&dst, record{"": "1", "email": "a@example.com", "tier": "gold"}.get))
	require.Equal(t, "1", dst.Key, "the record id is the key")
	require.Equal(t, []audience.Value{audience.StringValue("tier=gold")}, dst.Attrs, "Parse reads the attributes")
	first := &dst.Attrs[0]
	require.Empty(t, m.Fill(&dst, record{"": "2", "email": "b@example.com", "tier": "silver"}.get))
	require.Same(t, first, &dst.Attrs[0], "the attribute values are reused from member to member")
	require.Equal(t, []audience.Value{audience.StringValue("tier=silver")}, dst.Attrs)
}
