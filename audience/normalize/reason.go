package normalize

// Rejection reasons. They are part of the API: reports and dashboards count
// by them, so a reason is never renamed, only added. doc.go says what each
// one means.
const (
	ReasonKindUnsupported Reason = "kind.unsupported"
	ReasonInvalidUTF8     Reason = "value.invalid_utf8"
	ReasonControlChar     Reason = "value.control_character"

	ReasonEmailEmpty     Reason = "email.empty"
	ReasonEmailMalformed Reason = "email.malformed"

	ReasonPhoneEmpty     Reason = "phone.empty"
	ReasonPhoneNoDigits  Reason = "phone.no_digits"
	ReasonPhoneNoCountry Reason = "phone.no_country"
	ReasonPhoneInvalid   Reason = "phone.invalid"

	ReasonNameEmpty Reason = "name.empty"
	ReasonCityEmpty Reason = "city.empty"

	ReasonStateEmpty   Reason = "state.empty"
	ReasonStateUnknown Reason = "state.unknown"

	ReasonZipEmpty     Reason = "zip.empty"
	ReasonZipMalformed Reason = "zip.malformed"

	ReasonCountryEmpty   Reason = "country.empty"
	ReasonCountryUnknown Reason = "country.unknown"

	ReasonGenderEmpty   Reason = "gender.empty"
	ReasonGenderUnknown Reason = "gender.unknown"

	ReasonDOBEmpty      Reason = "dob.empty"
	ReasonDOBMalformed  Reason = "dob.malformed"
	ReasonDOBOutOfRange Reason = "dob.out_of_range"

	ReasonMobileIDEmpty     Reason = "mobile_id.empty"
	ReasonMobileIDMalformed Reason = "mobile_id.malformed"

	ReasonExternalIDEmpty Reason = "external_id.empty"

	ReasonTextEmpty Reason = "text.empty"
	// ReasonNeedsClear is a value that arrived hashed for a kind the
	// platform must be sent in clear (an e-mail tool mails the address).
	ReasonNeedsClear Reason = "value.hashed_needs_clear"

	ReasonHandleEmpty     Reason = "handle.empty"
	ReasonHandleMalformed Reason = "handle.malformed"

	ReasonTwitterIDEmpty     Reason = "twitter_id.empty"
	ReasonTwitterIDMalformed Reason = "twitter_id.malformed"

	ReasonAddressIncomplete Reason = "address.incomplete"
	ReasonNoIdentifiers     Reason = "member.no_identifiers"

	ReasonLineTooLong Reason = "line.too_long"
)

// Reasons lists every reason this package reports, for reports that show
// zero counts and for documentation checks.
func Reasons() []Reason {
	return []Reason{
		ReasonKindUnsupported, ReasonInvalidUTF8, ReasonControlChar,
		ReasonEmailEmpty, ReasonEmailMalformed,
		ReasonPhoneEmpty, ReasonPhoneNoDigits, ReasonPhoneNoCountry, ReasonPhoneInvalid,
		ReasonNameEmpty, ReasonCityEmpty,
		ReasonStateEmpty, ReasonStateUnknown,
		ReasonZipEmpty, ReasonZipMalformed,
		ReasonCountryEmpty, ReasonCountryUnknown,
		ReasonGenderEmpty, ReasonGenderUnknown,
		ReasonDOBEmpty, ReasonDOBMalformed, ReasonDOBOutOfRange,
		ReasonMobileIDEmpty, ReasonMobileIDMalformed,
		ReasonExternalIDEmpty,
		ReasonTextEmpty, ReasonNeedsClear,
		ReasonHandleEmpty, ReasonHandleMalformed,
		ReasonTwitterIDEmpty, ReasonTwitterIDMalformed,
		ReasonAddressIncomplete, ReasonNoIdentifiers,
		ReasonLineTooLong,
	}
}
