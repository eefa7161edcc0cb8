package normalize

import (
	"crypto/md5" //nolint:gosec // Mailchimp keys members by it; not for security
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/audiencesync/audiencesync/audience"
)

// valueCtx is what the rules need beyond the value: the country that
// national phone numbers, US states and US ZIP codes are read in.
type valueCtx struct {
	country [2]byte // upper case; zero when unknown
}

// Field is one kind a platform takes and how.
type Field struct {
	Kind audience.Kind
	Rule Rule
	// Clear sends the normalised value itself instead of its SHA-256 (and
	// does not pass 64-hex values through as already hashed).
	Clear bool
	// From, when set, is the kind whose value is normalised for this one
	// when the member has none of its own (Meta derives FI from FN). A
	// From value that arrived hashed is not used.
	From audience.Kind
	// Digest is the digest of a hashed kind's value: SHA-256 (the zero
	// value), or what the platform keys members by (Mailchimp's MD5 of
	// the lower-cased address, its subscriber hash).
	Digest Digest
	// Seal also hands the platform the normalised value in clear, sealed
	// (audience.AppendSealed), for a platform that must have it (an e-mail
	// tool mails the address) while audiencesync keeps only the digest.
	// SealOnly sends only the sealed value: data sent with the member
	// (a merge field), not matched on. A value of either that arrived
	// hashed is rejected (value.hashed_needs_clear).
	Seal Seal
}

// Digest is the digest a hashed kind is sent as.
type Digest uint8

// Digests.
const (
	SHA256 Digest = iota // lowercase hex SHA-256, what the ad platforms take
	MD5                  // lowercase hex MD5 (Mailchimp's subscriber hash)
)

// Seal says whether a kind's clear value travels sealed with its member.
type Seal uint8

// Seals.
const (
	NoSeal   Seal = iota // the identifier only
	SealToo              // the identifier, and its value sealed
	SealOnly             // the value sealed only: sent along, not matched on
)

// Group is a set of kinds a platform matches only together (Google's
// address): a member's values of them are emitted all or none.
type Group struct {
	// Kinds are emitted in this order, where the first of them stands in
	// the field order.
	Kinds []audience.Kind
	// Incomplete is counted when some but not all of them are present
	// and valid.
	Incomplete Reason
}

// Present says which kinds a member's normalised identifiers hold.
type Present [audience.NumKinds]bool

// Any reports whether any of ks is present.
func (p Present) Any(ks ...audience.Kind) bool {
	for _, k := range ks {
		if p[k] {
			return true
		}
	}
	return false
}

// All reports whether every one of ks is present.
func (p Present) All(ks ...audience.Kind) bool {
	for _, k := range ks {
		if !p[k] {
			return false
		}
	}
	return true
}

// Spec declares a platform's normalisation: the platform packages (see
// package platform) build their Profile from one.
type Spec struct {
	// Name is the profile's name, the platform's (google, meta, x).
	Name string
	// Fields lists the kinds the platform takes in priority order: when a
	// platform caps the identifiers per member, the first ones are kept.
	Fields []Field
	// Groups lists kinds that are emitted whole or not at all.
	Groups []Group
	// Matchable says whether a member whose identifiers hold got can be
	// matched at all; nil means any identifier will do.
	Matchable func(got Present) bool
}

// Profile is one platform's normalisation rules: which kinds it takes, in
// what priority, which it takes in clear, and how each is normalised. A
// Profile is immutable and safe for concurrent use.
type Profile struct {
	name    string
	kinds   []audience.Kind
	accepts [audience.NumKinds]bool
	clear   [audience.NumKinds]bool
	rules   [audience.NumKinds]Rule
	from    [audience.NumKinds]audience.Kind
	digest  [audience.NumKinds]Digest
	seal    [audience.NumKinds]Seal
	// group is 1 + the index of the kind's group in groups, 0 for none;
	// lead marks the kind at which its group is emitted.
	group  [audience.NumKinds]uint8
	lead   [audience.NumKinds]bool
	groups []Group
	match  func(got Present) bool
}

// NewProfile builds a Profile from s. Per-kind behaviour is resolved here,
// once, so normalising a value only indexes arrays. It fails on a spec that
// names no kinds, lists a kind twice, has a field without a rule, or a
// group whose kinds are not fields.
func NewProfile(s Spec) (*Profile, error) {
	if s.Name == "" {
		return nil, fmt.Errorf("normalize: profile without a name")
	}
	if len(s.Fields) == 0 {
		return nil, fmt.Errorf("normalize: profile %s takes no kinds", s.Name)
	}
	p := &Profile{name: s.Name, match: s.Matchable}
	for _, f := range s.Fields {
		switch {
		case f.Kind <= audience.KindInvalid || int(f.Kind) >= audience.NumKinds:
			return nil, fmt.Errorf("normalize: profile %s: invalid kind %d", s.Name, f.Kind)
		case p.accepts[f.Kind]:
			return nil, fmt.Errorf("normalize: profile %s lists %s twice", s.Name, f.Kind)
		case f.Rule == noRule || f.Rule > Text:
			return nil, fmt.Errorf("normalize: profile %s: %s has no rule", s.Name, f.Kind)
		case f.Digest > MD5 || f.Seal > SealOnly || (f.Clear && (f.Digest != SHA256 || f.Seal != NoSeal)):
			return nil, fmt.Errorf("normalize: profile %s: %s: a clear kind has no digest or seal", s.Name, f.Kind)
		}
		p.digest[f.Kind], p.seal[f.Kind] = f.Digest, f.Seal
		p.kinds = append(p.kinds, f.Kind)
		p.accepts[f.Kind], p.clear[f.Kind], p.rules[f.Kind], p.from[f.Kind] = true, f.Clear, f.Rule, f.From
	}
	for i, g := range s.Groups {
		if len(g.Kinds) == 0 || g.Incomplete == "" || i >= 255 {
			return nil, fmt.Errorf("normalize: profile %s: group %d needs kinds and a reason", s.Name, i)
		}
		for _, k := range g.Kinds {
			if !p.Accepts(k) || p.group[k] != 0 {
				return nil, fmt.Errorf("normalize: profile %s: group kind %s is not a field or is in two groups", s.Name, k)
			}
			p.group[k] = uint8(i + 1)
		}
		p.groups = append(p.groups, Group{Kinds: slices.Clone(g.Kinds), Incomplete: g.Incomplete})
		for _, k := range p.kinds {
			if p.group[k] == uint8(i+1) {
				p.lead[k] = true
				break
			}
		}
	}
	return p, nil
}

// MustProfile is NewProfile for the specs platform packages declare; it
// panics on an invalid spec, a programming error.
func MustProfile(s Spec) *Profile {
	p, err := NewProfile(s)
	if err != nil {
		panic(err)
	}
	return p
}

// Name returns the profile's name.
func (p *Profile) Name() string { return p.name }

// Kinds lists the kinds the profile accepts, in priority order: when a
// platform caps the identifiers per member, the first ones are kept.
func (p *Profile) Kinds() []audience.Kind {
	return append([]audience.Kind(nil), p.kinds...)
}

// Accepts reports whether the profile takes kind k.
func (p *Profile) Accepts(k audience.Kind) bool {
	return int(k) < len(p.accepts) && p.accepts[k]
}

// Hashed reports whether the profile sends kind k as a SHA-256 hash (true)
// or in clear (false).
func (p *Profile) Hashed(k audience.Kind) bool {
	return p.Accepts(k) && !p.clear[k]
}

// From returns the kind whose value stands in for k when a member has no
// value of k (see Field.From), and whether there is one.
func (p *Profile) From(k audience.Kind) (audience.Kind, bool) {
	if !p.Accepts(k) || p.from[k] == audience.KindInvalid {
		return audience.KindInvalid, false
	}
	return p.from[k], true
}

// Sealed reports whether the profile sends k's clear value sealed with its
// member, and whether only that (Field.Seal).
func (p *Profile) Sealed(k audience.Kind) (sealed, only bool) {
	if !p.Accepts(k) {
		return false, false
	}
	return p.seal[k] != NoSeal, p.seal[k] == SealOnly
}

// Seals reports whether the profile seals any kind: its members carry
// values state must not keep (audience.StripSealed).
func (p *Profile) Seals() bool {
	for _, k := range p.kinds {
		if p.seal[k] != NoSeal {
			return true
		}
	}
	return false
}

// ctxFor resolves opts for a single value.
func ctxFor(opts *Options) valueCtx {
	if opts.DefaultRegion != "" {
		if c, r := parseCountry(opts.DefaultRegion); r == "" {
			return valueCtx{country: c}
		}
	}
	return valueCtx{}
}

// Value normalises one value of kind k. The identifier holds the lowercase
// hex SHA-256 of the normalised value for hashed kinds, the normalised
// value itself for clear kinds. A national phone number is read in
// opts.DefaultRegion. Reason "" means ok.
func (p *Profile) Value(k audience.Kind, raw string, opts Options) (audience.Identifier, Reason) {
	var buf [128]byte
	w, _, r := p.appendWire(buf[:0], k, raw, ctxFor(&opts))
	if r != "" {
		return audience.Identifier{}, r
	}
	return audience.Identifier{Kind: k, Value: string(w), Hashed: !p.clear[k]}, ""
}

// AppendHash is Value without allocation: it appends what the platform is
// sent for raw — the lowercase hex SHA-256 of the normalised value, or the
// normalised value itself for a clear kind — to dst. On a rejection dst is
// returned unchanged with the reason.
func (p *Profile) AppendHash(dst []byte, k audience.Kind, raw string, opts Options) ([]byte, Reason) {
	out, _, r := p.appendWire(dst, k, raw, ctxFor(&opts))
	return out, r
}

// Normalize returns the normalised value of raw as kind k: what is hashed
// for hashed kinds (after Google's white-space removal), what is sent for
// clear kinds. A value that already is a SHA-256 hex comes back
// lower-cased. It is for previews and tests; nothing is sent in this form.
func (p *Profile) Normalize(k audience.Kind, raw string, opts Options) (string, Reason) {
	var buf [128]byte
	v, _, r := p.appendNormal(buf[:0], k, raw, ctxFor(&opts))
	return string(v), r
}

// appendWire appends the wire value of raw as kind k to dst. pre reports a
// value that arrived hashed and was passed through.
func (p *Profile) appendWire(dst []byte, k audience.Kind, raw string, c valueCtx) (out []byte, pre bool, r Reason) {
	if !p.Accepts(k) {
		return dst, false, ReasonKindUnsupported
	}
	if p.clear[k] {
		return p.appendRule(dst, k, raw, c)
	}
	if p.seal[k] == SealOnly {
		// Sent along sealed, never as an identifier: it has no wire value.
		return dst, false, ReasonKindUnsupported
	}
	if t, ok := preHashed(raw); ok {
		if p.seal[k] != NoSeal || p.digest[k] != SHA256 {
			// Nothing but the clear value can be sent, or keyed on.
			return dst, false, ReasonNeedsClear
		}
		return appendLower(dst, t, true), true, ""
	}
	// The value is normalised into dst's spare capacity, past the room
	// its hex will take: no scratch buffer to zero, and no allocation
	// once dst has grown. The rule is run from here rather than through
	// appendHashedNormal: one call less for every identifier hashed.
	size := sha256.Size * 2
	if p.digest[k] == MD5 {
		size = md5.Size * 2
	}
	start := len(dst)
	dst = slices.Grow(dst, size+len(raw))
	v, _, r := p.appendRule(dst[start+size:start+size], k, raw, c)
	if r != "" {
		return dst[:start], false, r
	}
	if p.digest[k] == MD5 {
		sum := md5.Sum(v) //nolint:gosec // Mailchimp's member id, not a security measure
		hex.Encode(dst[start:start+size], sum[:])
	} else {
		sum := sha256.Sum256(v)
		hex.Encode(dst[start:start+size], sum[:])
	}
	return dst[:start+size], false, ""
}

// appendNormal appends the normalised value of raw as kind k.
func (p *Profile) appendNormal(dst []byte, k audience.Kind, raw string, c valueCtx) (out []byte, pre bool, r Reason) {
	if !p.Accepts(k) {
		return dst, false, ReasonKindUnsupported
	}
	if p.clear[k] {
		return p.appendRule(dst, k, raw, c)
	}
	return p.appendHashedNormal(dst, k, raw, c)
}

// appendHashedNormal appends the normalised value of raw as kind k, a kind
// the profile hashes.
func (p *Profile) appendHashedNormal(dst []byte, k audience.Kind, raw string, c valueCtx) (out []byte, pre bool, r Reason) {
	if t, ok := preHashed(raw); ok {
		return appendLower(dst, t, true), true, ""
	}
	return p.appendRule(dst, k, raw, c)
}

// preHashed returns raw trimmed and whether that is 64 hex digits: a
// value hashed upstream, which hashing again would make match nobody.
func preHashed(raw string) (string, bool) {
	t := trimASCII(raw)
	return t, isHex64(t)
}

// appendRule runs kind k's rule, an accepted kind's.
func (p *Profile) appendRule(dst []byte, k audience.Kind, raw string, c valueCtx) (out []byte, pre bool, r Reason) {
	out, r = p.rules[k].append(dst, raw, c)
	if r != "" {
		return dst, false, r
	}
	return out, false, ""
}
