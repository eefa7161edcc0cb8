package googledm

import "github.com/audiencesync/audiencesync/sandbox/internal/wire"

// A member upload is megabytes of JSON in one shape: plain hex strings in
// a few known objects. Decoding it through encoding/json with the strict
// checks costs more CPU than everything else the replica does, and the
// replica shares the machine with the client it serves. So ingest and
// remove bodies first go through the hand-written decoder below, which
// accepts only that common shape, spelled exactly, and fills the same
// structs the strict decoder would. Anything else it does not try to judge:
// an escape, a byte outside printable ASCII, a null, a number, a repeated
// key, a field it does not list (the unsupported data types, encryption,
// destination references, mobile data) or malformed JSON makes it answer
// false, and the strict decoder then decides, with its precise errors.
// FuzzFastMembersBody checks that whatever it accepts decodes the same
// through the strict path.

// decodeMembersFast decodes an ingest (ingest true) or remove body into
// req. It reports false when the body is outside the shape it handles; req
// is then undefined and the caller decodes again strictly.
func decodeMembersFast(body string, ingest bool, req *ingestRequest) bool {
	// The members' slice is sized from the body (an uploaded member takes
	// a few hundred bytes of JSON), so it is allocated once, not grown.
	// Values are slices of the body: the membership set copies what it
	// keeps, so nothing holds on to the body once the request is applied.
	s := scanner{Scanner: wire.NewScanner(body), members: min(len(body)/256+1, MaxMembersPerRequest+1)}
	ok := s.oncePerKey(func(key string) (bit uint8, ok bool) {
		switch key {
		case "audienceMembers":
			bit, ok = 1<<0, s.audienceMembers(&req.AudienceMembers)
		case "destinations":
			bit, ok = 1<<1, s.destinations(&req.Destinations)
		case "encoding":
			bit, ok = 1<<2, s.str(&req.Encoding)
		case "validateOnly":
			bit = 1 << 3
			req.ValidateOnly, ok = s.Bool()
		case "consent":
			if !ingest {
				return 0, false
			}
			req.Consent = new(consent)
			bit, ok = 1<<4, s.consent(req.Consent)
		case "termsOfService":
			if !ingest {
				return 0, false
			}
			req.TermsOfService = new(termsOfService)
			bit = 1 << 5
			ok = s.fields(termsFields, &req.TermsOfService.CustomerMatchTermsOfServiceStatus)
		}
		return bit, ok
	})
	return ok && s.End()
}

func (s *scanner) audienceMembers(dst *[]audienceMember) bool {
	out := make([]audienceMember, 0, s.members)
	ok := s.Array(func() bool {
		out = append(out, audienceMember{})
		return s.member(&out[len(out)-1])
	})
	*dst = out
	return ok
}

func (s *scanner) member(m *audienceMember) bool {
	var seen uint8
	return s.Object(func(key string) bool {
		switch key {
		case "consent":
			m.Consent = alloc(&s.consents, s.members)
			return s.consent(m.Consent) && once(&seen, 1)
		case "userData":
			m.UserData = alloc(&s.userData, s.members)
			var inner uint8
			return s.Object(func(key string) bool {
				return key == "userIdentifiers" && s.identifiers(&m.UserData.UserIdentifiers) && once(&inner, 1)
			}) && once(&seen, 2)
		}
		return false
	})
}

func (s *scanner) identifiers(dst *[]userIdentifier) bool {
	// The identifiers of all members share one array, each member taking
	// the run it appends to.
	if cap(s.ids)-len(s.ids) < MaxIdentifiersPerMember {
		s.ids = make([]userIdentifier, 0, max(4*s.members, 64))
	}
	start := len(s.ids)
	ok := s.Array(func() bool {
		s.ids = append(s.ids, userIdentifier{})
		return s.identifier(&s.ids[len(s.ids)-1])
	})
	*dst = s.ids[start:len(s.ids):len(s.ids)]
	return ok
}

func (s *scanner) identifier(ui *userIdentifier) bool {
	return s.oncePerKey(func(key string) (bit uint8, ok bool) {
		switch key {
		case "emailAddress":
			bit, ok = 1, s.str(&ui.EmailAddress)
		case "phoneNumber":
			bit, ok = 2, s.str(&ui.PhoneNumber)
		case "address":
			bit = 4
			ui.Address = alloc(&s.addresses, s.members)
			ok = s.address(ui.Address)
		}
		return bit, ok
	})
}

func (s *scanner) address(a *addressInfo) bool {
	return s.fields(addressFields, &a.GivenName, &a.FamilyName, &a.RegionCode, &a.PostalCode,
		&a.AddressLine, &a.City, &a.AdministrativeArea)
}

func (s *scanner) consent(c *consent) bool {
	return s.fields(consentFields, &c.AdUserData, &c.AdPersonalization)
}

func (s *scanner) destinations(dst *[]destination) bool {
	out := []destination{}
	ok := s.Array(func() bool {
		out = append(out, destination{})
		d := &out[len(out)-1]
		return s.oncePerKey(func(key string) (bit uint8, ok bool) {
			switch key {
			case "operatingAccount":
				bit, ok = 1, s.account(&d.OperatingAccount)
			case "loginAccount":
				bit, ok = 2, s.account(&d.LoginAccount)
			case "linkedAccount":
				bit, ok = 4, s.account(&d.LinkedAccount)
			case "productDestinationId":
				bit, ok = 8, s.str(&d.ProductDestinationID)
			case "reference":
				bit, ok = 16, s.str(&d.Reference)
			}
			return bit, ok
		})
	})
	*dst = out
	return ok
}

// account reads a product account into a new one at *dst.
func (s *scanner) account(dst **productAccount) bool {
	a := new(productAccount)
	*dst = a
	return s.fields(accountFields, &a.AccountID, &a.AccountType, &a.Product)
}

// The members of the objects that hold only strings, in the order fields
// takes their destinations.
var (
	termsFields   = []string{"customerMatchTermsOfServiceStatus"}
	consentFields = []string{"adUserData", "adPersonalization"}
	accountFields = []string{"accountId", "accountType", "product"}
	addressFields = []string{"givenName", "familyName", "regionCode", "postalCode", "addressLine", "city", "administrativeArea"}
)

// fields reads an object whose members are all strings: the value of
// names[i] goes to *dst[i]. Any other member, or one given twice, answers
// false.
func (s *scanner) fields(names []string, dst ...*string) bool {
	var seen uint32
	return s.Object(func(key string) bool {
		for i, name := range names {
			if key != name {
				continue
			}
			if seen&(1<<i) != 0 {
				return false
			}
			seen |= 1 << i
			return s.str(dst[i])
		}
		return false
	})
}

// oncePerKey reads an object each of whose members may appear once:
// member decodes the value of key and returns the bit that stands for the
// key, 0 for a key it does not take, and whether the value was good.
func (s *scanner) oncePerKey(member func(key string) (bit uint8, ok bool)) bool {
	var seen uint8
	return s.Object(func(key string) bool {
		bit, ok := member(key)
		return bit != 0 && ok && once(&seen, bit)
	})
}

// once marks bit in seen and reports whether it was clear: a key given
// twice answers false.
func once(seen *uint8, bit uint8) bool {
	if *seen&bit != 0 {
		return false
	}
	*seen |= bit
	return true
}

// str reads a plain string into *dst.
func (s *scanner) str(dst *string) bool {
	v, ok := s.Str()
	*dst = v
	return ok
}

// scanner reads an upload body in the subset of JSON wire.Scanner reads.
type scanner struct {
	wire.Scanner
	members int // expected audience members: the capacity to allocate

	// Slabs the members' parts are allocated from: a few allocations a
	// request instead of several a member.
	consents  []consent
	userData  []userData
	addresses []addressInfo
	ids       []userIdentifier
}

// alloc returns a new zero T from slab, refilling it with room for n when
// it is full.
func alloc[T any](slab *[]T, n int) *T {
	if len(*slab) == cap(*slab) {
		*slab = make([]T, 0, max(n, 16))
	}
	*slab = append(*slab, *new(T))
	return &(*slab)[len(*slab)-1]
}
