package linkedin

import (
	"context"
	"fmt"
	"net/http"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/platformhttp"
)

// Reasons for members refused before anything is sent.
const (
	// ReasonNoIdentifiers: the member carries no identifier LinkedIn
	// matches.
	ReasonNoIdentifiers = "linkedin.no_identifiers"
	// ReasonElement prefixes the status of an element LinkedIn refused
	// without a code.
	ReasonElement = "linkedin.element_"
)

// idTypes are LinkedIn's idType for each kind the platform takes.
var idTypes = map[audience.Kind]string{
	audience.Email:    "SHA256_EMAIL",
	audience.MobileID: "GOOGLE_AID",
}

type userID struct {
	IDType  string `json:"idType"`
	IDValue string `json:"idValue"`
}

type userElement struct {
	Action  string   `json:"action"`
	UserIDs []userID `json:"userIds"`
}

// elementAnswer is one element's outcome. LinkedIn does not document the
// shape of a refused element: its status is read, and a code or message
// beside it or in an "error" object.
type elementAnswer struct {
	Status int       `json:"status"`
	Code   string    `json:"code"`
	Error  *apiError `json:"error"`
}

func (e *elementAnswer) reason() string {
	switch {
	case e.Error != nil && e.Error.Code != "":
		return "linkedin." + e.Error.Code
	case e.Code != "":
		return "linkedin." + e.Code
	}
	return fmt.Sprintf("%s%d", ReasonElement, e.Status)
}

// Apply sends a batch as one BATCH_CREATE of one element per member: ADD
// for OpAdd, REMOVE for OpRemove. Members LinkedIn refuses are listed in
// the result by index, with its error code as the reason; the others are
// applied.
func (d *Destination) Apply(ctx context.Context, aud connectors.Audience, b connectors.Batch) (connectors.BatchResult, error) {
	res := connectors.BatchResult{Platform: map[string]int64{}}
	action := "ADD"
	if b.Op == connectors.OpRemove {
		action = "REMOVE"
	}
	elements := make([]userElement, 0, len(b.Members))
	index := make([]int, 0, len(b.Members)) // element -> member
	for i := range b.Members {
		var ids []userID
		for _, id := range b.Members[i].Identifiers {
			if t, ok := idTypes[id.Kind]; ok && id.Value != "" {
				ids = append(ids, userID{IDType: t, IDValue: id.Value})
			}
		}
		if len(ids) == 0 {
			res.Rejected = append(res.Rejected, connectors.MemberRejection{Index: i, Reason: ReasonNoIdentifiers})
			continue
		}
		elements = append(elements, userElement{Action: action, UserIDs: ids})
		index = append(index, i)
	}
	if len(elements) == 0 {
		return res, nil
	}
	what := fmt.Sprintf("linkedin: %s batch %d (%d members) to DMP segment %s", b.Op, b.Seq, len(b.Members), aud.ID)
	r, err := d.call(ctx, request{method: http.MethodPost, path: "/dmpSegments/" + escape(aud.ID) + "/users", batch: true,
		body: map[string]any{"elements": elements}})
	if err != nil {
		return connectors.BatchResult{}, fmt.Errorf("%s: %w", what, err)
	}
	res.Retries = r.Retries
	res.RequestID = r.Header.Get("X-Li-Uuid")
	switch r.Status {
	case http.StatusOK, http.StatusCreated:
	case http.StatusBadRequest, http.StatusUnprocessableEntity, http.StatusRequestEntityTooLarge:
		code := "linkedin.bad_request"
		if e := platformhttp.ErrorBody[apiError](r); e.Code != "" {
			code = "linkedin." + e.Code
		}
		return connectors.BatchResult{Retries: res.Retries}, connectors.RejectBatch(code, fmt.Errorf("%s: LinkedIn refused the request (%s)", what, describe(r, false)))
	case http.StatusNotFound:
		return connectors.BatchResult{Retries: res.Retries}, connectors.Fatal(fmt.Errorf("%s: LinkedIn has no such DMP segment (%s): it may have been deleted; run again to find or create it by name", what, describe(r, false)))
	default:
		return connectors.BatchResult{Retries: res.Retries}, d.vocab.Error(r, what, false)
	}
	var ans struct {
		Elements []elementAnswer `json:"elements"`
	}
	if err := d.vocab.Decode(r, what, &ans); err != nil {
		return connectors.BatchResult{Retries: res.Retries}, err
	}
	if len(ans.Elements) != len(elements) {
		return connectors.BatchResult{Retries: res.Retries}, fmt.Errorf("%s: LinkedIn answered for %d of the %d users sent; the batch will be sent again", what, len(ans.Elements), len(elements))
	}
	for i, e := range ans.Elements {
		switch {
		case e.Status >= 200 && e.Status < 300:
			res.Platform["accepted"]++
		case e.Status == 0 || e.Status == http.StatusTooManyRequests || e.Status >= 500:
			// LinkedIn did not get to this user (or did not say): adds and
			// removes are idempotent, so the whole batch goes again.
			return connectors.BatchResult{Retries: res.Retries}, fmt.Errorf("%s: LinkedIn could not process a user (element status %d); the batch will be sent again", what, e.Status)
		default:
			res.Platform["refused"]++
			res.Rejected = append(res.Rejected, connectors.MemberRejection{Index: index[i], Reason: e.reason()})
		}
	}
	return res, nil
}
