// Package audience holds the domain of audiencesync: the members a source
// yields, the identifier kinds they carry, their consent, and the stable keys
// and fingerprints that state and planning rely on.
//
// A Member carries raw contact data. It lives only between the source read and
// normalisation; nothing in this package writes it anywhere.
package audience

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
)

// Kind is one kind of contact identifier or matching attribute.
type Kind uint8

// The identifier kinds audiencesync knows. Each platform accepts a subset;
// the normalisation profile of a destination says which.
const (
	KindInvalid  Kind = iota
	Email             // e-mail address
	Phone             // phone number
	FirstName         // given name
	LastName          // family name
	FirstInitial      // first letter of the given name (Meta FI)
	City              // city (Meta CT)
	Region            // state or province (Meta ST)
	Zip               // postal code
	Country           // ISO 3166-1 alpha-2 country
	Gender            // m or f (Meta GEN)
	BirthYear         // four digits (Meta DOBY)
	BirthMonth        // 01..12 (Meta DOBM)
	BirthDay          // 01..31 (Meta DOBD)
	MobileID          // advertising id: IDFA/AAID (Meta MADID, X device_id)
	ExternalID        // advertiser's own id (Meta EXTERN_ID, X partner_user_id)
	Handle            // X handle
	TwitterID         // X numeric user id
	// Attribute is a sync attribute a platform is sent with each member
	// (a Mailchimp merge field such as the cart's value): never filled
	// from a source field, only sealed (Identifier.Sealed), its clear
	// value the attribute's index in DestinationInfo.Attributes then its
	// text. Kinds and ParseKind leave it out.
	Attribute
	numKinds
)

// NumKinds is the size of an array indexed by Kind.
const NumKinds = int(numKinds)

var kindNames = [...]string{
	KindInvalid:  "invalid",
	Email:        "email",
	Phone:        "phone",
	FirstName:    "first_name",
	LastName:     "last_name",
	FirstInitial: "first_initial",
	City:         "city",
	Region:       "state",
	Zip:          "zip",
	Country:      "country",
	Gender:       "gender",
	BirthYear:    "birth_year",
	BirthMonth:   "birth_month",
	BirthDay:     "birth_day",
	MobileID:     "mobile_id",
	ExternalID:   "external_id",
	Handle:       "handle",
	TwitterID:    "twitter_id",
	Attribute:    "attribute",
}

// String returns the kind's name as written in configs.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Kinds returns every kind a source field can fill, in declaration order
// (every valid kind but Attribute).
func Kinds() []Kind {
	out := make([]Kind, 0, NumKinds-2)
	for k := Email; k < Attribute; k++ {
		out = append(out, k)
	}
	return out
}

// kindAliases maps accepted spellings (ours and the platforms') to kinds.
var kindAliases = map[string]Kind{
	"em": Email, "e-mail": Email, "email_address": Email, "emailaddress": Email,
	"ph": Phone, "phone_number": Phone, "phonenumber": Phone, "mobile": Phone,
	"fn": FirstName, "given_name": FirstName, "givenname": FirstName, "firstname": FirstName,
	"ln": LastName, "family_name": LastName, "familyname": LastName, "lastname": LastName,
	"fi": FirstInitial,
	"ct": City,
	"st": Region, "region": Region, "province": Region,
	"postal_code": Zip, "postalcode": Zip, "zip_code": Zip, "zipcode": Zip, "postcode": Zip,
	"region_code": Country, "regioncode": Country, "country_code": Country, "countrycode": Country,
	"gen": Gender, "sex": Gender,
	"doby": BirthYear, "dobm": BirthMonth, "dobd": BirthDay,
	"madid": MobileID, "device_id": MobileID, "deviceid": MobileID, "idfa": MobileID, "aaid": MobileID,
	"extern_id": ExternalID, "externid": ExternalID, "partner_user_id": ExternalID,
	"twitter_handle": Handle, "twitter_id": TwitterID, "twitterid": TwitterID,
}

// ParseKind accepts a kind by our name or by a platform's spelling, in any
// letter case (email, EMAIL, em, phone_number, FN, given_name, …).
func ParseKind(s string) (Kind, error) {
	name := strings.ToLower(strings.TrimSpace(s))
	for k := Email; k < Attribute; k++ {
		if kindNames[k] == name {
			return k, nil
		}
	}
	if k, ok := kindAliases[name]; ok {
		return k, nil
	}
	return KindInvalid, fmt.Errorf("unknown identifier kind %q (known: %s)", s, strings.Join(kindNames[1:Attribute], ", "))
}

// ConsentStatus is a member's answer to one consent question.
type ConsentStatus uint8

// Consent statuses. Unspecified means the member carries no answer and the
// destination's default applies.
const (
	ConsentUnspecified ConsentStatus = iota
	ConsentGranted
	ConsentDenied
)

// String returns granted, denied or unspecified.
func (c ConsentStatus) String() string {
	switch c {
	case ConsentGranted:
		return "granted"
	case ConsentDenied:
		return "denied"
	default:
		return "unspecified"
	}
}

// ParseConsent reads the spellings CRMs use for a consent answer. An empty
// value is unspecified; anything unrecognised is an error.
func ParseConsent(s string) (ConsentStatus, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "":
		return ConsentUnspecified, nil
	case "granted", "consent_granted", "yes", "y", "true", "1", "opt_in", "opt-in", "optin":
		return ConsentGranted, nil
	case "denied", "consent_denied", "no", "n", "false", "0", "opt_out", "opt-out", "optout":
		return ConsentDenied, nil
	}
	return ConsentUnspecified, fmt.Errorf("unknown consent value (use granted or denied)")
}

// Consent is what a member agreed to, in Google's two-question vocabulary,
// which the other platforms' terms map onto.
type Consent struct {
	AdUserData        ConsentStatus
	AdPersonalization ConsentStatus
}

// Or fills unspecified answers from def.
func (c Consent) Or(def Consent) Consent {
	if c.AdUserData == ConsentUnspecified {
		c.AdUserData = def.AdUserData
	}
	if c.AdPersonalization == ConsentUnspecified {
		c.AdPersonalization = def.AdPersonalization
	}
	return c
}

// Answer is consent question i: 0 ad_user_data, 1 ad_personalization,
// the order in which the sources keep their consent mappings.
func (c *Consent) Answer(i int) *ConsentStatus {
	if i == 0 {
		return &c.AdUserData
	}
	return &c.AdPersonalization
}

// Denied reports whether either answer is an explicit denial: such a member
// must not be uploaded and, if present, must be removed.
func (c Consent) Denied() bool {
	return c.AdUserData == ConsentDenied || c.AdPersonalization == ConsentDenied
}

// Member is one contact as a source yields it: raw field values indexed by
// kind, the source's primary key (possibly empty), consent, and the
// attributes the read asked for.
type Member struct {
	// Key is the source's primary key for the record, if it has one.
	Key string
	// Fields holds the raw value of each mapped kind; "" when absent.
	Fields [NumKinds]string
	// Consent holds per-member answers; unspecified answers take the
	// destination's defaults.
	Consent Consent
	// Line is the position of the record in its source (a file line, a
	// page offset), used to point at a bad record without showing it.
	Line int64
	// Attrs holds the attributes the read request asked for, by their
	// position in the request (connectors.ReadRequest.Attributes): a
	// slice rather than a map, so a member costs no allocation. Nil when
	// none were asked; a source that leaves it shorter than the request
	// has the rest missing. Attributes exist only between the read and
	// segmentation: nothing writes them to a destination, state or a
	// spool file.
	Attrs []Value
}

// Reset clears m for reuse, keeping the storage of Attrs (cleared, same
// length), so a source can reuse one Member and one attribute slice for
// every record it reads.
func (m *Member) Reset() {
	attrs := m.Attrs
	clear(attrs)
	*m = Member{Attrs: attrs}
}

// Identifier is one normalised identifier ready for a platform: the lowercase
// hex digest of the normalised value for hashed kinds (SHA-256, or the
// digest the platform keys members by: Mailchimp's MD5), or the normalised
// clear value for kinds the platform takes in clear.
type Identifier struct {
	Kind   Kind
	Value  string
	Hashed bool
	// Sealed marks a value a platform must be sent in clear but that
	// audiencesync must not keep (see seal.go): Value is sealed, Open
	// returns the clear value. It is sent with the member, not matched on,
	// and never stored in state.
	Sealed bool
}

// CompareIdentifiers orders identifiers by kind, then value.
func CompareIdentifiers(a, b Identifier) int {
	if a.Kind != b.Kind {
		return cmp.Compare(a.Kind, b.Kind)
	}
	return strings.Compare(a.Value, b.Value)
}

// SortIdentifiers orders ids by kind, then value, so fingerprints and
// encodings do not depend on field order.
func SortIdentifiers(ids []Identifier) { slices.SortFunc(ids, CompareIdentifiers) }
