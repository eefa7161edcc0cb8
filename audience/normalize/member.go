package normalize

import (
	"strconv"
	"time"

	"github.com/audiencesync/audiencesync/audience"
)

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
// Kinds in one of the profile's groups (Google's address) are emitted
// only when all of the group are present and valid; otherwise none is and
// t counts the group's Incomplete reason once. A field with From (Meta's
// FI) takes the value of that kind when the member has none of its own.
//
// ok is false, and t counts member.no_identifiers, when nothing the
// platform can match on remains (see Spec.Matchable); dst then comes back
// at its original length.
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
		case p.lead[k]:
			wire = b.group(wire, &p.groups[p.group[k]-1], m, filtered, &opts)
			continue
		case p.group[k] != 0:
			continue // emitted with its group
		}
		raw := m.Fields[k]
		if f := p.from[k]; f != audience.KindInvalid && raw == "" && !isHex64(trimASCII(m.Fields[f])) {
			raw = m.Fields[f]
		}
		if raw != "" {
			wire, _ = b.add(wire, k, raw)
		}
	}
	if !p.matchable(&b.got) {
		t.Reject(ReasonNoIdentifiers)
		return dst, false
	}
	for i, pos := range opts.Attributes {
		if pos < len(m.Attrs) && i < 256 {
			wire = b.addAttr(wire, i, m.Attrs[pos])
		}
	}
	return b.identifiers(wire, dst), true
}

// addAttr seals attribute i's value, when present and valid, with its
// index in front.
func (b *memberBuilder) addAttr(wire []byte, i int, v audience.Value) []byte {
	if !v.Present() || v.Invalid() {
		return wire
	}
	var stack [128]byte
	clearValue := AppendAttrText(append(stack[:0], byte(i)), v)
	wire = appendSealed(wire, audience.Attribute, clearValue)
	b.push(audience.Attribute, len(wire), true)
	return wire
}

// appendSealed appends clearValue sealed as kind k to wire, then clears
// clearValue. It seals into a buffer of its own: handing wire to the
// cipher would move every member's wire buffer to the heap, sealed or
// not.
func appendSealed(wire []byte, k audience.Kind, clearValue []byte) []byte {
	sealed := audience.AppendSealed(nil, k, clearValue)
	clear(clearValue)
	return append(wire, sealed...)
}

// AppendAttrText appends an attribute's value as a platform is sent it: a
// string as it is, a number in the fewest digits that read back the same
// (33.07), a bool as true or false, a timestamp in RFC 3339 (UTC).
func AppendAttrText(dst []byte, v audience.Value) []byte {
	switch v.Type() {
	case audience.AttrString:
		s, _ := v.Text()
		return append(dst, s...)
	case audience.AttrNumber:
		f, _ := v.Number()
		return strconv.AppendFloat(dst, f, 'f', -1, 64)
	case audience.AttrBool:
		b, _ := v.Bool()
		return strconv.AppendBool(dst, b)
	case audience.AttrTime:
		t, _ := v.Time()
		return t.UTC().AppendFormat(dst, time.RFC3339)
	}
	return dst
}

// memberBuilder collects a member's wire values in one buffer, so the
// member's identifiers share one string allocation.
type memberBuilder struct {
	p *Profile
	t *Tally
	c valueCtx
	// ends, kinds and sealed describe each value in the wire buffer: a
	// kind may have its identifier and its sealed value.
	ends   [2 * audience.NumKinds]int
	kinds  [2 * audience.NumKinds]audience.Kind
	sealed [2 * audience.NumKinds]bool
	n      int
	got    Present
}

// add appends one field's wire value to wire (and its sealed clear value,
// for a kind the profile seals); a rejection is counted.
func (b *memberBuilder) add(wire []byte, k audience.Kind, raw string) ([]byte, bool) {
	if b.p.seal[k] != NoSeal {
		return b.addSealed(wire, k, raw)
	}
	w, pre, r := b.p.appendWire(wire, k, raw, b.c)
	if r != "" {
		b.t.Reject(r)
		return wire, false
	}
	if pre {
		b.t.PreHashed++
	}
	b.push(k, len(w), false)
	b.got[k] = true
	return w, true
}

// addSealed adds a sealed kind: its identifier unless the profile seals
// it only, then its normalised value sealed. The clear value lives in a
// buffer on this stack frame, cleared before it returns.
func (b *memberBuilder) addSealed(wire []byte, k audience.Kind, raw string) ([]byte, bool) {
	if b.p.seal[k] == SealToo {
		w, _, r := b.p.appendWire(wire, k, raw, b.c)
		if r != "" {
			b.t.Reject(r)
			return wire, false
		}
		b.push(k, len(w), false)
		b.got[k] = true
		wire = w
	} else if _, ok := preHashed(raw); ok {
		b.t.Reject(ReasonNeedsClear)
		return wire, false
	}
	var stack [256]byte
	clearValue, _, r := b.p.appendRule(stack[:0], k, raw, b.c)
	if r != "" {
		b.t.Reject(r)
		return wire, false
	}
	wire = appendSealed(wire, k, clearValue)
	b.push(k, len(wire), true)
	return wire, true
}

// push records an identifier of kind k ending at end in the wire buffer.
func (b *memberBuilder) push(k audience.Kind, end int, sealed bool) {
	b.kinds[b.n], b.ends[b.n], b.sealed[b.n] = k, end, sealed
	b.n++
}

// group adds the identifiers of g's kinds when all are present and valid,
// and none of them otherwise.
func (b *memberBuilder) group(wire []byte, g *Group, m *audience.Member, filtered bool, opts *Options) []byte {
	present := false
	for _, k := range g.Kinds {
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
	for _, k := range g.Kinds {
		added := false
		if raw := m.Fields[k]; raw != "" {
			wire, added = b.add(wire, k, raw)
		}
		complete = complete && added
	}
	if !complete {
		wire, b.n, b.t.PreHashed = wire[:mark], n, pre
		for _, k := range g.Kinds {
			b.got[k] = false
		}
		b.t.Reject(g.Incomplete)
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
		if b.sealed[i] {
			dst = append(dst, audience.Identifier{Kind: k, Value: s[start:b.ends[i]], Sealed: true})
		} else {
			dst = append(dst, audience.Identifier{Kind: k, Value: s[start:b.ends[i]], Hashed: !b.p.clear[k]})
		}
		start = b.ends[i]
	}
	return dst
}

// matchable says whether the emitted kinds let the platform match.
func (p *Profile) matchable(got *Present) bool {
	if p.match != nil {
		// By value: a pointer passed to a function value would move the
		// member builder to the heap.
		return p.match(*got)
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
	return ctxFor(opts)
}
