package meta

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	fb "github.com/huandu/facebook/v2"
	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
)

// listPage is how many audiences one list call asks for.
const listPage = 500

var audienceIDPattern = regexp.MustCompile(`^[0-9]{1,20}$`)

// Ensure finds the audience by id (the configured one, then the one state
// recorded, so a renamed audience is still found), then by name in the ad
// account, and creates it when spec.Create allows.
func (d *Destination) Ensure(ctx context.Context, spec connectors.AudienceSpec) (connectors.Audience, error) {
	g, err := d.graph(ctx)
	if err != nil {
		return connectors.Audience{}, err
	}
	l := platformconn.Lookup[connectors.Audience]{
		ByID: func(ctx context.Context, id string) (connectors.Audience, bool, error) {
			return d.readAudience(ctx, g, id)
		},
		ByName: func(ctx context.Context, name string) (connectors.Audience, bool, error) {
			return d.findByName(ctx, g, name)
		},
		Create: func(ctx context.Context, spec connectors.AudienceSpec) (connectors.Audience, error) {
			return d.create(ctx, g, spec)
		},
		NoSuchID: func(id string) error {
			return fmt.Errorf("audience id %s is not a custom audience of ad account act_%s that this token can reach: "+
				"check audience.id (Ads Manager → Audiences shows the id), or leave it out to find the audience by name", id, d.settings.AdAccount)
		},
		Unnamed: errors.New("the audience has neither an id nor a name: set audience.name or audience.id"),
		NoSuchName: func(name string) error {
			return fmt.Errorf("ad account act_%s has no custom audience named %q and creating it is not allowed: "+
				"create it in Ads Manager, set audience.id, or allow creation in the sync", d.settings.AdAccount, name)
		},
		Gone: func(id string) {
			d.log.Warn("the audience recorded in state is gone; looking it up by name", zap.String("audience_id", id))
		},
	}
	return l.Find(ctx, spec)
}

// readAudience reads audience id; found is false when it does not exist
// or belongs to another ad account.
func (d *Destination) readAudience(ctx context.Context, g *graph, id string) (connectors.Audience, bool, error) {
	if !audienceIDPattern.MatchString(id) {
		return connectors.Audience{}, false, connectors.Fatal(fmt.Errorf("audience id %q is not a Meta audience id: Meta ids are digits", id))
	}
	res, _, err := g.call(ctx, fb.GET, id, fb.Params{"fields": "id,name,account_id"})
	if err != nil {
		var ge *graphError
		if errors.As(err, &ge) && ge.Code == codeInvalidParam && ge.Subcode == subcodeNoSuchObject {
			return connectors.Audience{}, false, nil
		}
		return connectors.Audience{}, false, d.classify("read audience "+id, err, connectors.Fatal)
	}
	if acct := text(res["account_id"]); acct != "" && acct != d.settings.AdAccount {
		d.log.Warn("audience belongs to another ad account", zap.String("audience_id", id), zap.String("account", "act_"+acct))
		return connectors.Audience{}, false, nil
	}
	return connectors.Audience{ID: text(res["id"]), Name: text(res["name"])}, true, nil
}

// findByName pages through the ad account's audiences for spec's name. Two
// audiences of that name are an error: uploading to the wrong one is worse
// than stopping.
func (d *Destination) findByName(ctx context.Context, g *graph, name string) (connectors.Audience, bool, error) {
	path := "act_" + d.settings.AdAccount + "/customaudiences"
	var matches []connectors.Audience
	after := ""
	for {
		params := fb.Params{"fields": "id,name", "limit": listPage}
		if after != "" {
			params["after"] = after
		}
		res, _, err := g.call(ctx, fb.GET, path, params)
		if err != nil {
			return connectors.Audience{}, false, d.classify("list the audiences of ad account act_"+d.settings.AdAccount, err, connectors.Fatal)
		}
		var page struct {
			Data []struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"data"`
			Paging struct {
				Cursors struct {
					After string `json:"after"`
				} `json:"cursors"`
				Next string `json:"next"`
			} `json:"paging"`
		}
		if err := res.Decode(&page); err != nil {
			return connectors.Audience{}, false, fmt.Errorf("list the audiences of ad account act_%s: unexpected answer: %w", d.settings.AdAccount, err)
		}
		for _, a := range page.Data {
			if a.Name == name {
				matches = append(matches, connectors.Audience{ID: a.ID, Name: a.Name})
			}
		}
		if page.Paging.Next == "" || page.Paging.Cursors.After == "" || len(page.Data) == 0 {
			break
		}
		after = page.Paging.Cursors.After
	}
	switch len(matches) {
	case 0:
		return connectors.Audience{}, false, nil
	case 1:
		return matches[0], true, nil
	}
	ids := make([]string, len(matches))
	for i, m := range matches {
		ids[i] = m.ID
	}
	return connectors.Audience{}, false, connectors.Fatal(fmt.Errorf("ad account act_%s has %d custom audiences named %q (ids %s): "+
		"set audience.id to the one to sync", d.settings.AdAccount, len(matches), name, strings.Join(ids, ", ")))
}

// create makes a customer-file custom audience.
func (d *Destination) create(ctx context.Context, g *graph, spec connectors.AudienceSpec) (connectors.Audience, error) {
	params := fb.Params{
		"name":                 spec.Name,
		"subtype":              "CUSTOM",
		"customer_file_source": d.settings.CustomerFileSource,
	}
	if spec.Description != "" {
		params["description"] = spec.Description
	}
	res, _, err := g.call(ctx, fb.POST, "act_"+d.settings.AdAccount+"/customaudiences", params)
	if err != nil {
		return connectors.Audience{}, d.classify(fmt.Sprintf("create audience %q in ad account act_%s", spec.Name, d.settings.AdAccount), err, connectors.Fatal)
	}
	id := text(res["id"])
	if id == "" {
		return connectors.Audience{}, fmt.Errorf("create audience %q: Meta answered without an id", spec.Name)
	}
	return connectors.Audience{ID: id, Name: spec.Name, Created: true}, nil
}
