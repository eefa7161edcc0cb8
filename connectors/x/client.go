package x

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/hashicorp/go-retryablehttp"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
	"github.com/audiencesync/audiencesync/connectors/platformhttp"
)

// newClient builds the retrying client: rate-limit gate, then signing,
// then the wire, so a request is signed only once it may go out.
func newClient(conn *platformconn.Conn, lim limits, signer *auth.XSigner) *platformhttp.Client {
	wire := platformconn.Wire(conn.Concurrency + 2)
	return conn.HTTP(platformhttp.Options{
		Attempts:  lim.attempts,
		MinWait:   lim.minWait,
		MaxWait:   lim.maxWait,
		Signal:    retrySignal,
		Transport: newRateGate(signer.Transport(wire)),
		Wire:      wire,
	})
}

// baseURL returns the API base URL, starting the in-process sandbox on
// first use when the connection asks for it.
func (d *Destination) baseURL(ctx context.Context) (string, error) {
	d.baseMu.Lock()
	defer d.baseMu.Unlock()
	if d.base != "" {
		return d.base, nil
	}
	u, err := d.rest.BaseURL(ctx)
	if err != nil {
		return "", err
	}
	d.base = strings.TrimRight(u, "/")
	return d.base, nil
}

// maxResponseBytes bounds how much of an answer is read: the largest is
// an operation_errors list for 2,500 operations.
const maxResponseBytes = 8 << 20

// call sends one request through the retrying client and reads the final
// answer, whatever its status. It fails only when no answer came.
func (d *Destination) call(ctx context.Context, method, path string, query url.Values, contentType string, body []byte) (*platformhttp.Answer, error) {
	base, err := d.baseURL(ctx)
	if err != nil {
		return nil, err
	}
	u := base + "/" + d.version + "/accounts/" + d.account + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rb any
	if body != nil {
		rb = body
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, method, u, rb)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return d.http.Send(req, maxResponseBytes, "X", redactPath(path))
}

var _ connectors.Checker = (*Destination)(nil)

// Check verifies the credentials and access to the ad account by reading
// it (GET /12/accounts/{account_id}); it changes nothing.
func (d *Destination) Check(ctx context.Context) error {
	r, err := d.call(ctx, http.MethodGet, "", nil, "", nil)
	return d.vocab.Check("x: read ad account", r, err, platformhttp.Refusal{
		Says: "X has no ad account " + d.account, Advice: "check account_id against X Ads Manager"})
}

// redactPath names an endpoint in messages without ids; "" is the
// account itself.
func redactPath(path string) string {
	if path == "" {
		return "accounts/{id}"
	}
	return platformhttp.CallName(path, "custom_audiences")
}
