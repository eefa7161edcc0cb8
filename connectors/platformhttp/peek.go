package platformhttp

import (
	"bytes"
	"io"
	"net/http"
)

// PeekBody reads up to limit bytes of resp's body and puts them back, so
// a retry policy can look at an error answer while whoever reads the
// response next still gets all of it. A nil body peeks as empty.
func PeekBody(resp *http.Response, limit int64) ([]byte, error) {
	if resp == nil || resp.Body == nil {
		return nil, nil
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, limit))
	resp.Body = struct {
		io.Reader
		io.Closer
	}{io.MultiReader(bytes.NewReader(body), resp.Body), resp.Body}
	return body, err
}
