package salesforce

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/audiencesync/audiencesync/connectors/salesforce/replicacreds"
	"github.com/audiencesync/audiencesync/sandbox/internal/wire"
)

const tokenPath = "/services/oauth2/token"

var dataPath = regexp.MustCompile(`^/services/data/v([0-9]{2}\.[0-9])(/.*)?$`)

func (s *Server) route(r *http.Request) wire.Call {
	p, m := r.URL.Path, r.Method
	if p == tokenPath {
		if m == http.MethodPost {
			return wire.Call{Endpoint: "token", Handler: s.token}
		}
		return wire.Call{}
	}
	sub := dataPath.FindStringSubmatch(p)
	if sub == nil {
		return wire.Call{}
	}
	v, rest := sub[1], strings.TrimSuffix(sub[2], "/")
	parts := strings.Split(strings.TrimPrefix(rest, "/"), "/")
	switch {
	case rest == "/query" && m == http.MethodGet:
		return wire.Call{Endpoint: "query", Handler: s.query, Version: v}
	case len(parts) == 2 && parts[0] == "query" && m == http.MethodGet:
		return wire.Call{Endpoint: "query", Handler: s.queryMore, Version: v, ID: parts[1]}
	case rest == "/jobs/query" && m == http.MethodPost:
		return wire.Call{Endpoint: "jobs", Handler: s.createJob, Version: v}
	case len(parts) == 3 && parts[0] == "jobs" && parts[1] == "query" && m == http.MethodGet:
		return wire.Call{Endpoint: "jobs", Handler: s.getJob, Version: v, ID: parts[2]}
	case len(parts) == 4 && parts[0] == "jobs" && parts[1] == "query" && parts[3] == "results" && m == http.MethodGet:
		return wire.Call{Endpoint: "results", Handler: s.results, Version: v, ID: parts[2]}
	}
	return wire.Call{}
}

// tokenError is the token endpoint's error shape.
func tokenError(w http.ResponseWriter, status int, code, desc string) {
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

// audiences are the aud values an assertion may carry: Salesforce's login
// hosts and the replica's own base URL.
func audiences(r *http.Request) []string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return []string{"https://login.salesforce.com", "https://test.salesforce.com", scheme + "://" + r.Host}
}

// token serves the three flows.
func (s *Server) token(w http.ResponseWriter, r *http.Request, _ wire.Call) {
	var b strings.Builder
	if err := wire.ReadBody(&b, r, wire.MaxCallBody); err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", "the request body could not be read")
		return
	}
	form, err := url.ParseQuery(b.String())
	if err != nil {
		tokenError(w, http.StatusBadRequest, "invalid_request", "the body is not form-encoded")
		return
	}
	switch form.Get("grant_type") {
	case "urn:ietf:params:oauth:grant-type:jwt-bearer":
		if desc := s.checkAssertion(form.Get("assertion"), audiences(r)); desc != "" {
			tokenError(w, http.StatusBadRequest, "invalid_grant", desc)
			return
		}
	case "refresh_token":
		if !s.client(form) {
			tokenError(w, http.StatusBadRequest, "invalid_client", "invalid client credentials")
			return
		}
		if form.Get("refresh_token") != replicacreds.RefreshToken {
			tokenError(w, http.StatusBadRequest, "invalid_grant", "expired access/refresh token")
			return
		}
	case "client_credentials":
		if !s.client(form) {
			tokenError(w, http.StatusBadRequest, "invalid_client", "invalid client credentials")
			return
		}
	default:
		tokenError(w, http.StatusBadRequest, "unsupported_grant_type", "grant type not supported")
		return
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	base := scheme + "://" + r.Host
	writeJSON(w, http.StatusOK, map[string]string{
		"access_token": s.issueToken(), "instance_url": base, "id": base + "/id/00D000000000001AAA/005000000000001AAA",
		"token_type": "Bearer", "scope": "api", "issued_at": strconv.FormatInt(s.opts.Now().UnixMilli(), 10),
		"signature": "c2FuZGJveA==",
	})
}

func (s *Server) client(form url.Values) bool {
	return form.Get("client_id") == replicacreds.ClientID && form.Get("client_secret") == replicacreds.ClientSecret
}

// checkAssertion verifies a JWT bearer assertion: RS256 signed with the
// replicacreds key, iss the consumer key, sub the user, aud a login URL,
// exp (a number, or a string as Salesforce's own example sends it) in the
// future. It returns why it is refused, "" when accepted.
func (s *Server) checkAssertion(assertion string, auds []string) string {
	if assertion == "" {
		return "assertion is missing"
	}
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(assertion, claims, func(*jwt.Token) (any, error) { return s.key, nil },
		jwt.WithValidMethods([]string{"RS256"}), jwt.WithoutClaimsValidation())
	if err != nil {
		return "invalid assertion: the signature or algorithm is not accepted (RS256 with the connected app's certificate)"
	}
	if iss, _ := claims["iss"].(string); iss != replicacreds.ClientID {
		return "invalid_client_id: client identifier invalid"
	}
	if sub, _ := claims["sub"].(string); sub != replicacreds.Username {
		return "user hasn't approved this consumer"
	}
	if !audOK(claims["aud"], auds) {
		return "audience is invalid"
	}
	var exp float64
	switch v := claims["exp"].(type) {
	case float64:
		exp = v
	case string:
		exp, _ = strconv.ParseFloat(v, 64)
	}
	if exp == 0 {
		return "invalid assertion: exp is missing"
	}
	if !s.opts.Now().Before(time.Unix(int64(exp), 0)) {
		return "expired authorization code"
	}
	return ""
}

func audOK(aud any, auds []string) bool {
	var got []string
	switch v := aud.(type) {
	case string:
		got = []string{v}
	case []any:
		for _, a := range v {
			if s, ok := a.(string); ok {
				got = append(got, s)
			}
		}
	}
	for _, g := range got {
		for _, a := range auds {
			if strings.TrimRight(g, "/") == a {
				return true
			}
		}
	}
	return false
}

// result is an evaluated query: its columns as written and the values of
// each row.
type result struct {
	cols []string
	rows [][]string
	// bools marks the columns answered as JSON booleans, nums those
	// answered as JSON numbers.
	bools, nums []bool
}

// run parses and evaluates soql; it writes the error answer and returns
// nil when the query is refused.
func (s *Server) run(w http.ResponseWriter, soql string, bulk bool) (*query, *result) {
	q, err := parseSOQL(soql)
	if err != nil {
		writeError(w, http.StatusBadRequest, "MALFORMED_QUERY", soql+"\n^\nERROR at Row:1:Column:1\n"+err.Error())
		return nil, nil
	}
	object, ok := canonicalObject(q.object)
	if !ok {
		writeError(w, http.StatusBadRequest, "INVALID_TYPE", "sObject type '"+q.object+"' is not supported.")
		return nil, nil
	}
	if bulk && q.count {
		writeError(w, http.StatusBadRequest, "API_ERROR", "Aggregate queries are not supported by Bulk API 2.0 query jobs")
		return nil, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var bad string
	check := func(f string) {
		if bad == "" && !s.resolvable(object, f) {
			bad = f
		}
	}
	for _, f := range q.fields {
		check(f)
	}
	if q.where != nil {
		q.where.fieldsOf(check)
	}
	if bad != "" {
		writeJSON(w, http.StatusBadRequest, []apiError{{ErrorCode: "INVALID_FIELD",
			Message: fmt.Sprintf("%s\n^\nERROR at Row:1:Column:1\nNo such column '%s' on entity '%s'. If you are attempting to use a custom field, be sure to append the '__c' after the custom field name.", soql, bad, object)}})
		return nil, nil
	}
	res := &result{cols: q.fields, bools: make([]bool, len(q.fields)), nums: make([]bool, len(q.fields))}
	for i, f := range q.fields {
		c := f[strings.LastIndex(f, ".")+1:]
		if spelt, ok := s.fieldSpelling(object, f); ok {
			c = spelt
		}
		res.bools[i], res.nums[i] = booleans[c], numbers[c]
	}
	for _, rec := range s.data.objects[object] {
		get := func(f string) (string, bool) { return s.value(object, rec, f) }
		if q.where != nil && !q.where.eval(get) {
			continue
		}
		row := make([]string, len(q.fields))
		for i, f := range q.fields {
			row[i], _ = get(f)
		}
		res.rows = append(res.rows, row)
		if q.limit > 0 && len(res.rows) == q.limit {
			break
		}
	}
	return q, res
}

// resolvable reports whether field (possibly Parent.field) exists on
// object.
func (s *Server) resolvable(object, field string) bool {
	_, ok := s.fieldSpelling(object, field)
	return ok
}

func (s *Server) fieldSpelling(object, field string) (string, bool) {
	head, rest, nested := strings.Cut(field, ".")
	if !nested {
		return canonical(object, field)
	}
	p, ok := parents[object][strings.ToLower(head)]
	if !ok {
		return "", false
	}
	return s.fieldSpelling(p.object, rest)
}

// value reads field of rec, following parent relationships.
func (s *Server) value(object string, rec record, field string) (string, bool) {
	head, rest, nested := strings.Cut(field, ".")
	if !nested {
		c, ok := canonical(object, field)
		return rec[c], ok
	}
	p, ok := parents[object][strings.ToLower(head)]
	if !ok {
		return "", false
	}
	parentRec := s.data.byID[rec[p.idField]]
	if parentRec == nil {
		return "", true
	}
	return s.value(p.object, parentRec, rest)
}

// cursor is the rest of a REST query's records, for nextRecordsUrl.
type cursor struct {
	res   *result
	at    int
	batch int
}

// query serves GET /query?q=SOQL.
func (s *Server) query(w http.ResponseWriter, r *http.Request, rt wire.Call) {
	soql := r.URL.Query().Get("q")
	if soql == "" {
		writeError(w, http.StatusBadRequest, "MALFORMED_QUERY", "A query string has to be specified")
		return
	}
	q, res := s.run(w, soql, false)
	if res == nil {
		return
	}
	if q.count {
		writeJSON(w, http.StatusOK, map[string]any{"totalSize": len(res.rows), "done": true, "records": []any{}})
		return
	}
	batch := DefaultBatchSize
	if opt := r.Header.Get("Sforce-Query-Options"); opt != "" {
		v, ok := strings.CutPrefix(strings.TrimSpace(opt), "batchSize=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 200 || n > 2000 {
			writeError(w, http.StatusBadRequest, "INVALID_QUERY_LOCATOR", "Sforce-Query-Options batchSize must be 200 to 2000")
			return
		}
		batch = n
	}
	s.page(w, rt.Version, &cursor{res: res, batch: batch})
}

// queryMore serves a nextRecordsUrl.
func (s *Server) queryMore(w http.ResponseWriter, _ *http.Request, rt wire.Call) {
	s.mu.Lock()
	c := s.cursors[rt.ID]
	delete(s.cursors, rt.ID)
	s.mu.Unlock()
	if c == nil {
		writeError(w, http.StatusBadRequest, "INVALID_QUERY_LOCATOR", "invalid query locator")
		return
	}
	s.page(w, rt.Version, c)
}

// page answers the next page of c, keeping c for the next one.
func (s *Server) page(w http.ResponseWriter, version string, c *cursor) {
	end := min(c.at+c.batch, len(c.res.rows))
	recs := make([]map[string]any, 0, end-c.at)
	for _, row := range c.res.rows[c.at:end] {
		recs = append(recs, c.res.jsonRecord(row))
	}
	out := map[string]any{"totalSize": len(c.res.rows), "done": end == len(c.res.rows), "records": recs}
	if end < len(c.res.rows) {
		c.at = end
		id := "01g" + wire.RandomHex(8) + "-" + strconv.Itoa(end)
		s.mu.Lock()
		s.cursors[id] = c
		s.mu.Unlock()
		out["nextRecordsUrl"] = "/services/data/v" + version + "/query/" + id
	}
	writeJSON(w, http.StatusOK, out)
}

// jsonRecord is a row as the REST API answers it: parent fields nested
// in objects (null when there is no parent), booleans as JSON booleans.
func (res *result) jsonRecord(row []string) map[string]any {
	rec := map[string]any{"attributes": map[string]string{"type": "sObject"}}
	for i, col := range res.cols {
		var v any
		switch {
		case row[i] == "":
			v = nil
		case res.bools[i]:
			v = row[i] == "true"
		case res.nums[i]:
			v = json.Number(row[i])
		default:
			v = row[i]
		}
		parts := strings.Split(col, ".")
		m := rec
		for _, p := range parts[:len(parts)-1] {
			sub, ok := m[p].(map[string]any)
			if !ok {
				sub = map[string]any{"attributes": map[string]string{"type": p}}
				m[p] = sub
			}
			m = sub
		}
		m[parts[len(parts)-1]] = v
	}
	pruneEmptyParents(rec)
	return rec
}

// pruneEmptyParents turns a parent object with no values into null, as
// Salesforce answers a missing parent.
func pruneEmptyParents(m map[string]any) bool {
	empty := true
	for k, v := range m {
		if k == "attributes" {
			continue
		}
		if sub, ok := v.(map[string]any); ok {
			if pruneEmptyParents(sub) {
				m[k] = nil
				continue
			}
			empty = false
			continue
		}
		if v != nil {
			empty = false
		}
	}
	return empty
}

// job is a Bulk API 2.0 query job.
type job struct {
	id, version, query string
	created            time.Time
	polls              int
	res                *result
}

func (j *job) state(pollsBeforeDone int) string {
	switch {
	case j.polls > pollsBeforeDone:
		return "JobComplete"
	case j.polls == 0:
		return "UploadComplete"
	}
	return "InProgress"
}

func (s *Server) jobInfo(j *job) map[string]any {
	v, _ := strconv.ParseFloat(j.version, 64)
	info := map[string]any{"id": j.id, "operation": "query", "object": "", "createdById": "005000000000001AAA",
		"createdDate": stamp(j.created), "systemModstamp": stamp(j.created), "state": j.state(s.opts.PollsBeforeDone),
		"concurrencyMode": "Parallel", "contentType": "CSV", "apiVersion": v, "lineEnding": "LF", "columnDelimiter": "COMMA"}
	if j.state(s.opts.PollsBeforeDone) == "JobComplete" {
		info["numberRecordsProcessed"] = len(j.res.rows)
	}
	return info
}

// createJob serves POST /jobs/query.
func (s *Server) createJob(w http.ResponseWriter, r *http.Request, rt wire.Call) {
	var b strings.Builder
	if err := wire.ReadBody(&b, r, wire.MaxCallBody); err != nil {
		writeError(w, http.StatusBadRequest, "INVALIDJOB", "the request body could not be read")
		return
	}
	var in struct {
		Operation, Query, ColumnDelimiter, LineEnding string
	}
	if err := json.Unmarshal([]byte(b.String()), &in); err != nil {
		writeError(w, http.StatusBadRequest, "JSON_PARSER_ERROR", "the body is not a JSON job")
		return
	}
	switch {
	case in.Operation != "query" && in.Operation != "queryAll":
		writeError(w, http.StatusBadRequest, "INVALIDJOB", "operation must be query or queryAll")
		return
	case in.ColumnDelimiter != "" && in.ColumnDelimiter != "COMMA", in.LineEnding != "" && in.LineEnding != "LF":
		writeError(w, http.StatusBadRequest, "INVALIDJOB", "the replica serves COMMA-delimited, LF-ended results only")
		return
	}
	_, res := s.run(w, in.Query, true)
	if res == nil {
		return
	}
	j := &job{id: "750" + strings.ToUpper(wire.RandomHex(6)) + "AAA", version: rt.Version, query: in.Query, created: s.opts.Now(), res: res}
	s.mu.Lock()
	s.jobs[j.id] = j
	info := s.jobInfo(j)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, info)
}

// withJob runs fn, holding s.mu, on the job of a route; when the job
// cannot be served it answers 404 or 409 instead and reports false.
func (s *Server) withJob(w http.ResponseWriter, rt wire.Call, fn func(*job)) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	j := s.jobs[rt.ID]
	if j == nil {
		writeError(w, http.StatusNotFound, "NOT_FOUND", "The requested resource does not exist")
		return false
	}
	if j.version != rt.Version {
		writeError(w, http.StatusConflict, "API_VERSION_MISMATCH",
			fmt.Sprintf("The job was created with API version %s; use that version to read it", j.version))
		return false
	}
	fn(j)
	return true
}

// getJob serves a poll of a job; each poll moves the job on.
func (s *Server) getJob(w http.ResponseWriter, _ *http.Request, rt wire.Call) {
	var info map[string]any
	ok := s.withJob(w, rt, func(j *job) {
		j.polls++
		info = s.jobInfo(j)
	})
	if ok {
		writeJSON(w, http.StatusOK, info)
	}
}

// results serves a page of a complete job's results as CSV.
func (s *Server) results(w http.ResponseWriter, r *http.Request, rt wire.Call) {
	var j *job
	done := false
	ok := s.withJob(w, rt, func(found *job) {
		j, done = found, found.state(s.opts.PollsBeforeDone) == "JobComplete"
	})
	if !ok {
		return
	}
	if !done {
		writeError(w, http.StatusPreconditionFailed, "JOB_NOT_COMPLETE", "Job is not complete: poll it until its state is JobComplete")
		return
	}
	q := r.URL.Query()
	maxRecords := DefaultMaxRecords
	if v := q.Get("maxRecords"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			writeError(w, http.StatusBadRequest, "INVALIDURL", "maxRecords must be a positive number")
			return
		}
		maxRecords = n
	}
	start := 0
	if loc := q.Get("locator"); loc != "" {
		n, err := strconv.ParseInt(loc, 36, 64)
		if err != nil || n <= 0 || int(n) > len(j.res.rows) {
			writeError(w, http.StatusBadRequest, "INVALID_LOCATOR", "invalid locator")
			return
		}
		start = int(n)
	}
	end := min(start+maxRecords, len(j.res.rows))
	h := w.Header()
	h.Set("Content-Type", "text/csv")
	h.Set("Sforce-NumberOfRecords", strconv.Itoa(end-start))
	if end < len(j.res.rows) {
		h.Set("Sforce-Locator", strconv.FormatInt(int64(end), 36))
	} else {
		h.Set("Sforce-Locator", "null")
	}
	w.WriteHeader(http.StatusOK)
	cw := csv.NewWriter(w)
	_ = cw.Write(j.res.cols)
	for _, row := range j.res.rows[start:end] {
		_ = cw.Write(row)
	}
	cw.Flush()
}
