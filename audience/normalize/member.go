package normalize

import (
	"github.com/audiencesync/audiencesync/audience"
)

// googleAddress is the identifier group Google matches as one address, in
// the order it is emitted.
var googleAddress = [...]audience.Kind{audience.FirstName, audience.LastName, audience.Country, audience.Zip}

// Member normalises every non-empty field of m whose kind the profile
// accepts (and, when any opts.Kinds is set, that is enabled there),
// appends the identifiers to dst in the profile's priority order and
// counts each rejected field in t by reason, and values that arrived
// hashed in t.PreHashed.
//
// The member's own Country, when it is a known code, is the country its
// national phone number, US state and US ZIP code are read in; otherwise
// opts.DefaultRegion is. It is used so even where the profile does not
// take Country or opts.Kinds leaves it out.
//
// Per platform:
//   - google: given name, family name, region code and postal code are one
//     address on Google's wire. They are emitted (as FirstName, LastName,
//     Country and Zip identifiers) only when all four are present and
//     valid; otherwise none is and t counts address.incomplete once.
//   - meta: FI is derived from FN when the member has no FI of its own.
//
// ok is false, and t counts member.no_identifiers, when nothing the
// platform can match on remains; dst then comes back at its original
// length. What matches: google — an e-mail, a phone or a complete
// address; meta — EMAIL, PHONE, MADID or EXTERN_ID, or LN with FN or FI
// and with ZIP, CT or a full date of birth (Meta's multi-key matching
// needs a surname, a first name and a place or birth date to be useful);
// x — any identifier it takes.
func (p *Profile) Member(m *audience.Member, opts Options, dst []audience.Identifier, t *Tally) (out []audience.Identifier, ok bool) {
	filtered := false
	for _, on := range opts.Kinds {
		filtered = filtered || on
	}
	b := memberBuilder{p: p, t: t, c: memberCtx(m, &opts)}
	// Wire values go to a stack buffer; wire stays a local variable (not
	// a field behind a pointer) so the buffer does not escape.
	var stack [512]byte
	wire := stack[:0]
	for _, k := range p.kinds {
		switch {
		case filtered && !opts.Kinds[k]:
			continue
		case p.platform == google && k == audience.FirstName:
			wire = b.googleAddress(wire, m, filtered, &opts)
			continue
		case p.platform == google && (k == audience.LastName || k == audience.Country || k == audience.Zip):
			continue // emitted with the address
		}
		raw := m.Fields[k]
		if k == audience.FirstInitial && raw == "" && !isHex64(trimASCII(m.Fields[audience.FirstName])) {
			raw = m.Fields[audience.FirstName]
		}
		if raw != "" {
			wire, _ = b.add(wire, k, raw)
		}
	}
	if !p.matchable(&b.got) {
		t.Reject(ReasonNoIdentifiers)
		return dst, false
	}
	return b.identifiers(wire, dst), true
}

// memberBuilder collects a member's wire values in one buffer, so the
// member's identifiers share one string allocation.
type memberBuilder struct {
	p     *Profile
	t     *Tally
	c     valueCtx
	ends  [audience.NumKinds]int // end of each value in the wire buffer
	kinds [audience.NumKinds]audience.Kind
	n     int
	got   [audience.NumKinds]bool
}

// add appends one field's wire value to wire; a rejection is counted.
func (b *memberBuilder) add(wire []byte, k audience.Kind, raw string) ([]byte, bool) {
	w, pre, r := b.p.appendWire(wire, k, raw, b.c)
	if r != "" {
		b.t.Reject(r)
		return wire, false
	}
	if pre {
		b.t.PreHashed++
	}
	b.kinds[b.n], b.ends[b.n] = k, len(w)
	b.n++
	b.got[k] = true
	return w, true
}

// googleAddress adds the four address identifiers when all are present
// and valid, and none of them otherwise.
func (b *memberBuilder) googleAddress(wire []byte, m *audience.Member, filtered bool, opts *Options) []byte {
	present := false
	for _, k := range googleAddress {
		if filtered && !opts.Kinds[k] {
			return wire
		}
		present = present || m.Fields[k] != ""
	}
	if !present {
		return wire
	}
	mark, n, pre := len(wire), b.n, b.t.PreHashed
	complete := true
	for _, k := range googleAddress {
		added := false
		if raw := m.Fields[k]; raw != "" {
			wire, added = b.add(wire, k, raw)
		}
		complete = complete && added
	}
	if !complete {
		wire, b.n, b.t.PreHashed = wire[:mark], n, pre
		for _, k := range googleAddress {
			b.got[k] = false
		}
		b.t.Reject(ReasonAddressIncomplete)
	}
	return wire
}

// identifiers appends the collected identifiers, whose values are in wire,
// to dst.
func (b *memberBuilder) identifiers(wire []byte, dst []audience.Identifier) []audience.Identifier {
	s := string(wire)
	start := 0
	for i := range b.n {
		k := b.kinds[i]
		dst = append(dst, audience.Identifier{Kind: k, Value: s[start:b.ends[i]], Hashed: !b.p.clear[k]})
		start = b.ends[i]
	}
	return dst
}

// matchable says whether the emitted kinds let the platform match.
func (p *Profile) matchable(got *[audience.NumKinds]bool) bool {
	switch p.platform {
	case google:
		// An address is only kept whole.
		return got[audience.Email] || got[audience.Phone] || got[audience.Zip]
	case meta:
		if got[audience.Email] || got[audience.Phone] || got[audience.MobileID] || got[audience.ExternalID] {
			return true
		}
		dob := got[audience.BirthYear] && got[audience.BirthMonth] && got[audience.BirthDay]
		return got[audience.LastName] && (got[audience.FirstName] || got[audience.FirstInitial]) &&
			(got[audience.Zip] || got[audience.City] || dob)
	}
	for _, g := range got {
		if g {
			return true
		}
	}
	return false
}

// memberCtx reads the member's country, falling back to the default
// region.
func memberCtx(m *audience.Member, opts *Options) valueCtx {
	if raw := m.Fields[audience.Country]; raw != "" {
		if cc, r := parseCountry(raw); r == "" {
			return valueCtx{country: cc}
		}
	}
	if opts.DefaultRegion != "" {
		if cc, r := parseCountry(opts.DefaultRegion); r == "" {
			return valueCtx{country: cc}
		}
	}
	return valueCtx{}
}
