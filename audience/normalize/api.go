package normalize

import "github.com/audiencesync/audiencesync/audience"

// Reason is a stable machine reason for a rejection, such as
// "email.malformed" or "phone.no_country". Reports count by it.
type Reason string

// Options carries what some rules need beyond the value itself.
type Options struct {
	// DefaultRegion is the ISO 3166-1 alpha-2 region for national phone
	// numbers when the member has no country (any letter case). It is
	// also the country that decides Meta's US rules for states and ZIP
	// codes then. Empty: national numbers are rejected, not guessed.
	DefaultRegion string
	// Kinds limits normalisation to these kinds; all false means every kind
	// the profile accepts.
	Kinds [audience.NumKinds]bool
	// Attributes are the positions in Member.Attrs of the attributes the
	// destination is sent with each member (its DestinationInfo
	// Attributes, in that order; at most 255). Member seals each value
	// present as an audience.Attribute identifier whose clear value is
	// the attribute's index in this list, one byte, then its text (see
	// AppendAttrText). Nil for none.
	Attributes []int
}

// Tally counts rejections by reason and values that arrived already hashed.
// It is not safe for concurrent use; give each goroutine its own and Merge.
type Tally struct {
	Rejected  map[Reason]int64
	PreHashed int64
}

// Reject counts one rejection.
func (t *Tally) Reject(r Reason) {
	if t.Rejected == nil {
		t.Rejected = make(map[Reason]int64)
	}
	t.Rejected[r]++
}

// Merge adds o's counts to t.
func (t *Tally) Merge(o *Tally) {
	for r, n := range o.Rejected {
		if t.Rejected == nil {
			t.Rejected = make(map[Reason]int64)
		}
		t.Rejected[r] += n
	}
	t.PreHashed += o.PreHashed
}
