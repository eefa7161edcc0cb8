package salesforce

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// apiError is one element of Salesforce's error array.
type apiError struct {
	Message   string   `json:"message"`
	ErrorCode string   `json:"errorCode"`
	Fields    []string `json:"fields"`
}

// decodeErrors reads an error answer: the REST array, a single object, or
// the OAuth {"error","error_description"} shape.
func decodeErrors(data []byte) []apiError {
	var list []apiError
	if json.Unmarshal(data, &list) == nil {
		return list
	}
	var one struct {
		apiError
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(data, &one) != nil {
		return nil
	}
	if one.ErrorCode == "" && one.Error != "" {
		one.ErrorCode, one.Message = one.Error, one.Description
	}
	if one.ErrorCode == "" && one.Message == "" {
		return nil
	}
	return []apiError{one.apiError}
}

func hasCode(errs []apiError, code string) bool {
	for _, e := range errs {
		if e.ErrorCode == code {
			return true
		}
	}
	return false
}

// clip shortens a message from Salesforce for an error.
func clip(m string) string {
	if len(m) > 300 {
		return m[:300] + "…"
	}
	return m
}

// describe is an answer's status and errors, for messages. Salesforce's
// messages show the query (with a caret under the fault), which names
// fields and ids, not contact data.
func describe(a answer) string {
	parts := []string{fmt.Sprintf("HTTP %d", a.status)}
	for _, e := range decodeErrors(a.body) {
		s := e.ErrorCode
		if e.Message != "" {
			s += ": " + strings.Join(strings.Fields(clip(e.Message)), " ")
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, "; ")
}

// failure turns an unexpected answer to what into an error that says what
// to do.
func failure(what string, a answer, version string) error {
	errs := decodeErrors(a.body)
	detail := describe(a)
	switch {
	case hasCode(errs, "INVALID_FIELD"):
		return fmt.Errorf("%s: Salesforce does not know a field the query names (%s): check source.fields and source.key (Contact field names; "+
			"MailingCountryCode and other *Code fields exist only when state and country picklists are enabled), or the fields of the soql: query", what, detail)
	case hasCode(errs, "INVALID_TYPE"):
		return fmt.Errorf("%s: Salesforce does not know an object the query names, or the user may not read it (%s): check the query and the user's permissions", what, detail)
	case hasCode(errs, "MALFORMED_QUERY"):
		return fmt.Errorf("%s: Salesforce cannot parse the query (%s): fix the soql: audience", what, detail)
	case a.status == http.StatusUnauthorized:
		return fmt.Errorf("%s: %w (%s): the session was refused again after authenticating anew: check that the user is active and the connected app's session policies", what, errCredentials, detail)
	case a.status == http.StatusForbidden:
		return fmt.Errorf("%s: Salesforce denied access (%s): give the user API Enabled and read access to campaigns, contacts and leads", what, detail)
	case a.status == http.StatusNotFound:
		return fmt.Errorf("%s: Salesforce has no such resource (%s): check api_version (%s) and the login URL", what, detail, version)
	case a.status >= 500:
		return fmt.Errorf("%s: Salesforce answered %s after the retries allowed: run again later; if it persists see status.salesforce.com", what, detail)
	}
	return fmt.Errorf("%s: unexpected answer from Salesforce (%s)", what, detail)
}

// LimitError is the org's daily API request limit, spent: the read stops
// at once, since every further request would be refused too.
type LimitError struct {
	// Used and Max are the Sforce-Limit-Info api-usage figures; 0 when
	// the answer gave none.
	Used, Max int64
}

func (e *LimitError) Error() string {
	usage := ""
	if e.Max > 0 {
		usage = fmt.Sprintf(" (api-usage=%d/%d)", e.Used, e.Max)
	}
	return "Salesforce refused the request: the org's daily API request limit is spent" + usage +
		" (REQUEST_LIMIT_EXCEEDED): nothing is removed; run again once usage falls (it is counted over the last 24 hours), " +
		"or ask the org's admin about other integrations' usage or a higher limit"
}

// limitError reads Sforce-Limit-Info: api-usage=USED/MAX.
func limitError(h http.Header) *LimitError {
	used, maxUse, _ := apiUsage(h)
	return &LimitError{Used: used, Max: maxUse}
}

// apiUsage reads Sforce-Limit-Info's api-usage figures.
func apiUsage(h http.Header) (used, maxUse int64, ok bool) {
	for part := range strings.SplitSeq(h.Get("Sforce-Limit-Info"), ",") {
		v, found := strings.CutPrefix(strings.TrimSpace(part), "api-usage=")
		if !found {
			continue
		}
		a, b, found := strings.Cut(v, "/")
		u, err1 := strconv.ParseInt(strings.TrimSpace(a), 10, 64)
		m, err2 := strconv.ParseInt(strings.TrimSpace(b), 10, 64)
		if found && err1 == nil && err2 == nil {
			return u, m, true
		}
	}
	return 0, 0, false
}
