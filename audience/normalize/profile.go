package normalize

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/audiencesync/audiencesync/audience"
)

type platform uint8

const (
	google platform = iota
	meta
	x
)

// Profile is one platform's normalisation rules: which kinds it takes, in
// what priority, which it takes in clear, and how each is normalised. A
// Profile is immutable and safe for concurrent use.
type Profile struct {
	name     string
	platform platform
	kinds    []audience.Kind
	accepts  [audience.NumKinds]bool
	clear    [audience.NumKinds]bool
}

func newProfile(name string, pl platform, kinds []audience.Kind, clear ...audience.Kind) *Profile {
	p := &Profile{name: name, platform: pl, kinds: kinds}
	for _, k := range kinds {
		p.accepts[k] = true
	}
	for _, k := range clear {
		p.clear[k] = true
	}
	return p
}

var profiles = []*Profile{
	// Google Customer Match: e-mail and phone first, then the address
	// (given name, family name, region code, postal code), which Google
	// matches only as a whole.
	newProfile("google", google, []audience.Kind{
		audience.Email, audience.Phone,
		audience.FirstName, audience.LastName, audience.Country, audience.Zip,
	}, audience.Country, audience.Zip),
	// Meta: the keys that match on their own first, then the
	// multi-key attributes.
	newProfile("meta", meta, []audience.Kind{
		audience.Email, audience.Phone, audience.MobileID, audience.ExternalID,
		audience.FirstName, audience.LastName, audience.FirstInitial,
		audience.Zip, audience.City, audience.Region, audience.Country,
		audience.BirthYear, audience.BirthMonth, audience.BirthDay, audience.Gender,
	}, audience.MobileID, audience.ExternalID),
	newProfile("x", x, []audience.Kind{
		audience.Email, audience.Phone, audience.MobileID,
		audience.Handle, audience.TwitterID, audience.ExternalID,
	}, audience.ExternalID),
}

// Lookup returns the profile for google, meta or x.
func Lookup(name string) (*Profile, error) {
	n := strings.ToLower(strings.TrimSpace(name))
	for _, p := range profiles {
		if p.name == n {
			return p, nil
		}
	}
	names := make([]string, len(profiles))
	for i, p := range profiles {
		names[i] = p.name
	}
	return nil, fmt.Errorf("unknown normalisation profile %q (use one of: %s)", name, strings.Join(names, ", "))
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

// valueCtx is what the rules need beyond the value: the country that
// national phone numbers, US states and US ZIP codes are read in.
type valueCtx struct {
	country [2]byte // upper case; zero when unknown
}

// ctxFor resolves opts for a value of kind k; only the kinds that read a
// country pay for resolving it.
func ctxFor(k audience.Kind, opts *Options) valueCtx {
	switch k {
	case audience.Phone, audience.Region, audience.Zip:
		if opts.DefaultRegion != "" {
			if c, r := parseCountry(opts.DefaultRegion); r == "" {
				return valueCtx{country: c}
			}
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
	w, _, r := p.appendWire(buf[:0], k, raw, ctxFor(k, &opts))
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
	out, _, r := p.appendWire(dst, k, raw, ctxFor(k, &opts))
	return out, r
}

// Normalize returns the normalised value of raw as kind k: what is hashed
// for hashed kinds (after Google's white-space removal), what is sent for
// clear kinds. A value that already is a SHA-256 hex comes back
// lower-cased. It is for previews and tests; nothing is sent in this form.
func (p *Profile) Normalize(k audience.Kind, raw string, opts Options) (string, Reason) {
	var buf [128]byte
	v, _, r := p.appendNormal(buf[:0], k, raw, ctxFor(k, &opts))
	return string(v), r
}

// appendWire appends the wire value of raw as kind k to dst. pre reports a
// value that arrived hashed and was passed through.
func (p *Profile) appendWire(dst []byte, k audience.Kind, raw string, c valueCtx) (out []byte, pre bool, r Reason) {
	if !p.Accepts(k) {
		return dst, false, ReasonKindUnsupported
	}
	if p.clear[k] {
		return p.appendClear(dst, k, raw)
	}
	// The value is normalised into dst's spare capacity, past the room
	// its hex will take: no scratch buffer to zero, and no allocation
	// once dst has grown.
	start := len(dst)
	dst = slices.Grow(dst, sha256.Size*2+len(raw))
	v, pre, r := p.appendHashedNormal(dst[start+sha256.Size*2:start+sha256.Size*2], k, raw, c)
	switch {
	case r != "":
		return dst[:start], false, r
	case pre:
		return append(dst[:start], v...), true, ""
	}
	sum := sha256.Sum256(v)
	hex.Encode(dst[start:start+sha256.Size*2], sum[:])
	return dst[:start+sha256.Size*2], false, ""
}

// appendNormal appends the normalised value of raw as kind k.
func (p *Profile) appendNormal(dst []byte, k audience.Kind, raw string, c valueCtx) (out []byte, pre bool, r Reason) {
	if !p.Accepts(k) {
		return dst, false, ReasonKindUnsupported
	}
	if p.clear[k] {
		return p.appendClear(dst, k, raw)
	}
	return p.appendHashedNormal(dst, k, raw, c)
}

// appendHashedNormal appends the normalised value of raw as kind k, a kind
// the profile hashes.
func (p *Profile) appendHashedNormal(dst []byte, k audience.Kind, raw string, c valueCtx) (out []byte, pre bool, r Reason) {
	// A 64-hex value was hashed upstream; hashing it again would make it
	// match nobody.
	if t := trimASCII(raw); isHex64(t) {
		return appendLower(dst, t, true), true, ""
	}
	switch k {
	case audience.Email:
		out, r = appendEmail(dst, raw, p.platform == google)
	case audience.Phone:
		out, r = appendE164(dst, raw, c.country)
		if r == "" && p.platform != google {
			// Meta and X want the digits only: no "+".
			out = append(out[:len(dst)], out[len(dst)+1:]...)
		}
	case audience.FirstName, audience.LastName:
		out, r = p.appendName(dst, raw)
	case audience.FirstInitial:
		out, r = p.appendInitial(dst, raw)
	case audience.City:
		out, r = appendLetters(dst, raw, ReasonCityEmpty)
	case audience.Region:
		out, r = appendState(dst, raw, c.country)
	case audience.Zip:
		out, r = appendMetaZip(dst, raw, c.country)
	case audience.Country:
		var cc [2]byte
		if cc, r = parseCountry(raw); r == "" {
			out = append(dst, cc[0]+('a'-'A'), cc[1]+('a'-'A'))
		}
	case audience.Gender:
		out, r = appendGender(dst, raw)
	case audience.BirthYear:
		out, r = appendBirthPart(dst, raw, 4, 1900, 2100)
	case audience.BirthMonth:
		out, r = appendBirthPart(dst, raw, 2, 1, 12)
	case audience.BirthDay:
		out, r = appendBirthPart(dst, raw, 2, 1, 31)
	case audience.MobileID:
		out, r = appendDeviceID(dst, raw)
	case audience.Handle:
		out, r = appendHandle(dst, raw)
	case audience.TwitterID:
		out, r = appendTwitterID(dst, raw)
	default:
		return dst, false, ReasonKindUnsupported
	}
	if r != "" {
		return dst, false, r
	}
	return out, false, ""
}

// appendClear appends the value of a kind the platform takes in clear.
func (p *Profile) appendClear(dst []byte, k audience.Kind, raw string) (out []byte, pre bool, r Reason) {
	switch k {
	case audience.Country: // Google region code
		var cc [2]byte
		if cc, r = parseCountry(raw); r == "" {
			out = append(dst, cc[0], cc[1])
		}
	case audience.Zip: // Google postal code, as written
		out, r = appendTrimmed(dst, raw, ReasonZipEmpty)
	case audience.MobileID: // Meta MADID
		out, r = appendMADID(dst, raw)
	case audience.ExternalID:
		out, r = appendTrimmed(dst, raw, ReasonExternalIDEmpty)
	default:
		return dst, false, ReasonKindUnsupported
	}
	if r != "" {
		return dst, false, r
	}
	return out, false, ""
}
