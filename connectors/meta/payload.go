package meta

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strings"

	fb "github.com/huandu/facebook/v2"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/jsonstr"
	metaplatform "github.com/audiencesync/audiencesync/platform/meta"
)

// schema lists Meta's customer-file keys in the order uploads name them;
// the customer file and the API share them. A request's schema holds the
// keys its rows carry, in this order.
var schema = metaplatform.Platform().Layout

// rowsOf is how many rows u takes: one, or as many as it has values of its
// most repeated kind (each further row carries the next value of that kind
// beside the member's other values).
func rowsOf(u connectors.Upload) int {
	var n [audience.NumKinds]int
	rows := 1
	for _, id := range u.Identifiers {
		if int(id.Kind) < len(n) {
			n[id.Kind]++
			rows = max(rows, n[id.Kind])
		}
	}
	return rows
}

// cut returns where the request starting at members[lo] ends: as many
// members as fit in limit rows, and at least one.
func cut(members []connectors.Upload, lo, limit int) int {
	rows := 0
	for i := lo; i < len(members); i++ {
		r := rowsOf(members[i])
		if rows+r > limit && i > lo {
			return i
		}
		rows += r
	}
	return len(members)
}

// encodePayload appends members as a customer-file payload to dst:
// {"schema":[keys present, in schema order],"data":[[cells in schema
// order, "" where unknown],…]}. Values go as given: the engine has already
// normalised and hashed them for Meta.
func encodePayload(dst []byte, members []connectors.Upload) []byte {
	var present [audience.NumKinds]bool
	for _, u := range members {
		for _, id := range u.Identifiers {
			if int(id.Kind) < len(present) {
				present[id.Kind] = true
			}
		}
	}
	var cols [audience.NumKinds]audience.Kind
	n := 0
	dst = append(dst, `{"schema":[`...)
	for _, s := range schema {
		if !present[s.Kind] {
			continue
		}
		if n > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, '"')
		dst = append(dst, s.Name...)
		dst = append(dst, '"')
		cols[n] = s.Kind
		n++
	}
	dst = append(dst, `],"data":[`...)
	first := true
	for _, u := range members {
		for r := range rowsOf(u) {
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = append(dst, '[')
			for c, k := range cols[:n] {
				if c > 0 {
					dst = append(dst, ',')
				}
				dst = jsonstr.Append(dst, valueOf(u.Identifiers, k, r))
			}
			dst = append(dst, ']')
		}
	}
	return append(dst, "]}"...)
}

// valueOf returns the r'th value of kind k in ids (the last one when there
// are fewer), or "" when there is none.
func valueOf(ids []audience.Identifier, k audience.Kind, r int) string {
	v, seen := "", 0
	for _, id := range ids {
		if id.Kind != k {
			continue
		}
		v = id.Value
		if seen == r {
			break
		}
		seen++
	}
	return v
}

// answer is what Meta says about one users request.
type answer struct {
	sessionID string
	received  int64
	invalid   int64
	// samples maps a sampled invalid value to Meta's reason. The values
	// are only used to find the member they came from; they are never
	// reported or logged.
	samples map[string]string
}

func readAnswer(res fb.Result) answer {
	a := answer{sessionID: text(res["session_id"]), received: number(res["num_received"]), invalid: number(res["num_invalid_entries"])}
	switch s := res["invalid_entry_samples"].(type) {
	case map[string]any:
		a.samples = make(map[string]string, len(s))
		for v, why := range s {
			a.samples[v] = text(why)
		}
	case []any:
		a.samples = make(map[string]string, len(s))
		for _, v := range s {
			a.samples[text(v)] = ""
		}
	}
	return a
}

func text(v any) string {
	switch t := v.(type) {
	case nil:
		return ""
	case string:
		return t
	case json.Number:
		return t.String()
	}
	return fmt.Sprint(v)
}

func number(v any) int64 {
	switch t := v.(type) {
	case json.Number:
		n, _ := t.Int64()
		return n
	case float64:
		return int64(t)
	case string:
		var n int64
		_, _ = fmt.Sscan(t, &n)
		return n
	}
	return 0
}

var reasonPhrase = regexp.MustCompile(`^[A-Za-z][A-Za-z ]{0,59}$`)

// reasonName turns Meta's reason for an invalid entry into a report key,
// such as invalid_email. Only a schema key or a phrase of words passes
// through, so a value can never end up in a report.
func reasonName(why string) string {
	up := strings.ToUpper(strings.TrimSpace(why))
	for _, s := range schema {
		if up == s.Name {
			return "invalid_" + strings.ToLower(s.Name)
		}
	}
	if up == "ROW" {
		return "invalid_row"
	}
	// A phrase of two words or more; one word that is not a key may be a
	// value.
	if words := strings.Fields(strings.ToLower(why)); len(words) > 1 && reasonPhrase.MatchString(why) {
		if words[0] != "invalid" {
			words = append([]string{"invalid"}, words...)
		}
		return strings.Join(words, "_")
	}
	return "invalid_entry"
}

// absorb adds one answer to a batch result: Meta's counts, the reasons of
// its invalid-entry samples (samples.REASON: how many samples gave it),
// and the members those samples came from
// (members[i] is member offset+i of the batch). When Meta counts invalid
// rows without sampling them all, the others cannot be told apart: only
// the counts say so.
func absorb(res *connectors.BatchResult, a answer, members []connectors.Upload, offset int) {
	if res.Platform == nil {
		res.Platform = map[string]int64{}
	}
	res.Platform["num_received"] += a.received
	res.Platform["num_invalid_entries"] += a.invalid
	if res.RequestID == "" {
		res.RequestID = a.sessionID
	}
	if len(a.samples) == 0 {
		return
	}
	for _, why := range a.samples {
		res.Platform["samples."+reasonName(why)]++
	}
	var long []string // samples Meta may have cut short
	for v := range a.samples {
		if len(v) >= 64 {
			long = append(long, v)
		}
	}
	for i, u := range members {
		if why, ok := sampled(u, a.samples, long); ok {
			res.Rejected = append(res.Rejected, connectors.MemberRejection{Index: offset + i, Reason: reasonName(why)})
		}
	}
}

// sampled reports whether one of u's values is an invalid-entry sample.
func sampled(u connectors.Upload, samples map[string]string, long []string) (string, bool) {
	for _, id := range u.Identifiers {
		if why, ok := samples[id.Value]; ok {
			return why, true
		}
		for _, v := range long {
			if len(id.Value) > len(v) && strings.HasPrefix(id.Value, v) {
				return samples[v], true
			}
		}
	}
	return "", false
}
