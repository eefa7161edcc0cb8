package googleads

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"go.uber.org/zap"
	datamanager "google.golang.org/api/datamanager/v1"

	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
)

const contactID = "CONTACT_ID"

// Ensure finds the Customer Match user list by id (the configured one, or
// the one state recorded, so a renamed list is still found) or by display
// name, and creates it when spec.Create allows.
func (d *Destination) Ensure(ctx context.Context, spec connectors.AudienceSpec) (connectors.Audience, error) {
	if spec.MembershipDays < 0 || spec.MembershipDays > MaxMembershipDays {
		return connectors.Audience{}, connectors.Fatal(fmt.Errorf("google_ads: membership_days %d: Google keeps members at most %d days; set 1 to %d", spec.MembershipDays, MaxMembershipDays, MaxMembershipDays))
	}
	// A list found is checked before it is used (found).
	check := func(get func(context.Context, string) (*datamanager.UserList, error)) func(context.Context, string) (connectors.Audience, bool, error) {
		return func(ctx context.Context, key string) (connectors.Audience, bool, error) {
			l, err := get(ctx, key)
			if err != nil || l == nil {
				return connectors.Audience{}, false, err
			}
			aud, err := d.found(l)
			return aud, true, err
		}
	}
	l := platformconn.Lookup[connectors.Audience]{
		ByID:   check(d.getList),
		ByName: check(d.findList),
		Create: d.createList,
		NoSuchID: func(id string) error {
			return fmt.Errorf("google_ads: user list %s not found in account %s: check audience.id, or remove it to find the list by name", id, d.account)
		},
		Unnamed: errors.New("google_ads: the audience needs a name or an id"),
		NoSuchName: func(name string) error {
			return fmt.Errorf("google_ads: no Customer Match user list named %q in account %s: create it in Google Ads, set audience.id, or allow audiencesync to create it (audience.create: true)", name, d.account)
		},
		Gone: func(id string) {
			d.log.Warn("the user list recorded in state is gone; looking it up by name", zap.String("list_id", id))
		},
	}
	return l.Find(ctx, spec)
}

// found checks that l is a list audiencesync can upload contacts to.
func (d *Destination) found(l *datamanager.UserList) (connectors.Audience, error) {
	id := strconv.FormatInt(l.Id, 10)
	if l.IngestedUserListInfo == nil || !slices.Contains(l.IngestedUserListInfo.UploadKeyTypes, contactID) {
		var keys []string
		if l.IngestedUserListInfo != nil {
			keys = l.IngestedUserListInfo.UploadKeyTypes
		}
		return connectors.Audience{}, connectors.Fatal(fmt.Errorf("google_ads: user list %s (%q) takes %v, not contact data (CONTACT_ID): point the sync at a Customer Match list of e-mail addresses, phones and addresses", id, l.DisplayName, keys))
	}
	if l.ReadOnly || l.MembershipStatus == "CLOSED" {
		return connectors.Audience{}, connectors.Fatal(fmt.Errorf("google_ads: user list %s (%q) is read-only or closed: open it in Google Ads or use another list", id, l.DisplayName))
	}
	return connectors.Audience{ID: id, Name: l.DisplayName}, nil
}

// getList fetches a list by id; nil when it does not exist.
func (d *Destination) getList(ctx context.Context, id string) (*datamanager.UserList, error) {
	if _, err := strconv.ParseInt(id, 10, 64); err != nil {
		return nil, connectors.Fatal(fmt.Errorf("google_ads: %q is not a user list id (digits only)", id))
	}
	var l *datamanager.UserList
	err := d.call(ctx, "get user list", nil, func(api *datamanager.Service) error {
		c := api.AccountTypes.Accounts.UserLists.Get(d.parent() + "/userLists/" + id).Context(ctx)
		d.loginHeader(c.Header())
		var err error
		l, err = c.Do()
		return err
	})
	var ae *APIError
	if errors.As(err, &ae) && ae.HTTPStatus == 404 {
		return nil, nil
	}
	if err != nil {
		return nil, d.listError(err)
	}
	return l, nil
}

// findList looks a list up by display name; nil when none has it. It asks
// Google to filter by name and, when the filter is refused (an account or
// API version that does not take it), lists every list and matches here.
func (d *Destination) findList(ctx context.Context, name string) (*datamanager.UserList, error) {
	filter := `display_name = "` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(name) + `"`
	found, err := d.scanLists(ctx, name, filter)
	var ae *APIError
	if errors.As(err, &ae) && ae.HTTPStatus == http.StatusBadRequest {
		d.log.Info("the user list filter was refused: listing every list to find it by name", zap.String("status", ae.Status))
		found, err = d.scanLists(ctx, name, "")
	}
	if err != nil {
		return nil, d.listError(err)
	}
	return found, nil
}

// scanLists pages through the lists (those filter selects, or all) and
// returns the first whose display name is name.
func (d *Destination) scanLists(ctx context.Context, name, filter string) (*datamanager.UserList, error) {
	var found *datamanager.UserList
	err := d.call(ctx, "find user list", nil, func(api *datamanager.Service) error {
		found = nil
		c := api.AccountTypes.Accounts.UserLists.List(d.parent()).PageSize(100)
		if filter != "" {
			c = c.Filter(filter)
		}
		d.loginHeader(c.Header())
		return c.Pages(ctx, func(page *datamanager.ListUserListsResponse) error {
			for _, l := range page.UserLists {
				// The filter should have done this; checking costs nothing.
				if l.DisplayName == name && found == nil {
					found = l
				}
			}
			return nil
		})
	})
	return found, err
}

func (d *Destination) createList(ctx context.Context, spec connectors.AudienceSpec) (connectors.Audience, error) {
	days := spec.MembershipDays
	if days == 0 {
		days = MaxMembershipDays
	}
	in := &datamanager.UserList{
		DisplayName:        spec.Name,
		Description:        spec.Description,
		MembershipDuration: strconv.Itoa(days*24*3600) + "s",
		IngestedUserListInfo: &datamanager.IngestedUserListInfo{
			UploadKeyTypes: []string{contactID},
			ContactIdInfo:  &datamanager.ContactIdInfo{DataSourceType: "DATA_SOURCE_TYPE_FIRST_PARTY"},
		},
	}
	var l *datamanager.UserList
	err := d.call(ctx, "create user list", nil, func(api *datamanager.Service) error {
		c := api.AccountTypes.Accounts.UserLists.Create(d.parent(), in).Context(ctx)
		d.loginHeader(c.Header())
		var err error
		l, err = c.Do()
		return err
	})
	var ae *APIError
	if errors.As(err, &ae) && ae.Reason == "NAME_ALREADY_USED" {
		// Created meanwhile (another run, a person): use that one.
		if l, ferr := d.findList(ctx, spec.Name); ferr == nil && l != nil {
			return d.found(l)
		}
	}
	if err != nil {
		return connectors.Audience{}, d.listError(err)
	}
	a, err := d.found(l)
	a.Created = true
	return a, err
}

var _ connectors.AudienceSizer = (*Destination)(nil)

// AudienceSize reads the list's sizeInfo: Google's estimate of its
// members on the Display and Search networks, of which the larger is
// taken. A list without sizeInfo has no estimate yet.
func (d *Destination) AudienceSize(ctx context.Context, aud connectors.Audience) (connectors.AudienceSize, error) {
	byID := func(ctx context.Context, id string) (*datamanager.UserList, bool, error) {
		l, err := d.getList(ctx, id)
		return l, l != nil, err
	}
	words := platformconn.Words{Type: Type, Noun: "user list", Account: "account " + d.account}
	return platformconn.Size(ctx, words, aud.ID, byID, func(l *datamanager.UserList) connectors.AudienceSize {
		if l.SizeInfo == nil {
			return connectors.AudienceSize{}
		}
		n := max(l.SizeInfo.DisplayNetworkMembersCount, l.SizeInfo.SearchNetworkMembersCount)
		return connectors.AudienceSize{Known: true, Members: n, Approximate: true}
	})
}

// listError makes a refused user list call stop the destination: unlike a
// refused batch, nothing later in the run can succeed without the list.
func (d *Destination) listError(err error) error {
	var br *connectors.BatchRejectedError
	if errors.As(err, &br) {
		return connectors.Fatal(err)
	}
	return err
}
