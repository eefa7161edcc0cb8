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

// parsedOp is a valid operation: whether it adds, and its identifiers;
// ends cut them into its user objects, one person each.
type parsedOp struct {
	add  bool
	ids  []string
	ends []int
}

func opError(param, format string, args ...any) []xError {
	return []xError{{Code: "INVALID_PARAMETER", Message: fmt.Sprintf(format, args...), Parameter: param}}
}

func parseTime(v string) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339, v)
	return t, err == nil
}

// parseOperation decodes and validates one operation object and returns
// its errors (nil when valid).
func parseOperation(raw json.RawMessage) (parsedOp, []xError) {
	var op operation
	if err := wire.DecodeStrict(raw, &op); err != nil {
		return parsedOp{}, opError("", "Invalid operation: %v", err)
	}
	return checkOperation(&op)
}

// checkOperation validates a decoded operation.
func checkOperation(op *operation) (parsedOp, []xError) {
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
		p.ends = append(p.ends, len(p.ids))
	}
	return p, nil
}

// parseOperations reads a users body: the operations, and per operation
// its errors ([] when valid). A body that decodes strictly as a whole is
// decoded once; otherwise each operation is decoded on its own, so each
// malformed one is named.
func parseOperations(body []byte) ([]parsedOp, [][]xError, *apiError) {
	var whole []operation
	if wire.DecodeStrict(body, &whole) == nil && whole != nil {
		if aerr := checkCount(len(whole)); aerr != nil {
			return nil, nil, aerr
		}
		ops := make([]parsedOp, len(whole))
		opErrs := make([][]xError, len(whole))
		for i := range whole {
			ops[i], opErrs[i] = checkOperation(&whole[i])
			if opErrs[i] == nil {
				opErrs[i] = []xError{}
			}
		}
		return ops, opErrs, nil
	}
	var raws []json.RawMessage
	if err := json.Unmarshal(body, &raws); err != nil {
		return nil, nil, invalidParam("", "The request body must be a JSON array of operations.")
	}
	if aerr := checkCount(len(raws)); aerr != nil {
		return nil, nil, aerr
	}
	ops := make([]parsedOp, len(raws))
	opErrs := make([][]xError, len(raws))
	for i, raw := range raws {
		ops[i], opErrs[i] = parseOperation(raw)
		if opErrs[i] == nil {
			opErrs[i] = []xError{}
		}
	}
	return ops, opErrs, nil
}

func checkCount(n int) *apiError {
	if n == 0 || n > MaxOperations {
		return invalidParam("", fmt.Sprintf("A request takes 1 to %d operations; got %d.", MaxOperations, n))
	}
	return nil
}

// users applies a batch of Update/Delete operations. The batch is atomic:
// if any operation is invalid nothing is applied and operation_errors,
// aligned with the request, says which.
func (s *Server) users(w http.ResponseWriter, _ *http.Request, req *request) *apiError {
	if err := req.onlyParams(); err != nil {
		return err
	}
	if len(req.body) == 0 {
		return invalidParam("", "The request body must be a JSON array of operations.")
	}
	ops, opErrs, aerr := parseOperations(req.body)
	if aerr != nil {
		return aerr
	}
	bad := 0
	for _, e := range opErrs {
		if len(e) > 0 {
			bad++
		}
	}
	if bad > 0 {
		return &apiError{status: http.StatusBadRequest,
			errors:   []xError{{Code: "INVALID_PARAMETER", Message: fmt.Sprintf("%d of %d operations are invalid; none was applied", bad, len(ops))}},
			opErrors: opErrs}
	}
	return s.withAudience(req, func(a *audience) *apiError {
		for _, op := range ops {
			wire.ApplyRows(&a.Members, op.ids, op.ends, op.add)
		}
		a.Updated = s.opts.Now()
		writeJSON(w, http.StatusOK, map[string]any{
			"data":    map[string]int{"success_count": len(ops), "total_count": len(ops)},
			"request": map[string]any{"params": req.params},
		})
		return nil
	})
}
