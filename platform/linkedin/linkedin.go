// Package linkedin declares LinkedIn Matched Audiences (DMP segments of
// users) as a platform: the identifiers a DMP segment takes and how they
// are normalised, its contact-list upload layout, and the credentials of
// the sandbox's Marketing API replica.
//
// A DMP segment user is matched by a SHA-256 e-mail address (idType
// SHA256_EMAIL) or an Android advertising id (GOOGLE_AID, sent as the id
// itself), each on its own. LinkedIn also takes a first and last name,
// job title, company and country with a user, but only in clear; those
// are left out, so that no name leaves audiencesync unhashed.
package linkedin

import (
	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/audience/normalize"
	"github.com/audiencesync/audiencesync/platform"
)

// Name is the platform's name in configs, profiles and fault specs.
const Name = "linkedin"

// Credentials the sandbox's Marketing API replica accepts (OAuth 2). They
// are public constants, not secrets.
const (
	// ReplicaClientID and ReplicaClientSecret are the developer app;
	// ReplicaRefreshToken is the refresh token its token endpoint
	// exchanges for access tokens.
	ReplicaClientID     = "sandbox-linkedin-client-id"
	ReplicaClientSecret = "sandbox-linkedin-client-secret"
	ReplicaRefreshToken = "sandbox-linkedin-refresh-token"
	// ReplicaAccessToken is an access token that never expires.
	ReplicaAccessToken = "sandbox-linkedin-access-token"
	// ReplicaRevokedToken is always refused: as an access token with 401,
	// as a refresh token with invalid_grant.
	ReplicaRevokedToken = "sandbox-linkedin-revoked-token"
	// ReplicaAccount is an ad account id that exists in a fresh replica;
	// any numeric id works.
	ReplicaAccount = "507404993"
)

var linkedin = &platform.Platform{
	Name:  Name,
	Title: "LinkedIn Marketing API (DMP segments)",
	Profile: normalize.MustProfile(normalize.Spec{
		Name: Name,
		Fields: []normalize.Field{
			{Kind: audience.Email, Rule: normalize.Email},
			{Kind: audience.MobileID, Rule: normalize.AdvertisingID, Clear: true},
		},
	}),
	// Each identifier matches a member on its own.
	Match: platform.NewMatch(false),
	// The columns of Campaign Manager's contact-list CSV template that
	// audiencesync can fill (its e-mail column takes SHA-256 hashes).
	Layout: []platform.Column{
		{Kind: audience.Email, Name: "email"},
		{Kind: audience.MobileID, Name: "googleaid"},
	},
}

// Platform returns LinkedIn's platform description.
func Platform() *platform.Platform { return linkedin }
