package segment

import (
	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/audience/normalize"
)

// listKinds are the identifiers a suppression list matches on besides
// the member key: a buyer exported from the shop system is suppressed
// even when the CRM keys it otherwise.
var listKinds = [...]audience.Kind{audience.Email, audience.Phone}

// List is a suppression list read from another source: the keys of its
// members and the hashes of their normalised e-mail addresses and phone
// numbers (never the values themselves). Fill it with Add before the
// run's placing starts; then it is only read, and safe for concurrent
// use.
type List struct {
	// Name is the list's name in reports (suppressed:<name>).
	Name    string
	profile *normalize.Profile
	opts    normalize.Options
	keys    map[audience.MemberKey]struct{}
	hashes  map[string]struct{}
}

// NewList returns an empty list that normalises and hashes with profile
// (a platform's; it must accept e-mail and phone) and opts.
func NewList(name string, profile *normalize.Profile, opts normalize.Options) *List {
	return &List{Name: name, profile: profile, opts: opts,
		keys: map[audience.MemberKey]struct{}{}, hashes: map[string]struct{}{}}
}

// Add adds a member of the suppression source.
func (l *List) Add(m *audience.Member) {
	if m.Key != "" {
		l.keys[audience.KeyFromSource(m.Key)] = struct{}{}
	}
	var buf [128]byte
	for _, k := range listKinds {
		if raw := m.Fields[k]; raw != "" {
			if h, r := l.profile.AppendHash(buf[:0], k, raw, l.opts); r == "" {
				l.hashes[string(h)] = struct{}{}
			}
		}
	}
}

// Len is how many keys and hashes the list holds.
func (l *List) Len() int { return len(l.keys) + len(l.hashes) }

// Has reports whether the member is on the list, by its source key (key,
// zero when it has none) or by the hash of its e-mail or phone.
func (l *List) Has(m *audience.Member, key audience.MemberKey) bool {
	if key != (audience.MemberKey{}) {
		if _, ok := l.keys[key]; ok {
			return true
		}
	}
	if len(l.hashes) == 0 {
		return false
	}
	var buf [128]byte
	for _, k := range listKinds {
		if raw := m.Fields[k]; raw != "" {
			if h, r := l.profile.AppendHash(buf[:0], k, raw, l.opts); r == "" {
				if _, ok := l.hashes[string(h)]; ok {
					return true
				}
			}
		}
	}
	return false
}
