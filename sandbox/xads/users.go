package xads

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/audiencesync/audiencesync/sandbox/internal/wire"
)

type operation struct {
	OperationType string    `json:"operation_type"`
	Params        *opParams `json:"params"`
}

type opParams struct {
	EffectiveAt string   `json:"effective_at"`
	ExpiresAt   string   `json:"expires_at"`
	Users       []opUser `json:"users"`
}

type opUser struct {
	Email         []string `json:"email"`
	PhoneNumber   []string `json:"phone_number"`
	Handle        []string `json:"handle"`
	TwitterID     []string `json:"twitter_id"`
	DeviceID      []string `json:"device_id"`
	PartnerUserID []string `json:"partner_user_id"`
}

// parsedOp is a valid operation: whether it adds, and its identifiers.
type parsedOp struct {
	add bool
	ids []string
}

func opError(param, format string, args ...any) []xError {
	return []xError{{Code: "INVALID_PARAMETER", Message: fmt.Sprintf(format, args...), Parameter: param}}
}

func parseTime(v string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339, v)
	return t, err == nil
}

// parseOperation validates one operation object and returns its errors
// (nil when valid).
func parseOperation(raw json.RawMessage) (parsedOp, []xError) {
	var op operation
	if err := wire.DecodeStrict(raw, &op); err != nil {
		return parsedOp{}, opError("", "Invalid operation: %v", err)
	}
	var p parsedOp
	switch op.OperationType {
	case "Update":
		p.add = true
	case "Delete":
	default:
		return p, opError("operation_type", "operation_type must be Update or Delete, got %q", op.OperationType)
	}
	if op.Params == nil || len(op.Params.Users) == 0 {
		return p, opError("params.users", "params.users is required and must not be empty")
	}
	if op.Params.EffectiveAt != "" || op.Params.ExpiresAt != "" {
		if !p.add {
			return p, opError("params", "effective_at and expires_at apply to Update operations only")
		}
		eff, effOK := parseTime(op.Params.EffectiveAt)
		exp, expOK := parseTime(op.Params.ExpiresAt)
		switch {
		case op.Params.EffectiveAt != "" && !effOK:
			return p, opError("params.effective_at", "effective_at must be an ISO 8601 time such as 2026-01-02T15:04:05Z")
		case op.Params.ExpiresAt != "" && !expOK:
			return p, opError("params.expires_at", "expires_at must be an ISO 8601 time such as 2026-01-02T15:04:05Z")
		case effOK && expOK && !exp.After(eff):
			return p, opError("params.expires_at", "expires_at must be after effective_at")
		}
	}
	for i, u := range op.Params.Users {
		hashed := []struct {
			name   string
			values []string
		}{{"email", u.Email}, {"phone_number", u.PhoneNumber}, {"handle", u.Handle}, {"twitter_id", u.TwitterID}, {"device_id", u.DeviceID}}
		n := 0
		for _, h := range hashed {
			for _, v := range h.values {
				if !wire.IsSHA256Hex(v) {
					return p, opError(fmt.Sprintf("params.users[%d].%s", i, h.name),
						"%s values must be SHA-256 hashes in lowercase hex (64 characters); normalise and hash before sending", h.name)
				}
				p.ids = append(p.ids, v)
				n++
			}
		}
		for _, v := range u.PartnerUserID {
			if v == "" {
				return p, opError(fmt.Sprintf("params.users[%d].partner_user_id", i), "partner_user_id values must not be empty")
			}
			p.ids = append(p.ids, "partner_user_id:"+v)
			n++
		}
		if n == 0 {
			return p, opError(fmt.Sprintf("params.users[%d]", i), "a user needs at least one identifier")
		}
	}
	return p, nil
}

// users applies a batch of Update/Delete operations. The batch is atomic:
// if any operation is invalid nothing is applied and operation_errors,
// aligned with the request, says which.
func (s *Server) users(w http.ResponseWriter, _ *http.Request, req *request) *apiError {
	if err := checkParams(req.form); err != nil {
		return err
	}
	if len(req.body) == 0 {
		return invalidParam("", "The request body must be a JSON array of operations.")
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(req.body, &raws); err != nil {
		return invalidParam("", "The request body must be a JSON array of operations.")
	}
	if len(raws) == 0 || len(raws) > MaxOperations {
		return invalidParam("", fmt.Sprintf("A request takes 1 to %d operations; got %d.", MaxOperations, len(raws)))
	}
	ops := make([]parsedOp, len(raws))
	opErrs := make([][]xError, len(raws))
	bad := 0
	for i, raw := range raws {
		op, errs := parseOperation(raw)
		ops[i] = op
		if errs != nil {
			opErrs[i] = errs
			bad++
		} else {
			opErrs[i] = []xError{}
		}
	}
	if bad > 0 {
		return &apiError{status: http.StatusBadRequest,
			errors:   []xError{{Code: "INVALID_PARAMETER", Message: fmt.Sprintf("%d of %d operations are invalid; none was applied", bad, len(raws))}},
			opErrors: opErrs}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	a, aerr := s.lookupLocked(req)
	if aerr != nil {
		return aerr
	}
	for _, op := range ops {
		for _, id := range op.ids {
			if op.add {
				a.members.Add(id)
			} else {
				a.members.Remove(id)
			}
		}
	}
	a.updated = s.opts.Now()
	writeJSON(w, http.StatusOK, map[string]any{
		"data":    map[string]int{"success_count": len(ops), "total_count": len(ops)},
		"request": map[string]any{"params": req.params},
	})
	return nil
}
