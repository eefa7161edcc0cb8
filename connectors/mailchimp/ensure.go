package mailchimp

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/audiencesync/audiencesync/connectors"
)

// segment is a tag as the segments endpoint lists it.
type segment struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	Type        string `json:"type"`
	MemberCount int64  `json:"member_count"`
}

// Ensure resolves the audience's list and tag: the list must exist; the
// tag (audience.tag, else its name) is found among the list's tags, or
// created when allowed. The audience id is "LIST/TAG_ID".
func (d *Destination) Ensure(ctx context.Context, spec connectors.AudienceSpec) (connectors.Audience, error) {
	listID, name := spec.List, spec.Tag
	if name == "" {
		name = spec.Name
	}
	if listID == "" {
		if l, _, ok := splitID(spec.ID); ok {
			listID = l
		}
	}
	if listID == "" || name == "" {
		return connectors.Audience{}, connectors.Fatal(errors.New("mailchimp: the destination's audience needs a list and a tag: write audience: {list_id: LIST_ID, tag: TAG} (the list id is under Audience > Settings > Audience name and defaults)"))
	}
	what := "mailchimp: read list " + listID
	r, err := d.call(ctx, http.MethodGet, "/lists/"+url.PathEscape(listID)+"?fields=id,name", "lists/{id}", nil)
	if err != nil {
		return connectors.Audience{}, fmt.Errorf("%s: %w", what, err)
	}
	switch {
	case r.Status == http.StatusNotFound:
		return connectors.Audience{}, connectors.Fatal(fmt.Errorf("%s: Mailchimp has no such list (%s): check list_id, and that the API key belongs to the account that owns it", what, describe(r, true)))
	case r.Status != http.StatusOK:
		return connectors.Audience{}, vocab.Error(r, what, true)
	}
	seg, err := d.findTag(ctx, listID, name, spec)
	if err != nil {
		return connectors.Audience{}, err
	}
	if seg != nil {
		return connectors.Audience{ID: audienceID(listID, strconv.FormatInt(seg.ID, 10)), Name: seg.Name}, nil
	}
	if !spec.Create {
		return connectors.Audience{}, connectors.Fatal(fmt.Errorf("mailchimp: list %s has no tag %q and the audience may not be created: create the tag in Mailchimp or allow create", listID, name))
	}
	what = fmt.Sprintf("mailchimp: create tag %q on list %s", name, listID)
	r, err = d.call(ctx, http.MethodPost, "/lists/"+url.PathEscape(listID)+"/segments", "lists/{id}/segments",
		map[string]any{"name": name, "static_segment": []string{}})
	if err != nil {
		return connectors.Audience{}, fmt.Errorf("%s: %w", what, err)
	}
	if r.Status != http.StatusOK {
		return connectors.Audience{}, vocab.Error(r, what, true)
	}
	var created segment
	if err := vocab.Decode(r, what, &created); err != nil {
		return connectors.Audience{}, err
	}
	return connectors.Audience{ID: audienceID(listID, strconv.FormatInt(created.ID, 10)), Name: created.Name, Created: true}, nil
}

// findTag pages through the list's tags for the one state knows by id,
// else the one named name; nil when there is neither.
func (d *Destination) findTag(ctx context.Context, listID, name string, spec connectors.AudienceSpec) (*segment, error) {
	_, knownTag, known := splitID(spec.KnownID)
	var byName *segment
	for offset := 0; ; {
		what := "mailchimp: list the tags of list " + listID
		q := url.Values{"type": {"static"}, "count": {"1000"}, "offset": {strconv.Itoa(offset)}}
		r, err := d.call(ctx, http.MethodGet, "/lists/"+url.PathEscape(listID)+"/segments?"+q.Encode(), "lists/{id}/segments", nil)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", what, err)
		}
		if r.Status != http.StatusOK {
			return nil, vocab.Error(r, what, true)
		}
		var page struct {
			Segments []segment `json:"segments"`
			Total    int       `json:"total_items"`
		}
		if err := vocab.Decode(r, what, &page); err != nil {
			return nil, err
		}
		for i := range page.Segments {
			s := &page.Segments[i]
			if known && strconv.FormatInt(s.ID, 10) == knownTag {
				return s, nil
			}
			if s.Name == name && byName == nil {
				byName = s
			}
		}
		offset += len(page.Segments)
		if len(page.Segments) == 0 || offset >= page.Total {
			return byName, nil
		}
	}
}

var _ connectors.AudienceSizer = (*Destination)(nil)

// AudienceSize is how many contacts carry the tag.
func (d *Destination) AudienceSize(ctx context.Context, aud connectors.Audience) (connectors.AudienceSize, error) {
	listID, tagID, ok := splitID(aud.ID)
	if !ok {
		return connectors.AudienceSize{}, fmt.Errorf("mailchimp: audience id %q is not LIST/TAG_ID", aud.ID)
	}
	seg, err := d.findTag(ctx, listID, "", connectors.AudienceSpec{KnownID: audienceID(listID, tagID)})
	if err != nil || seg == nil {
		return connectors.AudienceSize{}, err
	}
	return connectors.AudienceSize{Known: true, Members: seg.MemberCount}, nil
}

var _ connectors.Checker = (*Destination)(nil)

// Check verifies the API key with Mailchimp's ping, changing nothing.
func (d *Destination) Check(ctx context.Context) error {
	r, err := d.call(ctx, http.MethodGet, "/ping", "ping", nil)
	if err != nil {
		return fmt.Errorf("mailchimp: check the API key: %w", err)
	}
	if r.Status != http.StatusOK {
		return vocab.Error(r, "mailchimp: check the API key", true)
	}
	return nil
}
