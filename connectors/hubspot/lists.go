package hubspot

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/audiencesync/audiencesync/connectors"
)

// contactsObjectType is HubSpot's object type id of contacts.
const contactsObjectType = "0-1"

// refKind says how source.audience names a list.
type refKind uint8

const (
	byName refKind = iota + 1
	byID
	byLegacyID
)

// listRef is a parsed source.audience.
type listRef struct {
	kind  refKind
	value string
}

func (r listRef) String() string {
	switch r.kind {
	case byID:
		return "list id " + r.value
	case byLegacyID:
		return "legacy list id " + r.value
	}
	return fmt.Sprintf("list %q", r.value)
}

// parseRef reads source.audience: a list name, name:NAME, id:N or
// legacy:N. A bare number is refused: HubSpot's v3 and legacy numberings
// overlap, and a list may be named with digits.
func parseRef(s string) (listRef, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return listRef{}, errors.New("source.audience is empty: name the HubSpot list (audience: Newsletter subscribers) or give its id (audience: id:123)")
	}
	if prefix, rest, ok := connectors.CutAudience(s); ok {
		switch prefix {
		case "name":
			if rest == "" {
				return listRef{}, errors.New("source.audience name: needs a list name after it")
			}
			return listRef{byName, rest}, nil
		case "id", "legacy":
			if !digits(rest) {
				return listRef{}, fmt.Errorf("source.audience %q: a list id is a number, such as %s:123", s, prefix)
			}
			if prefix == "id" {
				return listRef{byID, rest}, nil
			}
			return listRef{byLegacyID, rest}, nil
		}
	}
	if digits(s) {
		return listRef{}, fmt.Errorf("source.audience %q is ambiguous: write id:%s for the list's v3 id (the number in the list's URL in HubSpot), legacy:%s for an old v1 list id, or name:%s for a list named so", s, s, s, s)
	}
	return listRef{byName, s}, nil
}

func digits(s string) bool {
	if s == "" || len(s) > 19 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// notFoundAdvice is what to do about a list that is not there.
const notFoundAdvice = "check source.audience (`audiencesync sources --connection NAME` lists the lists with their ids)"

// resolve finds the list ref names.
func (c *client) resolve(ctx context.Context, ref listRef) (list, error) {
	switch ref.kind {
	case byID:
		return c.listByID(ctx, ref.value)
	case byLegacyID:
		what := "translate HubSpot legacy list id " + ref.value
		a, err := c.call(ctx, http.MethodGet, "/crm/v3/lists/idmapping", url.Values{"legacyListId": {ref.value}}, nil)
		if err != nil {
			return list{}, fmt.Errorf("%s: %w", what, err)
		}
		if a.status != http.StatusOK {
			return list{}, failure(what, a, "HubSpot knows no list with legacy id "+ref.value+": "+notFoundAdvice)
		}
		m, err := decodeIDMapping(a.body)
		if err != nil {
			return list{}, fmt.Errorf("%s: %w", what, err)
		}
		return c.listByID(ctx, string(m.ListID))
	}
	what := fmt.Sprintf("find HubSpot list %q", ref.value)
	a, err := c.call(ctx, http.MethodGet, "/crm/v3/lists/object-type-id/"+contactsObjectType+"/name/"+url.PathEscape(ref.value), nil, nil)
	if err != nil {
		return list{}, fmt.Errorf("%s: %w", what, err)
	}
	if a.status != http.StatusOK {
		return list{}, failure(what, a, "HubSpot has no contact list of that name (names match ignoring case): "+notFoundAdvice)
	}
	l, err := decodeList(a.body)
	if err != nil {
		return list{}, fmt.Errorf("%s: %w", what, err)
	}
	return l, nil
}

// openList parses source.audience, opens one operation's client and finds
// the contact list it names; the caller closes the client.
func (s *Source) openList(ctx context.Context, audience string) (*client, listRef, list, error) {
	ref, err := parseRef(audience)
	if err != nil {
		return nil, ref, list{}, fmt.Errorf("hubspot: %w", err)
	}
	c, err := s.open(ctx)
	if err != nil {
		return nil, ref, list{}, err
	}
	l, err := c.contactList(ctx, ref)
	if err != nil {
		c.close()
		return nil, ref, list{}, err
	}
	return c, ref, l, nil
}

// contactList finds the list ref names and checks that it holds contacts.
func (c *client) contactList(ctx context.Context, ref listRef) (list, error) {
	l, err := c.resolve(ctx, ref)
	if err != nil {
		return list{}, fmt.Errorf("hubspot: %w", err)
	}
	if l.ObjectTypeID != "" && l.ObjectTypeID != contactsObjectType {
		return list{}, fmt.Errorf("hubspot: %s (id %s) holds objects of type %s, not contacts: choose a contact list", ref, l.ListID, l.ObjectTypeID)
	}
	return l, nil
}

func (c *client) listByID(ctx context.Context, id string) (list, error) {
	what := "read HubSpot list " + id
	a, err := c.call(ctx, http.MethodGet, "/crm/v3/lists/"+url.PathEscape(id), nil, nil)
	if err != nil {
		return list{}, fmt.Errorf("%s: %w", what, err)
	}
	if a.status != http.StatusOK {
		return list{}, failure(what, a, "HubSpot has no list with id "+id+" (it may have been deleted; a v1 id is written legacy:N): "+notFoundAdvice)
	}
	l, err := decodeList(a.body)
	if err != nil {
		return list{}, fmt.Errorf("%s: %w", what, err)
	}
	return l, nil
}

// searchCount is how many lists one search page asks for.
const searchCount = 100

// ListAudiences lists the account's contact lists with their sizes and
// ids (POST /crm/v3/lists/search, paged by offset).
func (s *Source) ListAudiences(ctx context.Context) ([]connectors.AudienceInfo, error) {
	c, err := s.open(ctx)
	if err != nil {
		return nil, err
	}
	defer c.close()
	var out []connectors.AudienceInfo
	for offset := int64(0); ; {
		page, err := c.search(ctx, offset, searchCount)
		if err != nil {
			return nil, err
		}
		for _, l := range page.Lists {
			if l.ObjectTypeID != "" && l.ObjectTypeID != contactsObjectType {
				continue
			}
			out = append(out, connectors.AudienceInfo{ID: string(l.ListID), Ref: "id:" + string(l.ListID),
				Name: l.Name, Kind: l.ProcessingType, Size: l.size()})
		}
		// An offset that does not move would page forever.
		if !page.HasMore || len(page.Lists) == 0 || page.Offset <= offset {
			return out, nil
		}
		offset = page.Offset
	}
}

// search reads one page of the account's contact lists.
func (c *client) search(ctx context.Context, offset int64, count int) (searchPage, error) {
	const what = "list HubSpot lists"
	body := map[string]any{"query": "", "offset": offset, "count": count, "objectTypeId": contactsObjectType,
		"additionalProperties": []string{"hs_list_size"}}
	a, err := c.call(ctx, http.MethodPost, "/crm/v3/lists/search", nil, body)
	if err != nil {
		return searchPage{}, fmt.Errorf("%s: %w", what, err)
	}
	if a.status != http.StatusOK {
		return searchPage{}, failure(what, a, "")
	}
	p, err := decodeSearch(a.body)
	if err != nil {
		return searchPage{}, fmt.Errorf("%s: %w", what, err)
	}
	return p, nil
}

// CheckAudience finds the list a sync's source.audience names and says
// what it is; it changes nothing.
func (s *Source) CheckAudience(ctx context.Context, audience string) (string, error) {
	c, ref, l, err := s.openList(ctx, audience)
	if err != nil {
		return "", err
	}
	defer c.close()
	size := "size unknown"
	if n := l.size(); n >= 0 {
		size = fmt.Sprintf("%d members", n)
	}
	return fmt.Sprintf("%s: %s list id:%s, %s", ref, l.ProcessingType, l.ListID, size), nil
}

// Check verifies the credentials and the lists scope by searching for one
// list; it changes nothing.
func (s *Source) Check(ctx context.Context) error {
	c, err := s.open(ctx)
	if err != nil {
		return err
	}
	defer c.close()
	_, err = c.search(ctx, 0, 1)
	return err
}
