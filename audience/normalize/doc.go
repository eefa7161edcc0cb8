// Package normalize turns raw contact fields into exactly what each ad
// platform expects: one Profile per platform, each covering every identifier
// kind that platform takes, with a stable machine reason for every
// rejection. The rules are exported hooks (Rule: Email, PhoneDigits,
// NameLetters, …); a platform package (see package platform) picks one per
// kind in a Spec, with the groups it matches only whole and what makes a
// member matchable, and NewProfile resolves them once into a Profile.
//
// A Profile normalises one value (Value, or AppendHash without allocating),
// a whole member (Member, which also applies the rules that span fields:
// groups such as Google's address, derived kinds such as Meta's first
// initial, the member's country as the region of its phone number) or a
// stream of lines (HashLines, for the CLI). Hashed kinds come out as the lowercase hex SHA-256 of the
// normalised value; a value that already is 64 hex digits was hashed
// upstream and passes through lower-cased (counted in Tally.PreHashed).
// Clear kinds come out normalised: Google's region code and postal code,
// Meta's MADID and EXTERN_ID, X's partner_user_id.
//
// Every value is trimmed of Unicode white space and zero-width characters
// (no-break space, zero-width space, BOM, ideographic space …), brought to
// NFC, and lower-cased with the full Unicode mapping where a rule says
// lower case. ASCII values skip the Unicode work.
//
// Phone numbers become E.164 and must be valid numbers by libphonenumber's
// IsValidNumber; see phone.go for the fast path that replays the parser on
// compiled metadata, and TestPhoneFastPathAgrees for the proof it agrees.
//
// # Rejection reasons
//
// Reasons are stable: reports count by them and they are never renamed.
//
//	kind.unsupported      the profile does not take this kind
//	value.invalid_utf8    the value is not valid UTF-8
//	value.control_character  the value holds a control character (NUL, DEL, C1…) other than white space
//	email.empty           nothing left after trimming
//	email.malformed       not exactly local@domain with both parts, white space or a control character inside, or a gmail local part of dots only
//	phone.empty           nothing left after trimming
//	phone.no_digits       no digit at all
//	phone.no_country      a national number, and neither the member nor the sync gives a region
//	phone.invalid         not a valid number (unknown country code, wrong length or pattern for its region)
//	name.empty            a given or family name (or initial) with nothing left after normalising
//	city.empty            no letter in the city
//	state.empty           no letter or digit in the state or province
//	state.unknown         a US state that is neither a postal code nor a state name
//	zip.empty             nothing left after trimming
//	zip.malformed         a Meta ZIP code shorter than two characters before any "-", or a US ZIP code that does not start with five digits
//	country.empty         nothing left after trimming
//	country.unknown       not an ISO 3166-1 alpha-2 (or alpha-3) code
//	gender.empty          nothing left after trimming
//	gender.unknown        not m, f, male or female
//	dob.empty             a birth year, month or day with nothing left after trimming
//	dob.malformed         not decimal digits of the right width (four for a year, one or two otherwise)
//	dob.out_of_range      a year outside 1900–2100, a month outside 1–12, a day outside 1–31
//	mobile_id.empty       nothing left after trimming
//	mobile_id.malformed   not an 8-4-4-4-12 hex advertising id (Meta); white space inside (X)
//	external_id.empty     nothing left after trimming
//	text.empty            a value sent as written (a merge field) with nothing left after trimming
//	value.hashed_needs_clear  a value that arrived as a SHA-256 digest for a kind the platform must be sent in clear (Mailchimp mails the address)
//	handle.empty          nothing left after trimming and removing "@"
//	handle.malformed      not 1–15 letters, digits or underscores
//	twitter_id.empty      nothing left after trimming
//	twitter_id.malformed  not 1–20 decimal digits
//	address.incomplete    Google: some of given name, family name, region code and postal code present, but not all four valid
//	member.no_identifiers nothing the platform can match on remains (see Profile.Member)
//	line.too_long         HashLines: an input line over 1 MiB
package normalize
