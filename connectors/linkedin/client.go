package linkedin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/hashicorp/go-retryablehttp"
	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/platformhttp"
	"github.com/audiencesync/audiencesync/connectors/retry"
)

// baseURL returns the API base URL, without a trailing slash; with
// sandbox: true the in-process sandbox is started on first use.
func (d *Destination) baseURL(ctx context.Context) (string, error) {
	u, err := d.rest.BaseURL(ctx)
	return strings.TrimRight(u, "/"), err
}

// maxResponseBytes bounds an answer: the largest is a batch's element
// statuses, or a page of segments.
const maxResponseBytes = 8 << 20

// request is one API call.
type request struct {
	method string
	path   string // below /rest
	query  string // encoded, without "?"
	// batch sends X-RestLi-Method: BATCH_CREATE.
	batch bool
	body  any // JSON, or nil
}

// call sends a request through the retrying client and reads the final
// answer, whatever its status. When LinkedIn refuses the access token
// and another can be fetched, it is fetched and the request sent once
// more, which the batch's retry budget counts. It fails only when no
// answer came.
func (d *Destination) call(ctx context.Context, rq request) (*platformhttp.Answer, error) {
	base, err := d.baseURL(ctx)
	if err != nil {
		return nil, err
	}
	var body []byte
	if rq.body != nil {
		if body, err = json.Marshal(rq.body); err != nil {
			return nil, fmt.Errorf("encode the request: %w", err)
		}
	}
	u := base + "/rest" + rq.path
	if rq.query != "" {
		u += "?" + rq.query
	}
	for refreshed := false; ; refreshed = true {
		token, gen, err := d.accessToken(ctx)
		if err != nil {
			return nil, err
		}
		r, err := d.send(ctx, rq, u, token, body)
		if err != nil {
			return nil, err
		}
		if r.Status != http.StatusUnauthorized || refreshed || !d.tokens.refused(gen) || !retry.Take(ctx) {
			return r, nil
		}
		d.rest.Log.Info("access token refused; fetching another and sending again", zap.String("call", redactPath(rq.path)))
	}
}

var _ connectors.Checker = (*Destination)(nil)

// Check verifies the credentials and access to the ad account by reading
// it (GET /rest/adAccounts/{id}), which also fetches an access token; it
// changes nothing.
func (d *Destination) Check(ctx context.Context) error {
	r, err := d.call(ctx, request{method: http.MethodGet, path: "/adAccounts/" + escape(d.account)})
	return d.vocab.Check("linkedin: read ad account", r, err, platformhttp.Refusal{
		Says: "LinkedIn has no ad account " + d.account, Advice: "check account_id against Campaign Manager"})
}

// send makes one request with token.
func (d *Destination) send(ctx context.Context, rq request, u, token string, body []byte) (*platformhttp.Answer, error) {
	var rb any
	if body != nil {
		rb = body
	}
	req, err := retryablehttp.NewRequestWithContext(ctx, rq.method, u, rb)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	h := req.Header
	h.Set("Authorization", "Bearer "+token)
	h.Set("LinkedIn-Version", d.version)
	h.Set("X-Restli-Protocol-Version", "2.0.0")
	h.Set("Accept", "application/json")
	if body != nil {
		h.Set("Content-Type", "application/json")
	}
	if rq.batch {
		h.Set("X-RestLi-Method", "BATCH_CREATE")
	}
	return d.http.Send(req, maxResponseBytes, "LinkedIn", redactPath(rq.path))
}

// redactPath names an endpoint in messages without ids.
func redactPath(path string) string { return platformhttp.CallName(path, "dmpSegments", "adAccounts") }

// accountURN names the ad account in bodies and queries.
func (d *Destination) accountURN() string { return "urn:li:sponsoredAccount:" + d.account }

// escape encodes a path segment or a query value (a URN's colons too,
// as Rest.li 2.0 wants them in a query).
func escape(v string) string { return url.QueryEscape(v) }
