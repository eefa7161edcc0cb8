// Package meta declares Meta Custom Audiences (customer files) as a
// platform: the identifiers Meta takes and how it wants them normalised,
// how it matches them, its customer-file layout (whose column names are
// also its API's schema keys), and the credentials of the sandbox's Graph
// API replica.
package meta

import (
	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/audience/normalize"
	"github.com/audiencesync/audiencesync/platform"
)

// Name is the platform's name in configs, profiles and fault specs.
const Name = "meta"

// Credentials the sandbox's Graph API replica accepts. They are public
// constants, not secrets.
const (
	// ReplicaAppID is the app the replica's tokens belong to.
	ReplicaAppID = "1234"
	// ReplicaAppSecret keys appsecret_proof: hex HMAC-SHA256(secret, token).
	ReplicaAppSecret = "sandbox-meta-app-secret"
	// ReplicaToken is the accepted access token (system-user style, never
	// expires).
	ReplicaToken = "sandbox-meta-token"
	// ReplicaExpiredToken is always refused with code 190, subcode 463.
	ReplicaExpiredToken = "sandbox-meta-expired-token"
	// ReplicaVersion is the Graph API version the replica advertises.
	ReplicaVersion = "v25.0"
)

var meta = &platform.Platform{
	Name:  Name,
	Title: "Meta Graph API",
	// The keys that match on their own first, then the multi-key
	// attributes.
	Profile: normalize.MustProfile(normalize.Spec{
		Name: Name,
		Fields: []normalize.Field{
			{Kind: audience.Email, Rule: normalize.Email},
			{Kind: audience.Phone, Rule: normalize.PhoneDigits},
			{Kind: audience.MobileID, Rule: normalize.AdvertisingID, Clear: true},
			{Kind: audience.ExternalID, Rule: normalize.ExternalID, Clear: true},
			{Kind: audience.FirstName, Rule: normalize.NameLetters},
			{Kind: audience.LastName, Rule: normalize.NameLetters},
			{Kind: audience.FirstInitial, Rule: normalize.InitialLetter, From: audience.FirstName},
			{Kind: audience.Zip, Rule: normalize.PostalCode},
			{Kind: audience.City, Rule: normalize.CityLetters},
			{Kind: audience.Region, Rule: normalize.State},
			{Kind: audience.Country, Rule: normalize.CountryLower},
			{Kind: audience.BirthYear, Rule: normalize.BirthYear},
			{Kind: audience.BirthMonth, Rule: normalize.BirthMonth},
			{Kind: audience.BirthDay, Rule: normalize.BirthDay},
			{Kind: audience.Gender, Rule: normalize.Gender},
		},
		Matchable: matchable,
	}),
	// A Meta row is one person: names, address and birth date identify
	// a member only in a row without an e-mail, phone or device id.
	Match: platform.NewMatch(true,
		audience.FirstName, audience.LastName, audience.FirstInitial, audience.City, audience.Region,
		audience.Zip, audience.Country, audience.Gender, audience.BirthYear, audience.BirthMonth, audience.BirthDay),
	Layout: []platform.Column{
		{Kind: audience.Email, Name: "EMAIL"},
		{Kind: audience.Phone, Name: "PHONE"},
		{Kind: audience.FirstName, Name: "FN"},
		{Kind: audience.LastName, Name: "LN"},
		{Kind: audience.FirstInitial, Name: "FI"},
		{Kind: audience.City, Name: "CT"},
		{Kind: audience.Region, Name: "ST"},
		{Kind: audience.Zip, Name: "ZIP"},
		{Kind: audience.Country, Name: "COUNTRY"},
		{Kind: audience.Gender, Name: "GEN"},
		{Kind: audience.BirthYear, Name: "DOBY"},
		{Kind: audience.BirthMonth, Name: "DOBM"},
		{Kind: audience.BirthDay, Name: "DOBD"},
		{Kind: audience.MobileID, Name: "MADID"},
		{Kind: audience.ExternalID, Name: "EXTERN_ID"},
	},
}

// matchable: EMAIL, PHONE, MADID or EXTERN_ID match alone; otherwise Meta's
// multi-key matching needs a surname, a first name or initial, and a place
// or a full date of birth to be useful.
func matchable(got normalize.Present) bool {
	if got.Any(audience.Email, audience.Phone, audience.MobileID, audience.ExternalID) {
		return true
	}
	return got[audience.LastName] && got.Any(audience.FirstName, audience.FirstInitial) &&
		(got.Any(audience.Zip, audience.City) || got.All(audience.BirthYear, audience.BirthMonth, audience.BirthDay))
}

// Platform returns Meta's platform description.
func Platform() *platform.Platform { return meta }
