// Package crmmap turns a CRM source's records into audience members: it
// resolves what a sync maps (source.fields, source.key, source.consent,
// source.attributes) to places in the source's records, once per read,
// and fills a member from each record by those places. The CRM sources
// (hubspot, salesforce) share it; what a place is stays theirs: a
// contact property for HubSpot, a Contact and a Lead column for
// Salesforce.
package crmmap

import (
	"fmt"
	"strings"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
)

// Reasons are the rejection reasons a source counts in run reports.
type Reasons struct {
	// MissingKey is a record whose key is empty.
	MissingKey string
	// NoIdentifiers is a record none of whose mapped fields holds a value.
	NoIdentifiers string
	// InvalidConsent is a consent field holding an unknown answer.
	InvalidConsent string
}

// Places is how a source finds the values a request names in its records.
type Places[P any] struct {
	// Of resolves a field name of the request (trimmed) to its place in
	// records; its error says what is wrong with the name.
	Of func(field string) (P, error)
	// RecordKey is the place of the key when source.key (trimmed) is one
	// that IsRecordKey accepts: the source's own record id.
	RecordKey   P
	IsRecordKey func(key string) bool
	// OptOut reports whether a consent field's "true" means opted out.
	OptOut func(field string) bool
	// NoFields is the error when source.fields maps nothing: it says what
	// to map.
	NoFields string
	// Parse reads a raw value as attribute a; nil is a.Parse.
	Parse func(a *connectors.Attribute, raw string) audience.Value
	Reasons
}

// Mapping is how records become members: the places of the key, of each
// mapped identifier, of the consent answers and of the requested
// attributes.
type Mapping[P any] struct {
	Key    P
	Fields []Field[P]
	// Consent are the places of the AdUserData and AdPersonalization
	// answers, in that order.
	Consent [2]Consent[P]
	// Attrs are the requested attributes, in the request's order.
	Attrs []Attr[P]
	parse func(a *connectors.Attribute, raw string) audience.Value
	Reasons
}

// Field is where a record holds identifiers of one kind.
type Field[P any] struct {
	Kind audience.Kind
	At   P
}

// Consent is where a record holds one consent answer; Set is false when
// the question is not mapped.
type Consent[P any] struct {
	Set    bool
	At     P
	OptOut bool
}

// Attr is where a record holds one requested attribute.
type Attr[P any] struct {
	connectors.Attribute
	At P
}

// Map resolves what req maps to places, asking pl.Of in the order fields
// (by kind), attributes, key, consent, so a source that builds a column
// list from its answers lists them so. Each error names the setting.
func Map[P any](req connectors.ReadRequest, pl Places[P]) (*Mapping[P], error) {
	m := &Mapping[P]{parse: pl.Parse, Reasons: pl.Reasons}
	if m.parse == nil {
		m.parse = (*connectors.Attribute).Parse
	}
	for _, k := range audience.Kinds() {
		f := strings.TrimSpace(req.Fields[k])
		if f == "" {
			continue
		}
		at, err := pl.Of(f)
		if err != nil {
			return nil, fmt.Errorf("source.fields %s: %w", k, err)
		}
		m.Fields = append(m.Fields, Field[P]{Kind: k, At: at})
	}
	if len(m.Fields) == 0 {
		return nil, fmt.Errorf("source.fields maps no %s", pl.NoFields)
	}
	for _, a := range req.Attributes {
		at, err := pl.Of(strings.TrimSpace(a.Field))
		if err != nil {
			return nil, fmt.Errorf("source.attributes %s: %w", a.Name, err)
		}
		m.Attrs = append(m.Attrs, Attr[P]{Attribute: a, At: at})
	}
	m.Key = pl.RecordKey
	if k := strings.TrimSpace(req.Key); !pl.IsRecordKey(k) {
		at, err := pl.Of(k)
		if err != nil {
			return nil, fmt.Errorf("source.key: %w", err)
		}
		m.Key = at
	}
	for i, f := range []string{req.Consent.AdUserData, req.Consent.AdPersonalization} {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		at, err := pl.Of(f)
		if err != nil {
			return nil, fmt.Errorf("source.consent: %w", err)
		}
		m.Consent[i] = Consent[P]{Set: true, At: at, OptOut: pl.OptOut(f)}
	}
	return m, nil
}

// Places lists every place the mapping reads, in the order key,
// identifiers, consent, attributes; a place read twice is listed twice.
func (m *Mapping[P]) Places() []P {
	out := make([]P, 0, 1+len(m.Fields)+len(m.Consent)+len(m.Attrs))
	out = append(out, m.Key)
	for _, f := range m.Fields {
		out = append(out, f.At)
	}
	for _, c := range m.Consent {
		if c.Set {
			out = append(out, c.At)
		}
	}
	for _, a := range m.Attrs {
		out = append(out, a.At)
	}
	return out
}

// Fill sets dst from one record, get reading the value at a place, and
// returns why the record is rejected, "" when it is a member. The key is
// trimmed; identifiers are handed over as the record holds them. dst's
// attribute values reuse dst.Attrs when it has room: the engine copies
// them.
func (m *Mapping[P]) Fill(dst *audience.Member, get func(P) string) string {
	attrs := dst.Attrs
	*dst = audience.Member{}
	dst.Key = strings.TrimSpace(get(m.Key))
	if dst.Key == "" {
		return m.MissingKey
	}
	has := false
	for _, f := range m.Fields {
		v := get(f.At)
		dst.Fields[f.Kind] = v
		has = has || strings.TrimSpace(v) != ""
	}
	if !has {
		return m.NoIdentifiers
	}
	for i, c := range m.Consent {
		if !c.Set {
			continue
		}
		st, ok := audience.ReadConsent(get(c.At), c.OptOut)
		if !ok {
			return m.InvalidConsent
		}
		*dst.Consent.Answer(i) = st
	}
	if len(m.Attrs) > 0 {
		if cap(attrs) < len(m.Attrs) {
			attrs = make([]audience.Value, len(m.Attrs))
		}
		dst.Attrs = attrs[:len(m.Attrs)]
		for i := range m.Attrs {
			dst.Attrs[i] = m.parse(&m.Attrs[i].Attribute, get(m.Attrs[i].At))
		}
	}
	return ""
}
