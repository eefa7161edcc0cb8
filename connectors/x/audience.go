package x

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
)

// customAudience is the part of an Ads API custom audience object used here.
type customAudience struct {
	ID      string `json:"id"`
	Name    string `json:"name"`
	Deleted bool   `json:"deleted"`
	// Size is X's approximate audience_size; null (nil) below 100
	// matched users.
	Size *int64 `json:"audience_size"`
}

var _ connectors.AudienceSizer = (*Destination)(nil)

// AudienceSize reads the audience's audience_size. X gives an
// approximate figure once 100 users matched and null before, which leaves
// the size unknown.
func (d *Destination) AudienceSize(ctx context.Context, aud connectors.Audience) (connectors.AudienceSize, error) {
	return platformconn.Size(ctx, d.words(), aud.ID, d.audienceByID, func(a customAudience) connectors.AudienceSize {
		if a.Size == nil {
			return connectors.AudienceSize{}
		}
		return connectors.AudienceSize{Known: true, Members: *a.Size, Approximate: true}
	})
}

// words name X's audiences in errors.
func (d *Destination) words() platformconn.Words {
	return platformconn.Words{Type: Type, Noun: "custom audience", Short: "audience", Account: "ad account " + d.account,
		Where: " in X Ads Manager"}
}

// Ensure finds the custom audience by id (spec.ID, then the id recorded
// last run), then by name, and creates it when spec.Create allows.
func (d *Destination) Ensure(ctx context.Context, spec connectors.AudienceSpec) (connectors.Audience, error) {
	aud, err := d.ensure(ctx, spec)
	if err != nil {
		return connectors.Audience{}, err
	}
	d.mu.Lock()
	d.membership[aud.ID] = spec.MembershipDays
	d.mu.Unlock()
	return aud, nil
}

func (d *Destination) ensure(ctx context.Context, spec connectors.AudienceSpec) (connectors.Audience, error) {
	found := func(get func(context.Context, string) (customAudience, bool, error)) func(context.Context, string) (connectors.Audience, bool, error) {
		return func(ctx context.Context, key string) (connectors.Audience, bool, error) {
			a, ok, err := get(ctx, key)
			return connectors.Audience{ID: a.ID, Name: a.Name}, ok, err
		}
	}
	l := platformconn.Lookup[connectors.Audience]{
		ByID:   found(d.audienceByID),
		ByName: found(d.audienceByName),
		Create: d.createAudience,
		Words:  d.words(),
	}
	return l.Find(ctx, spec)
}

// audienceByID reads one custom audience; found is false when X does not
// know it or it was deleted.
func (d *Destination) audienceByID(ctx context.Context, id string) (customAudience, bool, error) {
	what := "x: read custom audience " + id
	r, err := d.call(ctx, http.MethodGet, "/custom_audiences/"+url.PathEscape(id), nil, "", nil)
	if err != nil {
		return customAudience{}, false, fmt.Errorf("%s: %w", what, err)
	}
	switch r.Status {
	case http.StatusOK:
		var body struct {
			Data customAudience `json:"data"`
		}
		if err := d.vocab.Decode(r, what, &body); err != nil {
			return customAudience{}, false, err
		}
		return body.Data, body.Data.ID != "" && !body.Data.Deleted, nil
	case http.StatusNotFound:
		return customAudience{}, false, nil
	}
	return customAudience{}, false, d.vocab.Error(r, what, true)
}

// maxListPages bounds paging through an account's custom audiences (at
// 1,000 a page) in case a cursor never ends.
const maxListPages = 1000

// audienceByName pages through the account's custom audiences for one
// named name. Two live audiences of that name are an error: X allows it,
// but which one to sync is the user's call.
func (d *Destination) audienceByName(ctx context.Context, name string) (customAudience, bool, error) {
	const what = "x: list custom audiences"
	var match []customAudience
	cursor := ""
	for range maxListPages {
		q := url.Values{"count": {"1000"}}
		if cursor != "" {
			q.Set("cursor", cursor)
		}
		r, err := d.call(ctx, http.MethodGet, "/custom_audiences", q, "", nil)
		if err != nil {
			return customAudience{}, false, fmt.Errorf("%s: %w", what, err)
		}
		if r.Status != http.StatusOK {
			return customAudience{}, false, d.vocab.Error(r, what, true)
		}
		var page struct {
			Data       []customAudience `json:"data"`
			NextCursor *string          `json:"next_cursor"`
		}
		if err := d.vocab.Decode(r, what, &page); err != nil {
			return customAudience{}, false, err
		}
		for _, a := range page.Data {
			if a.Name == name && !a.Deleted {
				match = append(match, a)
			}
		}
		if page.NextCursor == nil || *page.NextCursor == "" {
			break
		}
		cursor = *page.NextCursor
	}
	switch len(match) {
	case 0:
		return customAudience{}, false, nil
	case 1:
		return match[0], true, nil
	}
	ids := make([]string, len(match))
	for i, a := range match {
		ids[i] = a.ID
	}
	return customAudience{}, false, connectors.Fatal(fmt.Errorf("x: ad account %s has %d custom audiences named %q (%s): give the sync's audience the id of the one to keep in step",
		d.account, len(match), name, strings.Join(ids, ", ")))
}

// createAudience creates a custom audience. Parameters go as a form body,
// which the OAuth signature covers.
func (d *Destination) createAudience(ctx context.Context, spec connectors.AudienceSpec) (connectors.Audience, error) {
	what := fmt.Sprintf("x: create custom audience %q", spec.Name)
	form := url.Values{"name": {spec.Name}}
	if spec.Description != "" {
		form.Set("description", spec.Description)
	}
	r, err := d.call(ctx, http.MethodPost, "/custom_audiences", nil, "application/x-www-form-urlencoded", []byte(form.Encode()))
	if err != nil {
		return connectors.Audience{}, fmt.Errorf("%s: %w", what, err)
	}
	switch {
	case r.Status == http.StatusOK || r.Status == http.StatusCreated:
	case r.Status == http.StatusBadRequest:
		return connectors.Audience{}, connectors.Fatal(fmt.Errorf("%s: X refused it (%s): fix the audience name or description in the sync", what, describe(r, true)))
	default:
		return connectors.Audience{}, d.vocab.Error(r, what, true)
	}
	var body struct {
		Data customAudience `json:"data"`
	}
	if err := d.vocab.Decode(r, what, &body); err != nil {
		return connectors.Audience{}, err
	}
	if body.Data.ID == "" {
		return connectors.Audience{}, fmt.Errorf("%s: X answered without an audience id", what)
	}
	d.rest.Log.Info("created custom audience", zap.String("audience_id", body.Data.ID))
	return connectors.Audience{ID: body.Data.ID, Name: body.Data.Name, Created: true}, nil
}
