package auth

import (
	"net/url"
	"strings"
)

// Credentials travel in headers and bodies here, but URLs still reach
// messages: net/http's *url.Error carries the request's whole URL, Meta's
// client sends appsecret_proof in the query string of every GET, and a
// platform's own error text may quote a URL. RedactURL, RedactText and
// RedactError are the one place such URLs are cleaned before they reach a
// log line, an error or a report.

// redacted marks what was removed.
const redactedMark = "REDACTED"

// RedactURL returns raw without its user information, query string and
// fragment: a query may carry access_token, appsecret_proof, an API key or
// a signature, and no list of parameter names is sure to catch them all,
// so none is kept. A removed query shows as ?REDACTED. A string that does
// not parse as a URL is cut the same way by hand.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		if i := strings.IndexAny(raw, "?#"); i >= 0 {
			raw = raw[:i] + "?" + redactedMark
		}
		if i := strings.Index(raw, "://"); i >= 0 {
			if at := strings.LastIndex(raw[i+3:], "@"); at >= 0 {
				raw = raw[:i+3] + raw[i+3+at+1:]
			}
		}
		return raw
	}
	query := u.RawQuery != "" || u.ForceQuery
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	if query {
		return u.String() + "?" + redactedMark
	}
	return u.String()
}

// RedactText returns s with every URL in it redacted (RedactURL). A URL
// ends at whitespace or a quote, as in net/http's `Get "https://…": …`
// and retryablehttp's `GET https://… giving up`.
func RedactText(s string) string {
	if !strings.Contains(s, "://") {
		return s
	}
	var b strings.Builder
	for {
		i := strings.Index(s, "://")
		if i < 0 {
			b.WriteString(s)
			return b.String()
		}
		start := i
		for start > 0 && isSchemeByte(s[start-1]) {
			start--
		}
		end := i + 3
		for end < len(s) && !isURLEnd(s[end]) {
			end++
		}
		b.WriteString(s[:start])
		if start == i { // "://" without a scheme: not a URL
			b.WriteString(s[i : i+3])
			s = s[i+3:]
			continue
		}
		b.WriteString(RedactURL(s[start:end]))
		s = s[end:]
	}
}

func isSchemeByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'
}

func isURLEnd(c byte) bool {
	switch c {
	case ' ', '\t', '\n', '\r', '"', '\'', '`', '<', '>':
		return true
	}
	return false
}

// RedactError returns err with the URLs in its message redacted. The
// result unwraps to err, so errors.Is and errors.As see what they saw
// before; a *url.Error in the chain has its URL redacted in place, so it
// cannot leak when printed on its own. An error whose message has nothing
// to redact is returned as it is.
func RedactError(err error) error {
	if err == nil {
		return nil
	}
	for e := err; e != nil; {
		if ue, ok := e.(*url.Error); ok {
			ue.URL = RedactURL(ue.URL)
		}
		switch w := e.(type) {
		case interface{ Unwrap() error }:
			e = w.Unwrap()
		case interface{ Unwrap() []error }:
			for _, inner := range w.Unwrap() {
				_ = RedactError(inner)
			}
			e = nil
		default:
			e = nil
		}
	}
	msg := err.Error()
	clean := RedactText(msg)
	if clean == msg {
		return err
	}
	return &redactedError{msg: clean, err: err}
}

// redactedError is an error whose message was redacted.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }
