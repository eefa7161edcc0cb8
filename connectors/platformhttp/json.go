package platformhttp

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"github.com/hashicorp/go-retryablehttp"
)

// NewJSONRequest builds a request to url that asks for JSON and, when in
// is not nil, sends in encoded as JSON.
func NewJSONRequest(ctx context.Context, method, url string, in any) (*retryablehttp.Request, error) {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return nil, fmt.Errorf("encode the request body: %w", err)
		}
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, method, url, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return req, nil
}

// ReadAnswer reads resp's body whole, up to limit bytes: a larger answer
// is an error rather than a truncated body that would decode as less than
// was sent. platform names the platform in errors.
func ReadAnswer(resp *http.Response, limit int64, platform string) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("read %s's answer: %w", platform, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s's answer is larger than %d bytes", platform, limit)
	}
	return data, nil
}
