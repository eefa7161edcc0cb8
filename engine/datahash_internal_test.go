package engine

import (
	"hash/maphash"
	"testing"
	"time"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
)

// TestDataHashTellsRecordsApart pins what makes two records of one key a
// conflict rather than a duplicate: any field, its position, consent and
// the attributes asked for.
func TestDataHashTellsRecordsApart(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	base := func() *audience.Member {
		m := &audience.Member{Key: "K1", Attrs: []audience.Value{audience.TimeValue(at), audience.StringValue("IT")}}
		m.Fields[audience.Email] = "a@example.com"
		m.Fields[audience.Phone] = "+39 02 1234567"
		return m
	}
	tests := []struct {
		name   string
		change func(m *audience.Member)
		same   bool
	}{
		{"identical", func(*audience.Member) {}, true},
		{"an attribute not asked for", func(m *audience.Member) { m.Attrs = append(m.Attrs, audience.StringValue("x")) }, true},
		{"another e-mail", func(m *audience.Member) { m.Fields[audience.Email] = "b@example.com" }, false},
		{"a field emptied", func(m *audience.Member) { m.Fields[audience.Phone] = "" }, false},
		{"a field added", func(m *audience.Member) { m.Fields[audience.FirstName] = "Ada" }, false},
		{"the same text in another field", func(m *audience.Member) {
			m.Fields[audience.Phone], m.Fields[audience.FirstName] = "", m.Fields[audience.Phone]
		}, false},
		{"two fields swapped", func(m *audience.Member) {
			m.Fields[audience.Email], m.Fields[audience.Phone] = m.Fields[audience.Phone], m.Fields[audience.Email]
		}, false},
		{"consent", func(m *audience.Member) { m.Consent.AdPersonalization = audience.ConsentDenied }, false},
		{"an attribute", func(m *audience.Member) { m.Attrs[1] = audience.StringValue("FR") }, false},
		{"an attribute missing", func(m *audience.Member) { m.Attrs[0] = audience.Value{} }, false},
		{"attributes swapped", func(m *audience.Member) { m.Attrs[0], m.Attrs[1] = m.Attrs[1], m.Attrs[0] }, false},
	}
	c := &collector{seed: maphash.MakeSeed(), attrs: []connectors.Attribute{
		{Name: "last_visit", Type: audience.AttrTime}, {Name: "country", Type: audience.AttrString}}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m := base()
			tt.change(m)
			if got := c.dataHash(m) == c.dataHash(base()); got != tt.same {
				t.Errorf("same hash = %v, want %v", got, tt.same)
			}
		})
	}
}
