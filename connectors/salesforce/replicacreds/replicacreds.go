// Package replicacreds declares what the sandbox's Salesforce replica
// accepts and holds: its connected app, its users, a fixed synthetic RSA
// key pair for the JWT bearer flow, and its seeded campaigns. It is a
// leaf, so the Salesforce source (with sandbox: true) and the replica
// share these values without the source importing the sandbox.
package replicacreds

// Name is the replica's name in the sandbox: the key of its state, the
// target of fault rules and what connectors.Env.Endpoint is asked for.
const Name = "salesforce"

// Credentials the replica accepts. They are public constants, not secrets:
// the key pair below was generated for these tests and guards nothing.
const (
	// ClientID and ClientSecret are the connected app's consumer key and
	// secret.
	ClientID     = "sandbox-salesforce-consumer-key"
	ClientSecret = "sandbox-salesforce-consumer-secret"
	// Username is the user a JWT assertion names (sub).
	Username = "integration@example.com"
	// RefreshToken is exchanged for access tokens by the refresh flow.
	RefreshToken = "sandbox-salesforce-refresh-token"
	// RevokedToken is always refused by the token endpoint (invalid_grant).
	RevokedToken = "sandbox-salesforce-revoked-token"
)

// Campaigns seeded in a fresh replica.
const (
	// SpringCampaign holds contacts and leads, one of them converted.
	SpringCampaign   = "Spring launch"
	SpringCampaignID = "701000000000001AAA"
	// WebinarCampaign holds contacts only.
	WebinarCampaign   = "Webinar attendees"
	WebinarCampaignID = "701000000000002AAA"
	// EmptyCampaign has no members.
	EmptyCampaign   = "Empty campaign"
	EmptyCampaignID = "701000000000003AAA"
)

// PrivateKey is the synthetic RSA key (PKCS #8 PEM) a sandbox connection
// signs its JWT assertions with when it configures none.
const PrivateKey = `
-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC6rQUth21/KLGT
3h9rl24ntaaoD6xfEhC35Y7x32+TUWcwgu5q1dd4ZhlxXK1FmMtYnk4TAudSmrlI
AjjQIStA3b8r1Iw2HCV2Ls6FffBMoDaX+iZ8hVFI/D1yLzcS2stLQRIDnvTu30cj
74f94ETHUVWIt+IFpfWpTXWvKOtP3LwYY/RSGf2UG7+TSWF0y4SEKqD7+8rMhO+a
sVZss5/awzhUcnz5t2qbqv92rKIHuCldrI0tqt8vbYGEWUx+25Z7na3gZvQM2ltg
rXUDqCMUZ9Vyd31a8mikfvZu5LR+psU2kaG8NtYGuJEu+mrgw2tj54FxIJB3SU2e
/vitcwcHAgMBAAECggEAN5dD1fmhCX+YVkUNDVDUrH2jaiP0vIEYOnNhvLTBuNjC
hodPMcCJwKCDDie/r9yfHb5S2MWCFq7d40xKF+zwwQnoHsjWklySaV3qAYXuFBuX
9m03ndhjyvzW3ZSi7Xn7lWcE0tA495PFTzXLRTbOtJ6LfsHnzK/N9wOKusVQQgEj
R0yB26a7qo2crkrYsWzrvwFvE3lFo3OULXMWK5PN62ZY9BFSpXM/ejeORx4DtjoN
nMtWNMBM7Hc3yzLHKCoWKyZ+1w7J8z6Ytj0qVooioeeGuwrgsEHXmZ7f1r+yIJIq
QvYxdsnPAZ/tt3yS844tRWprgcYBY7P4JGKYqk7O/QKBgQDerOG5rBlMrJck8Av+
C/67UrbB4rLRF8D5byF8n1Yy+8Gf5cbKX1i/q50DRPzQoAJ3JtZHTKYhDMqVkLAw
CH4Y4khiKdZoBsqrSlDAzgz4D4Q5dl+xPHBGDZ9d5g/M+E7NAQRYMDDF0OQz4yDS
EO8Tkcz/7lDWAO2EKMMwOre70wKBgQDWnO4iiYEs7D/mb6Svi0bZ+I4IUF2j01NS
xR7TX2eSR0b0PXOh4bVkdcATfo5F8otWKQ01GDBhi3Jg4PfACI8HkXDrpjnAP74+
ipF0EGZZidQx5+J3erHo1CMfjBjsvexss1bHts7gM9mHMYUoB31/OSmBnrRt9eyb
wCo7TYTLfQKBgGgAFNkUUSinf1xIJUG9NnclFaiOiffwgTe+uMQs4ySiwvc8aVFB
oQC8VXQed3m1EhG2eOQKH5lWERQz5KY6gTJ8FVSLt9EUQvonlnnGgvYkwRvZdq4f
zUxatnEzr3OLEbrb27yYnV72xm6ZiU2zjQX11eo+01BwVH6iTy+qbP/zAoGBAI0A
WezTDs2nAmyx2S+EgC5hgV+w/XTPOSVeYVxaiD+xGMsLPNeU5Yp1Wpb0RSFrs2QO
YKELnW3ZInLIG75NYTuFsP0CH1tSBfotLFdnFveo+IM5aK87K3xfNBxb/Vw9hAH+
6fsY/l6LclXCkUu1cByQP9broHvGYYgK/zQrQB45AoGAV0Lp68xTQiUH8bH9daBU
REBoJ45Q2sWp2m45iKuJMn/EJN45eb056SNvLODXXKP70oLU4w06WzjEk69+UvU+
Ww0dyA4HcLSBOI5YJroK6r0FtKBTdc56svJMQtni3OOj0cm1Mv+NoHCSiNAJBr5C
1yz1VXEHLGor0NqISclQx9Y=
-----END PRIVATE KEY-----
`

// PublicKey is PrivateKey's public half (PKIX PEM): what the replica
// checks assertions against, as a connected app holds its certificate.
const PublicKey = `
-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAuq0FLYdtfyixk94fa5du
J7WmqA+sXxIQt+WO8d9vk1FnMILuatXXeGYZcVytRZjLWJ5OEwLnUpq5SAI40CEr
QN2/K9SMNhwldi7OhX3wTKA2l/omfIVRSPw9ci83EtrLS0ESA5707t9HI++H/eBE
x1FViLfiBaX1qU11ryjrT9y8GGP0Uhn9lBu/k0lhdMuEhCqg+/vKzITvmrFWbLOf
2sM4VHJ8+bdqm6r/dqyiB7gpXayNLarfL22BhFlMftuWe52t4Gb0DNpbYK11A6gj
FGfVcnd9WvJopH72buS0fqbFNpGhvDbWBriRLvpq4MNrY+eBcSCQd0lNnv74rXMH
BwIDAQAB
-----END PUBLIC KEY-----
`
