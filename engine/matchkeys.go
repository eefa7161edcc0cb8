package engine

import (
	"crypto/sha256"
	"encoding/binary"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/platform"
)

// Platforms match some identifiers on their own (an e-mail address, a phone
// number, a device id) and others only in combination: a Google address is
// given name, family name, region and postal code together, and Meta reads
// names, city, zip or birth date only alongside each other, and only in a
// row that has no e-mail, phone or device id. Each platform says which
// (platform.Match). So the rule "an identifier is removed only when no
// staying member carries it" works on match keys: every standalone
// identifier is one key, and all of a member's attribute identifiers
// together are one more (for record-matching platforms, only in a record
// without standalone identifiers). An attribute group is sent or withheld
// whole, never split.

// A sealed identifier (audience.Identifier.Sealed: a value sent along in
// clear, such as Mailchimp's address and merge fields) is not matched on:
// it has no match key, and keepKeys drops it.

// attributeKey is the match key of the attribute group of ids, and whether
// ids has any attribute. ids must be sorted.
func attributeKey(ids []audience.Identifier, m *platform.Match) (audience.IdentifierID, bool) {
	// The group is hashed in one call over a buffer on the stack: this
	// runs for every member planned against a non-empty state.
	var stack [512]byte
	buf := stack[:0]
	any := false
	for _, id := range ids {
		if id.Sealed || !m.Attribute(id.Kind) {
			continue
		}
		any = true
		buf = append(buf, byte(id.Kind))
		buf = append(buf, id.Value...)
		buf = append(buf, 0)
	}
	if !any {
		return 0, false
	}
	sum := sha256.Sum256(buf)
	return audience.IdentifierID(binary.BigEndian.Uint64(sum[:8])), true
}

// matchKeys calls fn with every match key of sorted ids. On a
// record-matching platform, attributes are a key only in a record without
// standalone identifiers.
func matchKeys(ids []audience.Identifier, m *platform.Match, fn func(audience.IdentifierID)) {
	standalone := false
	for _, id := range ids {
		if !id.Sealed && !m.Attribute(id.Kind) {
			standalone = true
			fn(audience.IDOf(id))
		}
	}
	if m.RecordMatching() && standalone {
		return
	}
	if k, ok := attributeKey(ids, m); ok {
		fn(k)
	}
}

// keepKeys returns the identifiers of sorted ids whose match key passes
// keep; the attribute group passes or fails as one. On a record-matching
// platform, a record that has standalone identifiers drops its attributes: in a removal
// they could match whoever shares the name and zip, perhaps the member who
// stays or the same person under a new e-mail. It reuses ids' array.
func keepKeys(ids []audience.Identifier, m *platform.Match, keep func(audience.IdentifierID) bool) []audience.Identifier {
	standalone := false
	for _, id := range ids {
		if !id.Sealed && !m.Attribute(id.Kind) {
			standalone = true
			break
		}
	}
	keepAttr := false
	if !m.RecordMatching() || !standalone {
		attrKey, hasAttr := attributeKey(ids, m)
		keepAttr = hasAttr && keep(attrKey)
	}
	var attrs []audience.Identifier
	for _, id := range ids {
		if !id.Sealed && m.Attribute(id.Kind) {
			attrs = append(attrs, id)
		}
	}
	out := ids[:0]
	for _, id := range ids {
		if !id.Sealed && !m.Attribute(id.Kind) && keep(audience.IDOf(id)) {
			out = append(out, id)
		}
	}
	if keepAttr {
		out = append(out, attrs...)
		audience.SortIdentifiers(out)
	}
	return out
}
