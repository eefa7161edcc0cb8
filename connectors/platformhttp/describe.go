package platformhttp

import (
	"encoding/json"
	"fmt"

	"github.com/audiencesync/audiencesync/auth"
)

// ErrorBody decodes an answer's body as a platform's error shape T. A body
// of another shape (an HTML page from a proxy, nothing at all) gives the
// zero T, which has nothing to report: a Describe then says the status
// alone.
func ErrorBody[T any](a *Answer) T {
	var e T
	_ = json.Unmarshal(a.Body, &e) // see above: another shape is no error here
	return e
}

// ErrorShape is a platform's error body with one message, as ErrorBody
// decodes it for Describe.
type ErrorShape interface {
	// Says returns the body's message, shown only where messages may be
	// (it can quote a value sent), and its codes in the order messages
	// show them, "" for one the body does not set.
	Says() (message string, codes []string)
}

// Describe is a Vocabulary's Describe for a platform whose error body is a
// T: "HTTP" and the status, each code the body sets, and, when
// withMessages, its message, if any, redacted.
func Describe[T ErrorShape](a *Answer, withMessages bool) string {
	message, codes := ErrorBody[T](a).Says()
	out := fmt.Sprintf("HTTP %d", a.Status)
	for _, c := range codes {
		if c != "" {
			out += " " + c
		}
	}
	if withMessages && message != "" {
		out += ": " + auth.RedactText(message)
	}
	return out
}
