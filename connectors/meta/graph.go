package meta

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	fb "github.com/huandu/facebook/v2"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
	"github.com/audiencesync/audiencesync/connectors/platformhttp"
)

// graph is a destination's Graph API client.
type graph struct {
	session *fb.Session // shared; each call takes a copy with its context
	where   auth.MetaGraph
	http    *platformhttp.Client
	tune    tuning
}

// graph returns the Graph client, building it on first use.
func (d *Destination) graph(ctx context.Context) (*graph, error) {
	d.initMu.Lock()
	defer d.initMu.Unlock()
	if d.api != nil {
		return d.api, nil
	}
	base, err := d.conn.BaseURL(ctx)
	if err != nil {
		return nil, err
	}
	base = strings.TrimSuffix(base, "/") + "/"

	gov := newGovernor(d.tune.slowdown, d.log)
	wire := platformconn.Wire(2 * d.settings.Concurrency)
	gov.next = wire
	rc := d.conn.HTTP(platformhttp.Options{
		Attempts:   d.tune.attempts,
		MinWait:    d.tune.minWait,
		MaxWait:    d.tune.maxWait,
		CheckRetry: checkRetry(d.tune.maxInClientWait),
		Signal:     retrySignal,
		Transport:  gov,
		Wire:       wire,
		Timeout:    d.tune.timeout,
	})
	where := auth.MetaGraph{BaseURL: base, Version: d.settings.APIVersion, Client: rc.StandardClient()}
	d.api = &graph{session: d.creds.Session(where), where: where, http: rc, tune: d.tune}
	return d.api, nil
}

// call makes one Graph call, retries included, and says how many retries
// it took. A Graph error comes back as *graphError.
func (g *graph) call(ctx context.Context, method fb.Method, path string, params fb.Params) (fb.Result, int, error) {
	ctx, retries := platformhttp.WithRetryCount(ctx)
	res, err := g.session.WithContext(ctx).Api(path, method, params)
	if err != nil {
		// A transport error quotes the URL, which carries appsecret_proof
		// on every GET.
		return res, *retries, auth.RedactError(asGraphError(res, err))
	}
	return res, *retries, nil
}

// graphError is an error Graph answered with.
type graphError struct {
	Code, Subcode int
	Type          string
	// Message, UserTitle and UserMessage are Meta's words, scrubbed of
	// anything shaped like a hash or an e-mail address.
	Message, UserTitle, UserMessage string
	TraceID                         string
	Transient                       bool
	// regain is how long X-Business-Use-Case-Usage said to stay away.
	regain time.Duration
}

func (e *graphError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Meta Graph API error %d", e.Code)
	if e.Subcode != 0 {
		fmt.Fprintf(&b, "/%d", e.Subcode)
	}
	if e.Type != "" {
		fmt.Fprintf(&b, " (%s)", e.Type)
	}
	fmt.Fprintf(&b, ": %s", e.Message)
	if e.UserTitle != "" || e.UserMessage != "" {
		fmt.Fprintf(&b, " [%s: %s]", e.UserTitle, e.UserMessage)
	}
	if e.TraceID != "" {
		fmt.Fprintf(&b, " (fbtrace_id %s)", e.TraceID)
	}
	return b.String()
}

// throttled reports whether code is one of Meta's rate-limit codes.
func throttled(code int) bool {
	switch {
	case code == 4, code == 17, code == 32, code == 613:
		return true
	case code >= 80000 && code <= 80014:
		return true
	}
	return false
}

func asGraphError(res fb.Result, err error) error {
	var fe *fb.Error
	if errors.As(err, &fe) {
		ge := &graphError{
			Code: fe.Code, Subcode: fe.ErrorSubcode, Type: fe.Type, TraceID: fe.TraceID, Transient: fe.IsTransient,
			Message: scrub(fe.Message), UserTitle: scrub(fe.UserTitle), UserMessage: scrub(fe.UserMessage),
		}
		if u := res.UsageInfo(); u != nil {
			_, ge.regain = usageLevel(u.BusinessUseCase)
		}
		return ge
	}
	var ue *fb.UnmarshalError
	if errors.As(err, &ue) {
		// The payload is not quoted: it is whatever a proxy or server sent.
		return fmt.Errorf("the answer from Meta is not Graph API JSON: %s", ue.Message)
	}
	return err
}

var (
	hexRun  = regexp.MustCompile(`[0-9a-fA-F]{32,}`)
	address = regexp.MustCompile(`[^\s@'"(),;<>]+@[^\s@'"(),;<>]+`)
)

// scrub keeps contact data out of a message Meta wrote: Graph messages
// rarely quote a value sent, but where one would be, it is redacted.
func scrub(s string) string {
	s = auth.RedactText(s)
	s = hexRun.ReplaceAllString(s, "[value]")
	s = address.ReplaceAllString(s, "[value]")
	if len(s) > 500 {
		s = s[:500] + "…"
	}
	return s
}
