// Package x declares X (Twitter) Ads custom audiences as a platform: the
// identifiers X takes and how it wants them normalised, its audience-list
// layout (whose column names are also the fields of its API's user
// objects, in the order they are sent), and the credentials of the
// sandbox's Ads API replica.
package x

import (
	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/audience/normalize"
	"github.com/audiencesync/audiencesync/platform"
)

// Name is the platform's name in configs, profiles and fault specs.
const Name = "x"

// Credentials the sandbox's Ads API replica accepts (OAuth 1.0a). They are
// public constants, not secrets.
const (
	ReplicaConsumerKey    = "sandbox-x-consumer-key"
	ReplicaConsumerSecret = "sandbox-x-consumer-secret"
	ReplicaAccessToken    = "sandbox-x-access-token"
	ReplicaAccessSecret   = "sandbox-x-access-secret"
	// ReplicaRevokedToken is always refused with 401, as a revoked user
	// token is.
	ReplicaRevokedToken = "sandbox-x-revoked-token"
	// ReplicaAccount is an ad account id that exists in a fresh replica;
	// any lowercase alphanumeric id works.
	ReplicaAccount = "18ce54d4x5t"
)

var x = &platform.Platform{
	Name:  Name,
	Title: "X Ads API v12",
	// Every kind matches on its own.
	Profile: normalize.MustProfile(normalize.Spec{
		Name: Name,
		Fields: []normalize.Field{
			{Kind: audience.Email, Rule: normalize.Email},
			{Kind: audience.Phone, Rule: normalize.PhoneDigits},
			{Kind: audience.MobileID, Rule: normalize.DeviceID},
			{Kind: audience.Handle, Rule: normalize.Handle},
			{Kind: audience.TwitterID, Rule: normalize.TwitterID},
			{Kind: audience.ExternalID, Rule: normalize.ExternalID, Clear: true},
		},
	}),
	Match: platform.NewMatch(false),
	Layout: []platform.Column{
		{Kind: audience.Email, Name: "email"},
		{Kind: audience.Phone, Name: "phone_number"},
		{Kind: audience.Handle, Name: "handle"},
		{Kind: audience.TwitterID, Name: "twitter_id"},
		{Kind: audience.MobileID, Name: "device_id"},
		{Kind: audience.ExternalID, Name: "partner_user_id"},
	},
}

// Platform returns X's platform description.
func Platform() *platform.Platform { return x }
