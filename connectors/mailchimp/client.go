package mailchimp

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/audiencesync/audiencesync/connectors/platformhttp"
)

// maxResponseBytes bounds an answer: the largest is a batch's.
const maxResponseBytes = 8 << 20

// baseURL is the API's base: the data centre's host, or the endpoint (a
// sandbox, a proxy), with /3.0.
func (d *Destination) baseURL(ctx context.Context) (string, error) {
	if !d.conn.Sandbox && d.conn.Endpoint == "" {
		return "https://" + d.dc + ".api.mailchimp.com/3.0", nil
	}
	u, err := d.conn.BaseURL(ctx)
	return strings.TrimRight(u, "/") + "/3.0", err
}

// problem is Mailchimp's error body (application/problem+json).
type problem struct {
	Type   string `json:"type"`
	Title  string `json:"title"`
	Status int    `json:"status"`
	Detail string `json:"detail"`
}

// Says is what a problem tells: its detail (which quotes the address in
// answers to member calls, so those show its title alone) and its title.
func (p problem) Says() (string, []string) { return p.Detail, []string{p.Title} }

// describe summarises an error answer: its status and title, and its
// detail when asked.
var describe = platformhttp.Describe[problem]

// vocab is how Mailchimp's refusals read: 401 wants a new key, 403 access
// to the list, 429 fewer connections at once.
var vocab = platformhttp.Vocabulary{
	Platform: "Mailchimp",
	Describe: describe,
	Unauthorized: platformhttp.Refusal{Says: "Mailchimp refused the API key",
		Advice: "check api_key (the whole key, with its -usNN data centre) under Account > Extras > API keys"},
	Fatal: []platformhttp.Refusal{{Status: http.StatusForbidden, Says: "Mailchimp refused access",
		Advice: "the key's user needs access to the list"}},
	RateLimitNote: "at most 10 connections at once; lower concurrency if this persists",
}

// call sends one request with the API key and reads the final answer,
// whatever its status; it fails only when no answer came. name is the
// call as messages show it, without ids.
func (d *Destination) call(ctx context.Context, method, path, name string, in any) (*platformhttp.Answer, error) {
	base, err := d.baseURL(ctx)
	if err != nil {
		return nil, err
	}
	req, err := platformhttp.NewJSONRequest(ctx, method, base+path, in)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", method, name, err)
	}
	req.SetBasicAuth("audiencesync", d.key)
	return d.http.Send(req, maxResponseBytes, "Mailchimp", name)
}
