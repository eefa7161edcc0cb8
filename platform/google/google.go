// Package google declares Google Ads Customer Match as a platform: the
// identifiers a contact list takes and how Google wants them normalised,
// how it matches them, its upload-file layout, and the credentials of the
// sandbox's Data Manager replica.
package google

import (
	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/audience/normalize"
	"github.com/audiencesync/audiencesync/platform"
)

// Name is the platform's name in configs, profiles and fault specs.
const Name = "google"

// Credentials the sandbox's Data Manager replica accepts. They are public
// constants, not secrets: the replica exists so configs can be tried
// without a Google account.
const (
	// ReplicaToken is the OAuth 2 access token accepted as
	// "Authorization: Bearer".
	ReplicaToken = "sandbox-google-token"
	// ReplicaExpiredToken is always refused as expired (401
	// UNAUTHENTICATED, reason ACCESS_TOKEN_EXPIRED), to exercise
	// re-authentication.
	ReplicaExpiredToken = "sandbox-google-expired-token"
)

// address is the identifier group Google matches as one address, in the
// order it is emitted.
var address = []audience.Kind{audience.FirstName, audience.LastName, audience.Country, audience.Zip}

var google = &platform.Platform{
	Name:  Name,
	Title: "Google Data Manager API",
	// E-mail and phone first, then the address (given name, family name,
	// region code, postal code), which Google matches only as a whole.
	Profile: normalize.MustProfile(normalize.Spec{
		Name: Name,
		Fields: []normalize.Field{
			{Kind: audience.Email, Rule: normalize.EmailGmailDots},
			{Kind: audience.Phone, Rule: normalize.PhoneE164},
			{Kind: audience.FirstName, Rule: normalize.NameWithoutSpaces},
			{Kind: audience.LastName, Rule: normalize.NameWithoutSpaces},
			{Kind: audience.Country, Rule: normalize.CountryUpper, Clear: true},
			{Kind: audience.Zip, Rule: normalize.PostalCodeAsWritten, Clear: true},
		},
		Groups: []normalize.Group{{Kinds: address, Incomplete: normalize.ReasonAddressIncomplete}},
		// An address is only kept whole, so its zip stands for it.
		Matchable: func(got normalize.Present) bool {
			return got.Any(audience.Email, audience.Phone, audience.Zip)
		},
	}),
	Match: platform.NewMatch(false, address...),
	Layout: []platform.Column{
		{Kind: audience.Email, Name: "Email"},
		{Kind: audience.Phone, Name: "Phone"},
		{Kind: audience.FirstName, Name: "First Name"},
		{Kind: audience.LastName, Name: "Last Name"},
		{Kind: audience.Country, Name: "Country"},
		{Kind: audience.Zip, Name: "Zip"},
	},
}

// Platform returns Google's platform description.
func Platform() *platform.Platform { return google }
