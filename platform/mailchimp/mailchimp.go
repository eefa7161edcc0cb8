// Package mailchimp declares Mailchimp (Marketing API v3) as a platform:
// an audience is a tag on the contacts of one Mailchimp list, which starts
// and stops a Customer Journey (the cart-abandonment e-mail). It says what
// a member is keyed and sent by, and holds the credentials of the
// sandbox's Marketing API replica.
//
// Mailchimp keys a list member by its subscriber hash, the MD5 of the
// lower-cased e-mail address: that is the identifier audiencesync plans
// and keeps in state. Unlike an ad platform, Mailchimp must be sent the
// address itself, since it mails it, and the merge fields an e-mail greets
// with (first and last name, phone): those travel sealed with the member
// (normalize.Field.Seal, audience.AppendSealed) and are opened only to
// write the request body. State keeps the subscriber hash and, inside
// the fingerprint, a digest of each merge field, so a changed first name
// is sent again.
//
// Mailchimp has no upload-file layout: a list import is a CSV of clear
// addresses, which audiencesync does not write. `audiencesync hash
// --profile mailchimp --field email` prints subscriber hashes.
package mailchimp

import (
	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/audience/normalize"
	"github.com/audiencesync/audiencesync/platform"
)

// Name is the platform's name in configs, profiles and fault specs.
const Name = "mailchimp"

// Credentials and fixtures of the sandbox's Marketing API replica. They
// are public constants, not secrets.
const (
	// ReplicaDataCenter is the data centre the replica serves.
	ReplicaDataCenter = "us21"
	// ReplicaAPIKey is an API key the replica accepts; its suffix names
	// the replica's data centre, as a Mailchimp key's does.
	ReplicaAPIKey = "5a4db0c5e1d0sandbox0mailchimp0key-" + ReplicaDataCenter
	// ReplicaRevokedKey is always refused (401).
	ReplicaRevokedKey = "0000000000000000sandbox0revoked0-" + ReplicaDataCenter
	// ReplicaListID is a list that exists in a fresh replica.
	ReplicaListID = "a1b2c3d4e5"
)

var mailchimp = &platform.Platform{
	Name:  Name,
	Title: "Mailchimp Marketing API",
	Profile: normalize.MustProfile(normalize.Spec{
		Name: Name,
		Fields: []normalize.Field{
			// Keyed by MD5 of the lower-cased address (Mailchimp
			// lower-cases before hashing; normalize.Email does), sent in
			// clear: Mailchimp mails it.
			{Kind: audience.Email, Rule: normalize.Email, Digest: normalize.MD5, Seal: normalize.SealToo},
			// Merge fields: sent with the member as written, not matched on.
			{Kind: audience.FirstName, Rule: normalize.Text, Seal: normalize.SealOnly},
			{Kind: audience.LastName, Rule: normalize.Text, Seal: normalize.SealOnly},
			{Kind: audience.Phone, Rule: normalize.PhoneE164, Seal: normalize.SealOnly},
		},
		// Only the address makes a list member.
		Matchable: func(got normalize.Present) bool { return got[audience.Email] },
	}),
	Match: platform.NewMatch(false),
}

// Platform returns Mailchimp's platform description.
func Platform() *platform.Platform { return mailchimp }
