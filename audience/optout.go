package audience

import "strings"

// ReadConsent reads a CRM field holding a consent answer. With optOut the
// field is an opt-out flag (HubSpot's hs_email_optout, Salesforce's
// HasOptedOutOfEmail): "true" denies, and anything else leaves the
// question to the destination's default, since not having opted out of
// e-mail is no grant of ad consent. Otherwise it is read by ParseConsent.
// ok is false for an answer neither reading knows.
func ReadConsent(v string, optOut bool) (st ConsentStatus, ok bool) {
	if !optOut {
		st, err := ParseConsent(v)
		return st, err == nil
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true":
		return ConsentDenied, true
	case "", "false":
		return ConsentUnspecified, true
	}
	return ConsentUnspecified, false
}
