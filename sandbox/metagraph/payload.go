package metagraph

// Parsing of the payload and session parameters the /users and
// /usersreplace edges take: the schema, the rows and the identifiers each
// row stands for.

import (
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/audiencesync/audiencesync/sandbox/internal/wire"
)

// Schema keys of customer-file uploads. Everything but MADID and EXTERN_ID
// is a SHA-256 hex digest.
var (
	hashedKeys = []string{"EMAIL", "PHONE", "GEN", "DOBY", "DOBM", "DOBD", "LN", "FN", "FI", "CT", "ST", "ZIP", "COUNTRY"}
	clearKeys  = []string{"MADID", "EXTERN_ID"}
	// single-key aliases Meta accepts for a one-column schema
	keyAliases = map[string]string{"EMAIL_SHA256": "EMAIL", "PHONE_SHA256": "PHONE", "MOBILE_ADVERTISER_ID": "MADID"}
)

const dataProcessingOptions = "DATA_PROCESSING_OPTIONS"

const maxSamples = 10

type payloadBody struct {
	Schema     json.RawMessage   `json:"schema"`
	Data       []json.RawMessage `json:"data"`
	IsRaw      *bool             `json:"is_raw"`
	AppIDs     json.RawMessage   `json:"app_ids"`
	PageIDs    json.RawMessage   `json:"page_ids"`
	DataSource json.RawMessage   `json:"data_source"`
}

type sessionParam struct {
	SessionID         json.Number `json:"session_id"`
	BatchSeq          int         `json:"batch_seq"`
	LastBatchFlag     bool        `json:"last_batch_flag"`
	EstimatedNumTotal int64       `json:"estimated_num_total"`
}

// upload is a parsed payload: the member identifiers of its valid rows, and
// the counts Meta reports back.
type upload struct {
	ids     []string // of every valid row, in row order
	ends    []int    // where each valid row's ids end in ids: one person a row
	invalid int
	samples map[string]string
	total   int
}

// reject counts an invalid row, keeping a few samples of what was wrong.
func (up *upload) reject(bad, badKey string) {
	up.invalid++
	if len(up.samples) < maxSamples {
		up.samples[bad] = badKey
	}
}

func parseSchema(raw json.RawMessage) (keys []string, single bool, gerr *graphError) {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		if alias, ok := keyAliases[one]; ok {
			one = alias
		}
		if !slices.Contains(hashedKeys, one) && !slices.Contains(clearKeys, one) {
			return nil, false, paramError("Invalid schema key %q (known: %s, %s, or EMAIL_SHA256, PHONE_SHA256, MOBILE_ADVERTISER_ID)",
				one, strings.Join(hashedKeys, " "), strings.Join(clearKeys, " "))
		}
		return []string{one}, true, nil
	}
	if err := json.Unmarshal(raw, &keys); err != nil || len(keys) == 0 {
		return nil, false, paramError("payload.schema must be a key or a non-empty list of keys")
	}
	seen := map[string]bool{}
	for _, k := range keys {
		if !slices.Contains(hashedKeys, k) && !slices.Contains(clearKeys, k) && k != dataProcessingOptions {
			return nil, false, paramError("Invalid schema key %q in multi-key schema (known: %s %s %s)",
				k, strings.Join(hashedKeys, " "), strings.Join(clearKeys, " "), dataProcessingOptions)
		}
		if seen[k] {
			return nil, false, paramError("Schema key %s appears twice", k)
		}
		seen[k] = true
	}
	return keys, false, nil
}

var madidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$|^[0-9a-f-]{8,64}$`)

// parsePayload validates the payload parameter. Malformed structure fails
// the whole request; a malformed cell only makes its row an invalid entry.
func parsePayload(raw string) (*upload, *graphError) {
	if up, gerr, ok := parseTextPayload(raw); ok {
		return up, gerr
	}
	return parseAnyPayload(raw)
}

// parseAnyPayload is parsePayload for every payload, with the strict
// decoder's precise errors.
func parseAnyPayload(raw string) (*upload, *graphError) {
	if raw == "" {
		return nil, paramError("The parameter payload is required")
	}
	p, text, fast := decodeTextPayload(raw)
	if !fast {
		if err := wire.DecodeStrict([]byte(raw), &p); err != nil {
			return nil, paramError("payload is not valid: %v", err)
		}
	}
	if len(p.Schema) == 0 {
		return nil, paramError("payload.schema is required")
	}
	if len(p.AppIDs)+len(p.PageIDs) > 0 {
		return nil, paramError("app_ids and page_ids apply to app- or page-scoped user ids, which the sandbox does not take")
	}
	keys, single, gerr := parseSchema(p.Schema)
	if gerr != nil {
		return nil, gerr
	}
	n := len(p.Data)
	if fast {
		n = len(text)
	}
	if gerr := rowCountError(n); gerr != nil {
		return nil, gerr
	}
	up := &upload{samples: map[string]string{}, total: n}
	var r rowIDs
	for i := range n {
		var bad, badKey string
		if fast {
			if len(text[i]) != len(keys) {
				return nil, widthError(i, len(text[i]), len(keys))
			}
			bad, badKey = r.textRow(keys, text[i])
		} else {
			rawRow := p.Data[i]
			var cells []any
			dec := json.NewDecoder(bytes.NewReader(rawRow))
			dec.UseNumber()
			if single && len(rawRow) > 0 && rawRow[0] == '"' {
				var v string
				_ = json.Unmarshal(rawRow, &v)
				cells = []any{v}
			} else if err := dec.Decode(&cells); err != nil {
				return nil, paramError("payload.data[%d] must be a list of values in schema order", i)
			}
			if len(cells) != len(keys) {
				return nil, widthError(i, len(cells), len(keys))
			}
			bad, badKey = r.row(keys, cells)
		}
		if badKey != "" {
			up.reject(bad, badKey)
		}
	}
	up.ids, up.ends = r.ids, r.ends
	return up, nil
}

// rowCountError says what is wrong with a payload of n rows, if anything.
func rowCountError(n int) *graphError {
	if n == 0 {
		return paramError("payload.data must not be empty")
	}
	if n > MaxRowsPerRequest {
		return paramError("Too many rows: %d sent, at most %d per request; split the upload into batches of a session", n, MaxRowsPerRequest)
	}
	return nil
}

func widthError(row, cells, keys int) *graphError {
	return paramError("payload.data[%d] has %d values but the schema has %d keys", row, cells, keys)
}

// decodeTextPayload reads, in one encoding/json decode, a payload of known
// fields spelled exactly whose every row is a list of strings: what
// parseTextPayload leaves to it when a string has an escape or non-ASCII
// text, or a key repeats. It reports false for anything else, which then
// takes the strict path and its precise errors.
func decodeTextPayload(raw string) (p payloadBody, rows [][]string, ok bool) {
	var top map[string]json.RawMessage
	if json.Unmarshal([]byte(raw), &top) != nil {
		return p, nil, false
	}
	for k, v := range top {
		switch k {
		case "schema":
			p.Schema = v
		case "data":
			// A null cell would decode as "" here; the strict path calls
			// it what it is.
			if bytes.Contains(v, []byte("null")) || json.Unmarshal(v, &rows) != nil {
				return p, nil, false
			}
		case "app_ids":
			p.AppIDs = v
		case "page_ids":
			p.PageIDs = v
		default: // is_raw and data_source are left to the strict path
			return p, nil, false
		}
	}
	return p, rows, true
}

// rowIDs gathers the member identifiers of an upload's rows: a row's
// strong identifiers (EMAIL, PHONE, MADID, EXTERN_ID) are its members, and
// a row without any is one member made of its other cells.
type rowIDs struct {
	ids       []string // of the valid rows so far
	ends      []int    // where each valid row's identifiers end in ids
	start     int      // where the current row's identifiers begin in ids
	composite []string // key, value pairs of the current row's other cells
}

// row checks a row decoded by encoding/json and adds its identifiers, or
// returns the offending value and its key when the row is invalid.
func (r *rowIDs) row(keys []string, cells []any) (bad, badKey string) {
	r.begin()
	for j, k := range keys {
		if k == dataProcessingOptions {
			opts, ok := cells[j].([]any)
			if !ok || len(opts) > 1 || (len(opts) == 1 && opts[0] != "LDU") {
				return r.drop("", k)
			}
			continue
		}
		v, ok := cells[j].(string)
		if !ok {
			return r.drop("<non-string value>", k)
		}
		if !r.cell(k, v) {
			return r.drop(truncate(v), k)
		}
	}
	return r.end()
}

// textRow is row for a row of strings, without boxing each cell.
func (r *rowIDs) textRow(keys, cells []string) (bad, badKey string) {
	r.begin()
	for j, k := range keys {
		if k == dataProcessingOptions {
			return r.drop("", k) // its value is a list, never a string
		}
		if !r.cell(k, cells[j]) {
			return r.drop(truncate(cells[j]), k)
		}
	}
	return r.end()
}

func (r *rowIDs) begin() {
	r.start = len(r.ids)
	r.composite = r.composite[:0]
}

// cell takes the value v of key k (not DATA_PROCESSING_OPTIONS) and
// reports whether it is valid.
func (r *rowIDs) cell(k, v string) bool {
	if v == "" {
		return true
	}
	switch k {
	case "MADID":
		if !madidPattern.MatchString(v) || wire.IsSHA256Hex(v) {
			return false
		}
		r.ids = append(r.ids, "madid:"+v)
	case "EXTERN_ID":
		r.ids = append(r.ids, "extern_id:"+v)
	default:
		if !wire.IsSHA256Hex(v) {
			return false
		}
		if k == "EMAIL" || k == "PHONE" {
			// v may be a slice of the whole payload; that is fine, since
			// wire.Set stores a copy of what it keeps.
			r.ids = append(r.ids, v)
		} else {
			r.composite = append(r.composite, k, v)
		}
	}
	return true
}

// drop forgets the identifiers of the current, invalid row.
func (r *rowIDs) drop(bad, badKey string) (string, string) {
	r.ids = r.ids[:r.start]
	return bad, badKey
}

// end closes a row whose cells are all valid; a row with no value at all
// is still invalid.
func (r *rowIDs) end() (bad, badKey string) {
	switch {
	case len(r.ids) > r.start:
	case len(r.composite) > 0:
		var b strings.Builder
		b.WriteString("row:")
		for i := 0; i < len(r.composite); i += 2 {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(r.composite[i])
			b.WriteByte('=')
			b.WriteString(r.composite[i+1])
		}
		r.ids = append(r.ids, b.String())
	default:
		return "<empty row>", "ROW"
	}
	r.ends = append(r.ends, len(r.ids))
	return "", ""
}

func truncate(v string) string {
	if len(v) > 72 {
		return v[:72]
	}
	return v
}

func parseSession(raw string) (*sessionParam, *graphError) {
	if raw == "" {
		return nil, nil
	}
	var sp sessionParam
	if err := wire.DecodeStrict([]byte(raw), &sp); err != nil {
		return nil, paramError("session is not valid: %v", err)
	}
	id, err := strconv.ParseInt(sp.SessionID.String(), 10, 64)
	if err != nil || id <= 0 {
		return nil, paramError("session.session_id must be a positive 64-bit integer")
	}
	if sp.BatchSeq < 1 {
		return nil, paramError("session.batch_seq is required and starts at 1")
	}
	return &sp, nil
}
