// Package replicacreds declares what the sandbox's HubSpot replica
// accepts and holds: its fixed credentials and its seeded lists. It is a
// leaf, so the HubSpot source (with sandbox: true) and the replica share
// these values without the source importing the sandbox.
package replicacreds

// Name is the replica's name in the sandbox: the key of its state, the
// target of fault rules and what connectors.Env.Endpoint is asked for.
const Name = "hubspot"

// Credentials the replica accepts. They are public constants, not secrets.
const (
	// AccessToken is the private-app token the replica accepts.
	AccessToken = "sandbox-hubspot-private-app-token"
	// ClientID, ClientSecret and RefreshToken are the OAuth app and the
	// refresh token its token endpoint exchanges for access tokens.
	ClientID     = "sandbox-hubspot-client-id"
	ClientSecret = "sandbox-hubspot-client-secret"
	RefreshToken = "sandbox-hubspot-refresh-token"
	// RevokedToken is always refused: as an access token with 401, as a
	// refresh token with 400 BAD_REFRESH_TOKEN.
	RevokedToken = "sandbox-hubspot-revoked-token"
)

// Lists seeded in a fresh replica. One list's legacy id is another list's
// v3 id, as happens in real accounts, so code that mixes the two reads the
// wrong list.
const (
	// NewsletterList is a MANUAL list: v3 id NewsletterID, legacy id
	// NewsletterLegacyID.
	NewsletterList     = "Newsletter subscribers"
	NewsletterID       = "3"
	NewsletterLegacyID = "1"
	// TrialList is a DYNAMIC list whose v3 id is the newsletter's legacy id.
	TrialList   = "Trial users"
	TrialID     = "1"
	TrialLegacy = "7"
	// WebinarList is a SNAPSHOT list.
	WebinarList = "Webinar attendees"
	WebinarID   = "5"
)
