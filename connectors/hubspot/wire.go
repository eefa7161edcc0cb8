package hubspot

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// The HubSpot answers the source reads, decoded leniently where HubSpot's
// documentation is loose (ids as strings or numbers, sizes in two places,
// every error field optional) and strictly where a wrong reading would
// lose members (a page's next cursor, a batch's missing ids).

// flexString is a JSON string, number or boolean read as a string, and
// null as "": HubSpot documents ids and property values as strings, and
// an independent implementation may send numbers.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	switch {
	case len(b) == 0:
		return errors.New("empty value")
	case b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = flexString(s)
	case bytes.Equal(b, []byte("null")):
		*f = ""
	case bytes.Equal(b, []byte("true")), bytes.Equal(b, []byte("false")):
		*f = flexString(b)
	case b[0] == '-' || (b[0] >= '0' && b[0] <= '9'):
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return err
		}
		*f = flexString(n.String())
	default:
		return fmt.Errorf("want a string, number, boolean or null, got %.20s", b)
	}
	return nil
}

// list is the part of a Lists v3 list the source uses.
type list struct {
	ListID           flexString `json:"listId"`
	LegacyListID     flexString `json:"legacyListId"`
	Name             string     `json:"name"`
	ObjectTypeID     string     `json:"objectTypeId"`
	ProcessingType   string     `json:"processingType"`
	ProcessingStatus string     `json:"processingStatus"`
	// Size is on a fetched list; a search answer carries it among the
	// additional properties as hs_list_size.
	Size                 *flexString           `json:"size"`
	AdditionalProperties map[string]flexString `json:"additionalProperties"`
}

// size is the list's member count, or -1 when the answer gives none.
func (l *list) size() int64 {
	v := ""
	if l.Size != nil {
		v = string(*l.Size)
	}
	if v == "" {
		v = string(l.AdditionalProperties["hs_list_size"])
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// decodeList reads GET /crm/v3/lists/{id} and the by-name lookup:
// {"list":{…}}, or the list itself.
func decodeList(data []byte) (list, error) {
	var wrapped struct {
		List *list `json:"list"`
	}
	if err := json.Unmarshal(data, &wrapped); err != nil {
		return list{}, fmt.Errorf("decode list: %w", err)
	}
	l := wrapped.List
	if l == nil {
		l = new(list)
		if err := json.Unmarshal(data, l); err != nil {
			return list{}, fmt.Errorf("decode list: %w", err)
		}
	}
	if l.ListID == "" {
		return list{}, errors.New("decode list: the answer has no listId")
	}
	return *l, nil
}

// searchPage is POST /crm/v3/lists/search.
type searchPage struct {
	Lists   []list `json:"lists"`
	HasMore bool   `json:"hasMore"`
	Offset  int64  `json:"offset"`
	Total   int64  `json:"total"`
}

func decodeSearch(data []byte) (searchPage, error) { return decodeAs[searchPage](data, "list search") }

// decodeAs reads data, the answer to what, as a T.
func decodeAs[T any](data []byte, what string) (T, error) {
	var v T
	if err := json.Unmarshal(data, &v); err != nil {
		var zero T
		return zero, fmt.Errorf("decode %s: %w", what, err)
	}
	return v, nil
}

// idMapping is GET /crm/v3/lists/idmapping?legacyListId=N.
type idMapping struct {
	LegacyListID flexString `json:"legacyListId"`
	ListID       flexString `json:"listId"`
}

func decodeIDMapping(data []byte) (idMapping, error) {
	m, err := decodeAs[idMapping](data, "id mapping")
	if err != nil {
		return idMapping{}, err
	}
	if m.ListID == "" {
		return idMapping{}, errors.New("decode id mapping: the answer has no listId")
	}
	return m, nil
}

// membershipPage is GET /crm/v3/lists/{id}/memberships.
type membershipPage struct {
	Results []struct {
		RecordID flexString `json:"recordId"`
	} `json:"results"`
	Paging struct {
		Next *struct {
			After flexString `json:"after"`
		} `json:"next"`
	} `json:"paging"`
	Total *int64 `json:"total"`
}

// memberships is one decoded page: the record ids in order, the cursor of
// the next page ("" on the last) and the total when given (-1 if not).
type memberships struct {
	ids   []string
	after string
	total int64
}

func decodeMemberships(data []byte) (memberships, error) {
	p, err := decodeAs[membershipPage](data, "memberships")
	if err != nil {
		return memberships{}, err
	}
	out := memberships{ids: make([]string, 0, len(p.Results)), total: -1}
	for i, r := range p.Results {
		if r.RecordID == "" {
			return memberships{}, fmt.Errorf("decode memberships: result %d has no recordId", i)
		}
		out.ids = append(out.ids, string(r.RecordID))
	}
	if p.Paging.Next != nil {
		if p.Paging.Next.After == "" {
			// A next page without a cursor cannot be fetched: stopping
			// here would read a short list as if it were whole.
			return memberships{}, errors.New("decode memberships: paging.next has no after cursor")
		}
		out.after = string(p.Paging.Next.After)
	}
	if p.Total != nil {
		out.total = *p.Total
	}
	return out, nil
}

// contact is one result of a batch read.
type contact struct {
	ID         flexString            `json:"id"`
	Properties map[string]flexString `json:"properties"`
}

// batchError is one entry of a batch answer's errors.
type batchError struct {
	Status   string              `json:"status"`
	Category string              `json:"category"`
	Message  string              `json:"message"`
	Context  map[string][]string `json:"context"`
}

// batchRead is POST /crm/v3/objects/contacts/batch/read: 200 when every
// id was found, 207 with OBJECT_NOT_FOUND errors naming those that were
// not (deleted since their list membership was read).
type batchRead struct {
	Status  string       `json:"status"`
	Results []contact    `json:"results"`
	Errors  []batchError `json:"errors"`
}

// decodeBatch reads a batch answer into the contacts found and the ids
// reported missing. Any other per-item error fails: it would drop members
// for a reason that is not theirs.
func decodeBatch(data []byte) (found []contact, missing []string, err error) {
	b, err := decodeAs[batchRead](data, "batch read")
	if err != nil {
		return nil, nil, err
	}
	for i, c := range b.Results {
		if c.ID == "" {
			return nil, nil, fmt.Errorf("decode batch read: result %d has no id", i)
		}
	}
	for _, e := range b.Errors {
		if e.Category != "OBJECT_NOT_FOUND" {
			msg := e.Message
			if msg == "" {
				msg = "no message"
			}
			return nil, nil, fmt.Errorf("batch read: HubSpot reported %s: %s", orUnknown(e.Category), msg)
		}
		missing = append(missing, e.Context["ids"]...)
	}
	return b.Results, missing, nil
}

// apiError is HubSpot's error body; every field is optional.
type apiError struct {
	Status        string `json:"status"`
	Message       string `json:"message"`
	Category      string `json:"category"`
	ErrorType     string `json:"errorType"`
	PolicyName    string `json:"policyName"`
	CorrelationID string `json:"correlationId"`
}

// decodeError reads an error body; a body that is not one gives the zero
// apiError.
func decodeError(data []byte) apiError {
	var e apiError
	_ = json.Unmarshal(data, &e)
	return e
}

func orUnknown(s string) string {
	if s == "" {
		return "an error"
	}
	return s
}
