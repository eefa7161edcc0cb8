package normalize

// The rules platforms pick from, one per kind (see Rule and Spec). Each is
// the exported face of one normaliser in this package; the platform
// packages name them, so which platform does what is said there, once.

// Email is an e-mail address: trimmed, lower-cased, exactly one "@" with
// something on both sides; "+tags" and dots stay (Meta, X).
func Email(dst []byte, raw string, _ Context) ([]byte, Reason) {
	return appendEmail(dst, raw, false)
}

// EmailGmailDots is Email that also removes the dots of a gmail.com or
// googlemail.com local part, since Gmail ignores them (Google).
func EmailGmailDots(dst []byte, raw string, _ Context) ([]byte, Reason) {
	return appendEmail(dst, raw, true)
}

// PhoneE164 is a valid phone number in E.164 with its "+" (Google); a
// national number is read in c.Country.
func PhoneE164(dst []byte, raw string, c Context) ([]byte, Reason) {
	return appendE164(dst, raw, c.Country)
}

// PhoneDigits is PhoneE164 without the "+": the digits only (Meta, X).
func PhoneDigits(dst []byte, raw string, c Context) ([]byte, Reason) {
	out, r := appendE164(dst, raw, c.Country)
	if r != "" {
		return dst, r
	}
	return append(out[:len(dst)], out[len(dst)+1:]...), ""
}

// NameWithoutSpaces is a given or family name lower-cased with every
// white-space character removed, as Google's utility does before hashing.
func NameWithoutSpaces(dst []byte, raw string, _ Context) ([]byte, Reason) {
	return appendName(dst, raw, notSpace)
}

// NameLetters is a given or family name lower-cased with letters only, so
// punctuation, digits and spaces go and letters outside a–z stay
// ("José" → "josé") (Meta FN and LN).
func NameLetters(dst []byte, raw string, _ Context) ([]byte, Reason) {
	return appendName(dst, raw, isLetter)
}

// InitialLetter is the first letter of NameLetters (Meta FI).
func InitialLetter(dst []byte, raw string, _ Context) ([]byte, Reason) {
	return appendInitial(dst, raw)
}

// CityLetters is a city lower-cased with letters only
// ("Washington D.C" → "washingtondc") (Meta CT).
func CityLetters(dst []byte, raw string, _ Context) ([]byte, Reason) {
	return appendLetters(dst, raw, ReasonCityEmpty)
}

// State is a state or province: in the US (c.Country) the two-letter postal
// code, a state name mapped to it; elsewhere lower case without punctuation
// or white space (Meta ST).
func State(dst []byte, raw string, c Context) ([]byte, Reason) {
	return appendState(dst, raw, c.Country)
}

// PostalCode is a postal code lower-cased without white space; in the US
// (c.Country) its first five digits (Meta ZIP).
func PostalCode(dst []byte, raw string, c Context) ([]byte, Reason) {
	return appendMetaZip(dst, raw, c.Country)
}

// PostalCodeAsWritten is a postal code trimmed, in NFC, otherwise as
// written (Google's clear postal code).
func PostalCodeAsWritten(dst []byte, raw string, _ Context) ([]byte, Reason) {
	return appendTrimmed(dst, raw, ReasonZipEmpty)
}

// CountryLower is a known ISO 3166-1 alpha-2 code in lower case (Meta
// COUNTRY, hashed).
func CountryLower(dst []byte, raw string, _ Context) ([]byte, Reason) {
	cc, r := parseCountry(raw)
	if r != "" {
		return dst, r
	}
	return append(dst, cc[0]+('a'-'A'), cc[1]+('a'-'A')), ""
}

// CountryUpper is a known ISO 3166-1 alpha-2 code in upper case (Google's
// clear region code).
func CountryUpper(dst []byte, raw string, _ Context) ([]byte, Reason) {
	cc, r := parseCountry(raw)
	if r != "" {
		return dst, r
	}
	return append(dst, cc[0], cc[1]), ""
}

// Gender is m or f (Meta GEN).
func Gender(dst []byte, raw string, _ Context) ([]byte, Reason) {
	return appendGender(dst, raw)
}

// BirthYear is four digits from 1900 to 2100 (Meta DOBY).
func BirthYear(dst []byte, raw string, _ Context) ([]byte, Reason) {
	return appendBirthPart(dst, raw, 4, 1900, 2100)
}

// BirthMonth is 01 to 12 (Meta DOBM).
func BirthMonth(dst []byte, raw string, _ Context) ([]byte, Reason) {
	return appendBirthPart(dst, raw, 2, 1, 12)
}

// BirthDay is 01 to 31 (Meta DOBD).
func BirthDay(dst []byte, raw string, _ Context) ([]byte, Reason) {
	return appendBirthPart(dst, raw, 2, 1, 31)
}

// AdvertisingID is an IDFA or Android advertising id, lower case with its
// hyphens; anything else is rejected (Meta MADID, sent in clear).
func AdvertisingID(dst []byte, raw string, _ Context) ([]byte, Reason) {
	return appendMADID(dst, raw)
}

// DeviceID is an advertising id lower case with dashes, or any other device
// id as the device reports it (X device_id).
func DeviceID(dst []byte, raw string, _ Context) ([]byte, Reason) {
	return appendDeviceID(dst, raw)
}

// ExternalID is the advertiser's own id, trimmed and in NFC (Meta
// EXTERN_ID, X partner_user_id, sent in clear).
func ExternalID(dst []byte, raw string, _ Context) ([]byte, Reason) {
	return appendTrimmed(dst, raw, ReasonExternalIDEmpty)
}

// Handle is an X handle without "@", lower case, 1 to 15 letters, digits
// or underscores.
func Handle(dst []byte, raw string, _ Context) ([]byte, Reason) {
	return appendHandle(dst, raw)
}

// TwitterID is X's numeric user id.
func TwitterID(dst []byte, raw string, _ Context) ([]byte, Reason) {
	return appendTwitterID(dst, raw)
}
