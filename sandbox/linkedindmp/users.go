package linkedindmp

import (
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"unicode/utf8"

	"github.com/audiencesync/audiencesync/sandbox/internal/wire"
)

// usersBody is a BATCH_CREATE of segment users.
type usersBody struct {
	Elements []userElement `json:"elements"`
}

// userElement is one user to add or remove. LinkedIn takes a first and
// last name, job title, company and country beside (or, names only,
// instead of) the ids; the replica checks them and matches on ids only.
type userElement struct {
	Action    string   `json:"action"`
	UserIDs   []userID `json:"userIds"`
	FirstName *string  `json:"firstName"`
	LastName  *string  `json:"lastName"`
	Title     *string  `json:"title"`
	Company   *string  `json:"company"`
	Country   *string  `json:"country"`
}

type userID struct {
	IDType  string `json:"idType"`
	IDValue string `json:"idValue"`
}

// elementAnswer is one element's outcome: {"status": 201}, or the status
// and an error in LinkedIn's shape. LinkedIn does not document the shape
// of a failed element; the status is what a client should read first.
type elementAnswer struct {
	Status int       `json:"status"`
	Error  *apiError `json:"error,omitempty"`
}

var (
	gaidPattern   = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	sha512Pattern = regexp.MustCompile(`^[0-9a-f]{128}$`)
)

func elementError(i int, format string, args ...any) elementAnswer {
	msg := fmt.Sprintf("elements[%d]: ", i) + fmt.Sprintf(format, args...)
	return elementAnswer{Status: http.StatusBadRequest, Error: &apiError{Status: http.StatusBadRequest, ServiceErrorCode: 100, Code: "INVALID_VALUE", Message: msg}}
}

// checkElement validates one element and returns its stored identifiers.
func checkElement(i int, e *userElement) ([]string, *elementAnswer) {
	if e.Action != "ADD" && e.Action != "REMOVE" {
		a := elementError(i, "action must be ADD or REMOVE, got %q", e.Action)
		return nil, &a
	}
	for _, f := range []struct {
		name string
		v    *string
		max  int
	}{{"firstName", e.FirstName, 35}, {"lastName", e.LastName, 35}, {"title", e.Title, 50}, {"company", e.Company, 50}, {"country", e.Country, 2}} {
		if f.v != nil && (*f.v == "" || utf8.RuneCountInString(*f.v) > f.max) {
			a := elementError(i, "%s must be 1 to %d characters", f.name, f.max)
			return nil, &a
		}
	}
	if len(e.UserIDs) == 0 {
		if e.FirstName != nil && e.LastName != nil {
			return nil, nil // matched by name, which the replica does not do
		}
		a := elementError(i, "userIds is required, or firstName and lastName")
		return nil, &a
	}
	ids := make([]string, 0, len(e.UserIDs))
	for j, u := range e.UserIDs {
		var bad string
		switch u.IDType {
		case "SHA256_EMAIL":
			if !wire.IsSHA256Hex(u.IDValue) {
				bad = "a SHA256_EMAIL idValue is a SHA-256 hash in lowercase hex (64 characters); normalise and hash the address before sending"
			}
			ids = append(ids, u.IDValue)
		case "SHA512_EMAIL":
			if !sha512Pattern.MatchString(u.IDValue) {
				bad = "a SHA512_EMAIL idValue is a SHA-512 hash in lowercase hex (128 characters)"
			}
			ids = append(ids, u.IDValue)
		case "GOOGLE_AID":
			if !gaidPattern.MatchString(u.IDValue) {
				bad = "a GOOGLE_AID idValue is an Android advertising id in lowercase with hyphens"
			}
			ids = append(ids, "GOOGLE_AID:"+u.IDValue)
		default:
			bad = fmt.Sprintf("idType %q is not one this replica takes (SHA256_EMAIL, SHA512_EMAIL, GOOGLE_AID)", u.IDType)
		}
		if bad != "" {
			a := elementError(i, "userIds[%d]: %s", j, bad)
			return nil, &a
		}
	}
	return ids, nil
}

// users applies a batch: each valid element is applied and answered 201
// (adding a present user or removing an absent one included); each
// invalid one is answered with its error and changes nothing.
func (s *Server) users(w http.ResponseWriter, _ *http.Request, req *request) *apiError {
	var b usersBody
	if err := wire.DecodeStrict(req.body, &b); err != nil {
		return newError(http.StatusBadRequest, 100, "ILLEGAL_ARGUMENT", "Invalid batch: "+err.Error())
	}
	if len(b.Elements) == 0 || len(b.Elements) > MaxElements {
		return newError(http.StatusBadRequest, 100, "ILLEGAL_ARGUMENT", fmt.Sprintf("a batch takes 1 to %d elements; got %d", MaxElements, len(b.Elements)))
	}
	answers := make([]elementAnswer, len(b.Elements))
	idsOf := make([][]string, len(b.Elements))
	for i := range b.Elements {
		ids, bad := checkElement(i, &b.Elements[i])
		if bad != nil {
			answers[i] = *bad
			continue
		}
		answers[i], idsOf[i] = elementAnswer{Status: http.StatusCreated}, ids
	}
	return s.withSegment(req, func(sg *segment) *apiError {
		if !slices.Contains(userTypes, sg.kind) {
			return newError(http.StatusBadRequest, 100, "ILLEGAL_ARGUMENT", "DMP segment "+sg.ID+" is a company segment: add users to a user segment")
		}
		for i, ids := range idsOf {
			if b.Elements[i].Action == "ADD" {
				// One element is one person, known by its first id.
				sg.Members.AddRow(ids)
				continue
			}
			for _, id := range ids {
				sg.Members.Remove(id)
			}
		}
		sg.counted = false
		sg.Updated = s.opts.Now()
		writeJSON(w, http.StatusOK, map[string]any{"elements": answers})
		return nil
	})
}
