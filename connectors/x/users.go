package x

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/jsonstr"
	"github.com/audiencesync/audiencesync/connectors/platformhttp"
	xplatform "github.com/audiencesync/audiencesync/platform/x"
)

// Reasons for members refused before anything is sent.
const (
	// ReasonNoIdentifiers: the member carries no identifier X matches.
	ReasonNoIdentifiers = "x.no_identifiers"
	// ReasonTooLarge: the member's operation alone exceeds the body limit.
	ReasonTooLarge = "x.operation_too_large"
)

// userField is one field of an X user object and the kind it holds.
type userField struct {
	kind audience.Kind
	key  string // with quotes, as written
}

// userFields are X's upload-file columns: their names are the fields of
// the API's user object, in the order they are sent.
var userFields = func() []userField {
	var out []userField
	for _, c := range xplatform.Platform().Layout {
		out = append(out, userField{kind: c.Kind, key: `"` + c.Name + `"`})
	}
	return out
}()

// Apply sends a batch as one operation per member: Update for OpAdd,
// Delete for OpRemove. Members X refuses are listed in the result by
// index, with X's error code as the reason, and the rest of the batch is
// applied without them.
func (d *Destination) Apply(ctx context.Context, aud connectors.Audience, b connectors.Batch) (connectors.BatchResult, error) {
	res := connectors.BatchResult{Platform: map[string]int64{}}
	enc := d.encoder(aud.ID, b.Op)
	req := newUsersRequest(d.lim.maxBytes, 0)
	send := func() error {
		if req.empty() {
			return nil
		}
		err := d.sendUsers(ctx, aud, b, req, &res)
		// A fresh buffer: the transport may still hold the old one.
		req = newUsersRequest(d.lim.maxBytes, cap(req.body))
		return err
	}
	for i := range b.Members {
		op, ok := enc.operation(&b.Members[i])
		switch {
		case !ok:
			res.Rejected = append(res.Rejected, connectors.MemberRejection{Index: i, Reason: ReasonNoIdentifiers})
			continue
		case len(op)+2 > d.lim.maxBytes: // with the array's brackets
			res.Rejected = append(res.Rejected, connectors.MemberRejection{Index: i, Reason: ReasonTooLarge})
			continue
		}
		if req.count() == d.lim.maxOps || !req.fits(op) {
			if err := send(); err != nil {
				return connectors.BatchResult{Retries: res.Retries}, err
			}
		}
		req.add(i, op)
	}
	if err := send(); err != nil {
		return connectors.BatchResult{Retries: res.Retries}, err
	}
	return res, nil
}

// encoder writes operations of one batch.
type encoder struct {
	opType  string
	expires string // expires_at, or ""
	buf     []byte
}

func (d *Destination) encoder(audienceID string, op connectors.Op) *encoder {
	e := &encoder{opType: "Update"}
	if op == connectors.OpRemove {
		e.opType = "Delete"
		return e
	}
	d.mu.Lock()
	days := d.membership[audienceID]
	d.mu.Unlock()
	if days > 0 {
		e.expires = d.now().UTC().Add(time.Duration(days) * 24 * time.Hour).Format("2006-01-02T15:04:05Z")
	}
	return e
}

// operation encodes one member's operation; the bytes are valid until the
// next call. ok is false when the member has no identifier X takes.
func (e *encoder) operation(m *connectors.Upload) (op []byte, ok bool) {
	b := append(e.buf[:0], `{"operation_type":"`...)
	b = append(b, e.opType...)
	b = append(b, `","params":{"users":[{`...)
	fields := 0
	for _, f := range userFields {
		n := 0
		for _, id := range m.Identifiers {
			if id.Kind != f.kind || id.Value == "" {
				continue
			}
			if n == 0 {
				if fields > 0 {
					b = append(b, ',')
				}
				b = append(b, f.key...)
				b = append(b, ":["...)
			} else {
				b = append(b, ',')
			}
			b = jsonstr.Append(b, id.Value)
			n++
		}
		if n > 0 {
			b = append(b, ']')
			fields++
		}
	}
	b = append(b, "}]"...)
	if e.expires != "" {
		b = append(b, `,"expires_at":"`...)
		b = append(b, e.expires...)
		b = append(b, '"')
	}
	b = append(b, "}}"...)
	e.buf = b
	return b, fields > 0
}

// usersRequest is one request body being built: a JSON array of
// operations, and for each the index of its member in the batch.
type usersRequest struct {
	maxBytes int
	body     []byte
	spans    [][2]int // each operation's bytes within body
	members  []int
}

// newUsersRequest starts an empty request; sizeHint preallocates the body.
func newUsersRequest(maxBytes, sizeHint int) *usersRequest {
	body := make([]byte, 1, max(sizeHint, 1<<12))
	body[0] = '['
	return &usersRequest{maxBytes: maxBytes, body: body}
}

func (r *usersRequest) empty() bool { return len(r.members) == 0 }
func (r *usersRequest) count() int  { return len(r.members) }

// fits reports whether op can join without the closed array exceeding
// the body limit.
func (r *usersRequest) fits(op []byte) bool {
	return len(r.body)+1+len(op)+1 <= r.maxBytes
}

func (r *usersRequest) add(member int, op []byte) {
	if len(r.members) > 0 {
		r.body = append(r.body, ',')
	}
	start := len(r.body)
	r.body = append(r.body, op...)
	r.spans = append(r.spans, [2]int{start, len(r.body)})
	r.members = append(r.members, member)
}

// payload closes the array; add must not be called after it.
func (r *usersRequest) payload() []byte { return append(r.body, ']') }

// without returns a request of the operations not at positions drop.
func (r *usersRequest) without(drop map[int]bool) *usersRequest {
	out := newUsersRequest(r.maxBytes, len(r.body))
	for i, sp := range r.spans {
		if !drop[i] {
			out.add(r.members[i], r.body[sp[0]:sp[1]])
		}
	}
	return out
}

// usersAnswer is a successful answer of the users endpoint.
type usersAnswer struct {
	Data struct {
		SuccessCount *int64 `json:"success_count"`
		TotalCount   *int64 `json:"total_count"`
	} `json:"data"`
	OperationErrors [][]apiError `json:"operation_errors"`
}

// sendUsers sends one request and records its outcome in res. X applies a
// request all or nothing: when it names invalid operations, those members
// are rejected and the others are sent again without them.
func (d *Destination) sendUsers(ctx context.Context, aud connectors.Audience, b connectors.Batch, req *usersRequest, res *connectors.BatchResult) error {
	what := fmt.Sprintf("x: %s batch %d (%d members) to custom audience %s", b.Op, b.Seq, len(b.Members), aud.ID)
	path := "/custom_audiences/" + url.PathEscape(aud.ID) + "/users"
	for !req.empty() {
		r, err := d.call(ctx, http.MethodPost, path, nil, "application/json", req.payload())
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		res.Retries += r.Retries
		res.Platform["requests"]++
		ops := int64(req.count())
		var ans usersAnswer
		if r.Status == http.StatusOK || r.Status == http.StatusBadRequest {
			if err := d.vocab.Decode(r, what, &ans); err != nil {
				return err
			}
		}
		if drop := d.operationErrors(ans.OperationErrors, req, res); len(drop) > 0 {
			// Nothing of this request was applied: resend the valid rest.
			d.rest.Log.Debug("operations refused; resending the rest", zap.Int("seq", b.Seq), zap.Int("refused", len(drop)), zap.Int("operations", req.count()))
			req = req.without(drop)
			continue
		}
		switch r.Status {
		case http.StatusOK:
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge:
			return connectors.RejectBatch(firstCode(r, "x.bad_request"), fmt.Errorf("%s: X refused the request (%s)", what, describe(r, false)))
		case http.StatusNotFound:
			return connectors.Fatal(fmt.Errorf("%s: X has no such custom audience in ad account %s (%s): it may have been deleted; run again to find or create it by name",
				what, d.account, describe(r, false)))
		default:
			return d.vocab.Error(r, what, false)
		}
		sc, tc := ans.Data.SuccessCount, ans.Data.TotalCount
		if sc == nil || tc == nil || *sc != ops || *tc != ops {
			return fmt.Errorf("%s: X processed %s of %s operations, not all %d sent; the request failed and will be retried",
				what, countText(sc), countText(tc), ops)
		}
		res.Platform["success_count"] += *sc
		res.Platform["total_count"] += *tc
		return nil
	}
	return nil
}

// operationErrors records the members whose operations X refused and
// returns their positions in req.
func (d *Destination) operationErrors(opErrs [][]apiError, req *usersRequest, res *connectors.BatchResult) map[int]bool {
	var drop map[int]bool
	for pos, errs := range opErrs {
		if len(errs) == 0 || pos >= req.count() {
			continue
		}
		if drop == nil {
			drop = map[int]bool{}
		}
		drop[pos] = true
		reason := errs[0].Code
		if reason == "" {
			reason = "x.operation_error"
		}
		res.Rejected = append(res.Rejected, connectors.MemberRejection{Index: req.members[pos], Reason: reason})
	}
	return drop
}

func firstCode(r *platformhttp.Answer, fallback string) string {
	if e := platformhttp.ErrorBody[errorBody](r); len(e.Errors) > 0 && e.Errors[0].Code != "" {
		return e.Errors[0].Code
	}
	return fallback
}

func countText(n *int64) string {
	if n == nil {
		return "an unknown number"
	}
	return fmt.Sprint(*n)
}
