package mailchimp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/platformhttp"
)

// Reasons for refused members. They are chosen from Mailchimp's error
// code and the sort of its message, never the message itself, which
// quotes the address.
const (
	// ReasonNoAddress: the member carries no address to send (it came
	// without one, or its sealed address cannot be opened).
	ReasonNoAddress = "mailchimp.no_address"
	// ReasonInvalidEmail: Mailchimp finds the address fake or invalid.
	ReasonInvalidEmail = "mailchimp.invalid_email"
	// ReasonCompliance: the address is in a compliance state
	// (unsubscribed, bounced or under review) and cannot be added.
	ReasonCompliance = "mailchimp.compliance_state"
	// ReasonNotMember: the contact was not on the list when tagged.
	ReasonNotMember = "mailchimp.not_a_member"
	// ReasonUnanswered: the member's own untag request got no answer, or
	// only 429s or 5xx, after the retries allowed; it stays in state and
	// the next run removes it.
	ReasonUnanswered = "mailchimp.unanswered"
	// ReasonMember prefixes another per-member error code, lower-cased.
	ReasonMember = "mailchimp."
)

// outgoing is one member of an add batch, opened for its request body.
type outgoing struct {
	index int
	hash  string
	email string // clear: only for request bodies
	merge map[string]string
}

// Apply adds or removes the tag for a batch's members. Adds create the
// contacts that are not on the list yet, update the merge fields of those
// that are, and tag them all in one request; removes untag contact by
// contact.
func (d *Destination) Apply(ctx context.Context, aud connectors.Audience, b connectors.Batch) (connectors.BatchResult, error) {
	listID, tagID, ok := splitID(aud.ID)
	if !ok {
		return connectors.BatchResult{}, connectors.Fatal(fmt.Errorf("mailchimp: audience id %q is not LIST/TAG_ID", aud.ID))
	}
	what := fmt.Sprintf("mailchimp: %s batch %d (%d members) to tag %s of list %s", b.Op, b.Seq, len(b.Members), aud.Name, listID)
	if b.Op == connectors.OpRemove {
		return d.untag(ctx, listID, aud.Name, b, what)
	}
	return d.add(ctx, listID, tagID, b, what)
}

// open reads a member's subscriber hash, address and merge fields out of
// its identifiers.
func (d *Destination) open(i int, u *connectors.Upload) (outgoing, bool) {
	o := outgoing{index: i}
	for _, id := range u.Identifiers {
		switch {
		case id.Kind == audience.Email && id.Hashed:
			o.hash = id.Value
		case id.Kind == audience.Email && id.Sealed:
			v, err := id.Open()
			if err != nil {
				return o, false
			}
			o.email = v
		case id.Kind == audience.Attribute && id.Sealed:
			v, err := id.Open()
			if err != nil || v == "" || int(v[0]) >= len(d.attrTags) {
				return o, false
			}
			if o.merge == nil {
				o.merge = map[string]string{}
			}
			o.merge[d.attrTags[v[0]]] = v[1:]
		case id.Sealed:
			for _, m := range d.merge {
				if m.kind == id.Kind {
					v, err := id.Open()
					if err != nil {
						return o, false
					}
					if o.merge == nil {
						o.merge = map[string]string{}
					}
					o.merge[m.tag] = v
				}
			}
		}
	}
	return o, o.hash != "" && o.email != ""
}

func (d *Destination) add(ctx context.Context, listID, tagID string, b connectors.Batch, what string) (connectors.BatchResult, error) {
	res := connectors.BatchResult{Platform: map[string]int64{}}
	var out []outgoing
	for i := range b.Members {
		o, ok := d.open(i, &b.Members[i])
		if !ok {
			res.Rejected = append(res.Rejected, connectors.MemberRejection{Index: i, Reason: ReasonNoAddress})
			continue
		}
		out = append(out, o)
	}
	if len(out) == 0 {
		return res, nil
	}
	existing, refused, err := d.create(ctx, listID, out, &res, what)
	if err != nil {
		return connectors.BatchResult{Retries: res.Retries}, err
	}
	// One request per existing contact: one left unanswered fails that
	// member only (it is sent again by the next run), unless none of them
	// got through, when the batch is retried whole.
	var unanswered error
	updated := 0
	for _, o := range existing {
		if len(o.merge) == 0 {
			continue
		}
		reason, err := d.update(ctx, listID, o, &res, what)
		var lost *unansweredError
		switch {
		case errors.As(err, &lost) && ctx.Err() == nil:
			unanswered, reason = err, ReasonUnanswered
		case err != nil:
			return connectors.BatchResult{Retries: res.Retries}, err
		default:
			updated++
		}
		if reason != "" {
			refused[o.index] = reason
		}
	}
	if unanswered != nil && updated == 0 && len(existing) == len(out) {
		return connectors.BatchResult{Retries: res.Retries}, unanswered
	}
	var tag []outgoing
	for _, o := range out {
		if reason, bad := refused[o.index]; bad {
			res.Rejected = append(res.Rejected, connectors.MemberRejection{Index: o.index, Reason: reason})
			continue
		}
		tag = append(tag, o)
	}
	if err := d.tag(ctx, listID, tagID, tag, &res, what); err != nil {
		return connectors.BatchResult{Retries: res.Retries}, err
	}
	return res, nil
}

// create sends the batch to the list's batch endpoint with
// update_existing false: new contacts get status_if_new, existing ones
// are left as they are and returned, and the others are refused, by
// member index.
func (d *Destination) create(ctx context.Context, listID string, out []outgoing, res *connectors.BatchResult, what string) ([]outgoing, map[int]string, error) {
	type member struct {
		Email  string            `json:"email_address"`
		Status string            `json:"status"`
		Merge  map[string]string `json:"merge_fields,omitempty"`
	}
	members := make([]member, len(out))
	byEmail := make(map[string]int, len(out))
	for i, o := range out {
		members[i] = member{Email: o.email, Status: d.statusIfNew, Merge: o.merge}
		byEmail[strings.ToLower(o.email)] = i
	}
	r, err := d.call(ctx, http.MethodPost, "/lists/"+url.PathEscape(listID), "lists/{id}",
		map[string]any{"members": members, "update_existing": false})
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", what, err)
	}
	res.Retries += r.Retries
	if err := answerError(r, what); err != nil {
		return nil, nil, err
	}
	var ans struct {
		New    []struct{} `json:"new_members"`
		Errors []struct {
			Email string `json:"email_address"`
			Error string `json:"error"`
			Code  string `json:"error_code"`
		} `json:"errors"`
	}
	if err := vocab.Decode(r, what, &ans); err != nil {
		return nil, nil, err
	}
	res.Platform["created"] += int64(len(ans.New))
	var existing []outgoing
	refused := map[int]string{}
	for _, e := range ans.Errors {
		i, ok := byEmail[strings.ToLower(e.Email)]
		if !ok {
			continue // not one sent: nothing to blame
		}
		// The code, or for an answer without one the message's sense.
		if e.Code == "ERROR_CONTACT_EXISTS" || (e.Code == "" && strings.Contains(strings.ToLower(e.Error), "already a list member")) {
			existing = append(existing, out[i])
			continue
		}
		refused[out[i].index] = memberReason(e.Code, e.Error)
	}
	res.Platform["existing"] += int64(len(existing))
	return existing, refused, nil
}

// update sends an existing contact's merge fields with PUT and
// status_if_new only, which changes no existing contact's status. It
// returns the reason Mailchimp refused the contact, if it did.
func (d *Destination) update(ctx context.Context, listID string, o outgoing, res *connectors.BatchResult, what string) (string, error) {
	r, err := d.call(ctx, http.MethodPut, "/lists/"+url.PathEscape(listID)+"/members/"+o.hash, "lists/{id}/members/{hash}",
		map[string]any{"email_address": o.email, "status_if_new": d.statusIfNew, "merge_fields": o.merge})
	if err != nil {
		return "", &unansweredError{fmt.Errorf("%s: update a contact's merge fields: %w", what, err)}
	}
	res.Retries += r.Retries
	switch {
	case r.Status == http.StatusOK:
		res.Platform["updated"]++
		return "", nil
	case r.Status == http.StatusBadRequest:
		var p problem
		_ = vocab.Decode(r, what, &p)
		return memberReason("", p.Title+" "+p.Detail), nil
	case r.Status == http.StatusTooManyRequests, r.Status >= 500:
		return "", &unansweredError{vocab.Error(r, what+": update a contact's merge fields", false)}
	}
	return "", vocab.Error(r, what+": update a contact's merge fields", false)
}

// unansweredError is one member's request that got no answer, or only
// 429s or 5xx, after the retries its batch's budget allowed.
type unansweredError struct{ err error }

func (e *unansweredError) Error() string { return e.err.Error() }
func (e *unansweredError) Unwrap() error { return e.err }

// tag adds the tag to out's contacts in one bulk request.
func (d *Destination) tag(ctx context.Context, listID, tagID string, out []outgoing, res *connectors.BatchResult, what string) error {
	if len(out) == 0 {
		return nil
	}
	emails := make([]string, len(out))
	byEmail := make(map[string]int, len(out))
	for i, o := range out {
		emails[i] = o.email
		byEmail[strings.ToLower(o.email)] = o.index
	}
	r, err := d.call(ctx, http.MethodPost, "/lists/"+url.PathEscape(listID)+"/segments/"+url.PathEscape(tagID), "lists/{id}/segments/{id}",
		map[string]any{"members_to_add": emails})
	if err != nil {
		return fmt.Errorf("%s: tag the contacts: %w", what, err)
	}
	res.Retries += r.Retries
	if err := answerError(r, what+": tag the contacts"); err != nil {
		return err
	}
	var ans struct {
		Added  int64 `json:"total_added"`
		Errors []struct {
			Emails []string `json:"email_addresses"`
		} `json:"errors"`
	}
	if err := vocab.Decode(r, what, &ans); err != nil {
		return err
	}
	res.Platform["tagged"] += ans.Added
	for _, e := range ans.Errors {
		for _, addr := range e.Emails {
			if i, ok := byEmail[strings.ToLower(addr)]; ok {
				res.Rejected = append(res.Rejected, connectors.MemberRejection{Index: i, Reason: ReasonNotMember})
			}
		}
	}
	return nil
}

// untag removes the tag from each member's contact, by subscriber hash (a
// bulk removal would need the addresses, which state does not keep). A
// contact that is not on the list has no tag to remove.
//
// A batch of removals is one request per member, so one member's request
// that gets no answer, or a 429 or 5xx, after the retries the policy
// allows, fails only that member (ReasonUnanswered): it stays in state
// and the next run removes it, while the members already untagged are
// committed. Only when no member of the batch got through is the batch an
// error, for the engine to retry whole.
func (d *Destination) untag(ctx context.Context, listID, tagName string, b connectors.Batch, what string) (connectors.BatchResult, error) {
	res := connectors.BatchResult{Platform: map[string]int64{}}
	body := map[string]any{"tags": []map[string]string{{"name": tagName, "status": "inactive"}}}
	var lastErr error
	for i := range b.Members {
		hash := ""
		for _, id := range b.Members[i].Identifiers {
			if id.Kind == audience.Email && id.Hashed {
				hash = id.Value
			}
		}
		if hash == "" {
			res.Rejected = append(res.Rejected, connectors.MemberRejection{Index: i, Reason: ReasonNoAddress})
			continue
		}
		r, err := d.call(ctx, http.MethodPost, "/lists/"+url.PathEscape(listID)+"/members/"+hash+"/tags", "lists/{id}/members/{hash}/tags", body)
		if err != nil {
			if ctx.Err() != nil {
				return connectors.BatchResult{Retries: res.Retries}, fmt.Errorf("%s: %w", what, err)
			}
			lastErr = fmt.Errorf("%s: %w", what, err)
			res.Rejected = append(res.Rejected, connectors.MemberRejection{Index: i, Reason: ReasonUnanswered})
			continue
		}
		res.Retries += r.Retries
		switch {
		case r.Status == http.StatusNoContent, r.Status == http.StatusOK:
			res.Platform["untagged"]++
		case r.Status == http.StatusNotFound:
			res.Platform["not_on_list"]++
		case r.Status == http.StatusTooManyRequests, r.Status >= 500:
			lastErr = vocab.Error(r, what, false)
			res.Rejected = append(res.Rejected, connectors.MemberRejection{Index: i, Reason: ReasonUnanswered})
		default:
			return connectors.BatchResult{Retries: res.Retries}, answerError(r, what)
		}
	}
	if lastErr != nil && res.Platform["untagged"]+res.Platform["not_on_list"] == 0 {
		return connectors.BatchResult{Retries: res.Retries}, lastErr
	}
	return res, nil
}

// answerError is nil for a 200, and otherwise the error for a batch
// answer: a 400 refuses the batch as a whole, the rest go through
// vocab.Error. Details are left out: they may quote an address.
func answerError(r *platformhttp.Answer, what string) error {
	switch {
	case r.Status == http.StatusOK:
		return nil
	case r.Status == http.StatusBadRequest:
		return connectors.RejectBatch("mailchimp.bad_request", fmt.Errorf("%s: Mailchimp refused the request (%s)", what, describe(r, false)))
	case r.Status == http.StatusNotFound:
		return connectors.Fatal(fmt.Errorf("%s: Mailchimp has no such list or tag (%s): it may have been deleted; run again to find or create the tag", what, describe(r, false)))
	}
	return vocab.Error(r, what, false)
}

// memberReason names a per-member error by its code and the sort of its
// message.
func memberReason(code, msg string) string {
	m := strings.ToLower(msg)
	switch {
	case strings.Contains(m, "compliance state"):
		return ReasonCompliance
	case strings.Contains(m, "fake or invalid"), strings.Contains(m, "invalid email"):
		return ReasonInvalidEmail
	case code != "" && code != "ERROR_GENERIC":
		return ReasonMember + strings.ToLower(code)
	}
	return ReasonMember + "member_error"
}
