package googledm

import (
	"errors"
	"net/http"
	"strings"

	"github.com/audiencesync/audiencesync/sandbox/internal/wire"
)

// decodeBody reads a JSON request body strictly.
func decodeBody(r *http.Request, v any) *apiError {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	return decodeStrict([]byte(body), v)
}

// readBody reads a JSON request body, refusing other content types and
// bodies over the size limit. It reads into a string sized from
// Content-Length when given, so a large upload is neither grown and copied
// as it arrives nor copied again to be sliced into values.
func readBody(r *http.Request) (string, *apiError) {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return "", invalidArg("", "INVALID_ARGUMENT", "Invalid Content-Type %q: the request body must be application/json.", ct)
	}
	var body strings.Builder
	switch err := wire.ReadBody(&body, r, maxBodyBytes); {
	case errors.Is(err, wire.ErrBodyTooLarge):
		return "", &apiError{httpStatus: http.StatusRequestEntityTooLarge, status: "INVALID_ARGUMENT",
			message: "Request payload size exceeds the limit.", reason: "REQUEST_TOO_LARGE"}
	case err != nil:
		return "", invalidArg("", "INVALID_ARGUMENT", "Could not read the request body: %v", err)
	}
	return body.String(), nil
}

// decodeStrict decodes body into v, answering a malformed body or an
// unknown field as Google does.
func decodeStrict(body []byte, v any) *apiError {
	if err := wire.DecodeStrict(body, v); err != nil {
		fe := err.(*wire.FieldError)
		if fe.Unknown {
			return invalidArg(fe.Path, "INVALID_ARGUMENT",
				"Invalid JSON payload received. %s at '%s': Cannot find field.", capitalize(fe.Msg), fe.Path)
		}
		return invalidArg(fe.Path, "INVALID_ARGUMENT", "Invalid JSON payload received. %s", fe.Error())
	}
	return nil
}

func capitalize(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}
