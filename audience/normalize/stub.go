package normalize

// STUB — replaced by the real profiles. Signatures are the contract.

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/audiencesync/audiencesync/audience"
)

// Profile is one platform's normalisation rules.
type Profile struct{ name string }

// Lookup returns the profile for google, meta or x.
func Lookup(name string) (*Profile, error) {
	switch name {
	case "google", "meta", "x":
		return &Profile{name: name}, nil
	}
	return nil, fmt.Errorf("unknown profile %q (use google, meta or x)", name)
}

// Name returns the profile's name.
func (p *Profile) Name() string { return p.name }

// Kinds lists the kinds the profile accepts, in priority order.
func (p *Profile) Kinds() []audience.Kind { return []audience.Kind{audience.Email, audience.Phone} }

// Value normalises one value of kind k.
func (p *Profile) Value(k audience.Kind, raw string, opts Options) (audience.Identifier, Reason) {
	v := strings.ToLower(strings.TrimSpace(raw))
	if k == audience.Email && !strings.Contains(v, "@") {
		return audience.Identifier{}, "email.malformed"
	}
	sum := sha256.Sum256([]byte(v))
	return audience.Identifier{Kind: k, Value: hex.EncodeToString(sum[:]), Hashed: true}, ""
}

// Member normalises every accepted field of m, appends the identifiers to
// dst and counts rejections in t. ok is false when no identifier the
// platform can match on remains (t then counts member.no_identifiers).
func (p *Profile) Member(m *audience.Member, opts Options, dst []audience.Identifier, t *Tally) (out []audience.Identifier, ok bool) {
	n := len(dst)
	for _, k := range p.Kinds() {
		if m.Fields[k] == "" {
			continue
		}
		id, r := p.Value(k, m.Fields[k], opts)
		if r != "" {
			t.Reject(r)
			continue
		}
		dst = append(dst, id)
	}
	if len(dst) == n {
		t.Reject("member.no_identifiers")
		return dst, false
	}
	return dst, true
}
