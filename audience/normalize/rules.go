package normalize

// Rule is a normalisation hook: how the values of one kind are
// normalised. A platform package picks one per kind in its Spec; which
// platform does what is said there, once. The rules are the exported
// values below, each the face of one normaliser in this package. A Rule is
// a value rather than a function so that normalising stays free of
// indirect calls, through which Go would move the member's buffers to the
// heap.
type Rule uint8

// The rules.
const (
	noRule Rule = iota

	// Email is an e-mail address: trimmed, lower-cased, exactly one "@" with
	// something on both sides; "+tags" and dots stay (Meta, X).
	Email

	// EmailGmailDots is Email that also removes the dots of a gmail.com or
	// googlemail.com local part, since Gmail ignores them (Google).
	EmailGmailDots

	// PhoneE164 is a valid phone number in E.164 with its "+" (Google); a
	// national number is read in c.Country.
	PhoneE164

	// PhoneDigits is PhoneE164 without the "+": the digits only (Meta, X).
	PhoneDigits

	// NameWithoutSpaces is a given or family name lower-cased with every
	// white-space character removed, as Google's utility does before hashing.
	NameWithoutSpaces

	// NameLetters is a given or family name lower-cased with letters only, so
	// punctuation, digits and spaces go and letters outside a–z stay
	// ("José" → "josé") (Meta FN and LN).
	NameLetters

	// InitialLetter is the first letter of NameLetters (Meta FI).
	InitialLetter

	// CityLetters is a city lower-cased with letters only
	// ("Washington D.C" → "washingtondc") (Meta CT).
	CityLetters

	// State is a state or province: in the US (c.Country) the two-letter postal
	// code, a state name mapped to it; elsewhere lower case without punctuation
	// or white space (Meta ST).
	State

	// PostalCode is a postal code lower-cased without white space; in the US
	// (c.Country) its first five digits (Meta ZIP).
	PostalCode

	// PostalCodeAsWritten is a postal code trimmed, in NFC, otherwise as
	// written (Google's clear postal code).
	PostalCodeAsWritten

	// CountryLower is a known ISO 3166-1 alpha-2 code in lower case (Meta
	// COUNTRY, hashed).
	CountryLower

	// CountryUpper is a known ISO 3166-1 alpha-2 code in upper case (Google's
	// clear region code).
	CountryUpper

	// Gender is m or f (Meta GEN).
	Gender

	// BirthYear is four digits from 1900 to 2100 (Meta DOBY).
	BirthYear

	// BirthMonth is 01 to 12 (Meta DOBM).
	BirthMonth

	// BirthDay is 01 to 31 (Meta DOBD).
	BirthDay

	// AdvertisingID is an IDFA or Android advertising id, lower case with its
	// hyphens; anything else is rejected (Meta MADID, sent in clear).
	AdvertisingID

	// DeviceID is an advertising id lower case with dashes, or any other device
	// id as the device reports it (X device_id).
	DeviceID

	// ExternalID is the advertiser's own id, trimmed and in NFC (Meta
	// EXTERN_ID, X partner_user_id, sent in clear).
	ExternalID

	// Handle is an X handle without "@", lower case, 1 to 15 letters, digits
	// or underscores.
	Handle

	// TwitterID is X's numeric user id.
	TwitterID

	// Text is a value trimmed and in NFC, otherwise as written: what an
	// e-mail puts in front of its reader ("Dear O'Neil") (Mailchimp merge
	// fields, sealed).
	Text
)

// append appends the normalised form of raw to dst, or returns dst
// unchanged with the reason it rejects raw. c is the country national
// phone numbers, US states and US ZIP codes are read in.
func (r Rule) append(dst []byte, raw string, c valueCtx) ([]byte, Reason) {
	switch r {
	case Email:
		return appendEmail(dst, raw, false)
	case EmailGmailDots:
		return appendEmail(dst, raw, true)
	case PhoneE164:
		return appendE164(dst, raw, c.country)
	case PhoneDigits:
		out, r := appendE164(dst, raw, c.country)
		if r != "" {
			return dst, r
		}
		return append(out[:len(dst)], out[len(dst)+1:]...), ""
	case NameWithoutSpaces:
		return appendName(dst, raw, notSpace)
	case NameLetters:
		return appendName(dst, raw, isLetter)
	case InitialLetter:
		return appendInitial(dst, raw)
	case CityLetters:
		return appendLetters(dst, raw, ReasonCityEmpty)
	case State:
		return appendState(dst, raw, c.country)
	case PostalCode:
		return appendMetaZip(dst, raw, c.country)
	case PostalCodeAsWritten:
		return appendTrimmed(dst, raw, ReasonZipEmpty)
	case CountryLower:
		cc, r := parseCountry(raw)
		if r != "" {
			return dst, r
		}
		return append(dst, cc[0]+('a'-'A'), cc[1]+('a'-'A')), ""
	case CountryUpper:
		cc, r := parseCountry(raw)
		if r != "" {
			return dst, r
		}
		return append(dst, cc[0], cc[1]), ""
	case Gender:
		return appendGender(dst, raw)
	case BirthYear:
		return appendBirthPart(dst, raw, 4, 1900, 2100)
	case BirthMonth:
		return appendBirthPart(dst, raw, 2, 1, 12)
	case BirthDay:
		return appendBirthPart(dst, raw, 2, 1, 31)
	case AdvertisingID:
		return appendMADID(dst, raw)
	case DeviceID:
		return appendDeviceID(dst, raw)
	case ExternalID:
		return appendTrimmed(dst, raw, ReasonExternalIDEmpty)
	case Handle:
		return appendHandle(dst, raw)
	case TwitterID:
		return appendTwitterID(dst, raw)
	case Text:
		return appendTrimmed(dst, raw, ReasonTextEmpty)
	}
	return dst, ReasonKindUnsupported
}
