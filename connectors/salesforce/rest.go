package salesforce

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// queryPage is one page of a REST query answer. Records stay raw: their
// fields are looked up by the plan's columns.
type queryPage struct {
	TotalSize      int64             `json:"totalSize"`
	Done           bool              `json:"done"`
	NextRecordsURL string            `json:"nextRecordsUrl"`
	Records        []json.RawMessage `json:"records"`
}

// decodePage reads a REST query answer strictly where a wrong reading
// would lose records: a page not done must say where the next one is.
func decodePage(data []byte) (queryPage, error) {
	var p queryPage
	if err := json.Unmarshal(data, &p); err != nil {
		return queryPage{}, fmt.Errorf("decode the query answer: %w", err)
	}
	if !p.Done && p.NextRecordsURL == "" {
		return queryPage{}, errors.New("decode the query answer: done is false but there is no nextRecordsUrl")
	}
	if p.NextRecordsURL != "" && !strings.HasPrefix(p.NextRecordsURL, "/services/data/") {
		return queryPage{}, errors.New("decode the query answer: nextRecordsUrl is not a /services/data/ path")
	}
	return p, nil
}

// query sends one REST query page request: the first (soql set) or a
// nextRecordsUrl.
func (c *client) query(ctx context.Context, soql, next string, batch int) (queryPage, error) {
	path, q := next, url.Values(nil)
	if next == "" {
		path, q = c.api("/query"), url.Values{"q": {soql}}
	}
	var hdr map[string]string
	if batch > 0 {
		hdr = map[string]string{"Sforce-Query-Options": "batchSize=" + strconv.Itoa(batch)}
	}
	resp, err := c.do(ctx, http.MethodGet, path, q, nil, hdr)
	if err != nil {
		return queryPage{}, err
	}
	defer resp.Body.Close()
	a, err := readAnswer(resp)
	if err != nil {
		return queryPage{}, err
	}
	if a.status != http.StatusOK {
		return queryPage{}, failure("query", a, c.version)
	}
	return decodePage(a.body)
}

// count runs a SELECT COUNT() query.
func (c *client) count(ctx context.Context, soql string) (int64, error) {
	p, err := c.query(ctx, soql, "", 0)
	if err != nil {
		return 0, err
	}
	if p.TotalSize < 0 {
		return 0, errors.New("the count is negative")
	}
	return p.TotalSize, nil
}

// restQuery reads every page of p's query and hands the records on.
func (c *client) restQuery(ctx context.Context, p *plan, batch int, e *emitter) error {
	vals := make([]string, len(p.cols))
	next := ""
	for page := 1; ; page++ {
		qp, err := c.query(ctx, p.query, next, batch)
		if err != nil {
			return fmt.Errorf("page %d: %w", page, err)
		}
		for _, raw := range qp.Records {
			if err := flatten(raw, p.cols, vals); err != nil {
				return fmt.Errorf("page %d, record %d: %w", page, e.line+1, err)
			}
			if err := e.record(vals); err != nil {
				return err
			}
		}
		if qp.Done {
			return nil
		}
		if qp.NextRecordsURL == next {
			return errors.New("the same nextRecordsUrl came back again, so the read would never end: run again, and report it if it repeats")
		}
		next = qp.NextRecordsURL
	}
}

// flatten looks each column (Contact.Email) up in a record, descending
// into parent objects; a missing or null parent or field reads "".
// Salesforce names fields ignoring case; the answer spells them its way.
func flatten(raw json.RawMessage, cols []string, vals []string) error {
	var rec map[string]json.RawMessage
	if err := json.Unmarshal(raw, &rec); err != nil {
		return fmt.Errorf("a record is not a JSON object: %w", err)
	}
	for i, col := range cols {
		v, err := lookup(rec, col)
		if err != nil {
			return fmt.Errorf("field %s: %w", col, err)
		}
		vals[i] = v
	}
	return nil
}

func lookup(rec map[string]json.RawMessage, path string) (string, error) {
	head, rest, nested := strings.Cut(path, ".")
	raw, ok := rec[head]
	if !ok {
		for k, v := range rec {
			if strings.EqualFold(k, head) {
				raw, ok = v, true
				break
			}
		}
	}
	if !ok {
		if nested {
			return "", nil // a parent Salesforce left out: no value
		}
		return "", errors.New("not in the answer: add it to the query's SELECT list")
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || bytes.Equal(raw, []byte("null")) {
		return "", nil
	}
	if nested {
		var sub map[string]json.RawMessage
		if err := json.Unmarshal(raw, &sub); err != nil {
			return "", fmt.Errorf("%s is not an object", head)
		}
		return lookup(sub, rest)
	}
	switch raw[0] {
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return "", err
		}
		return s, nil
	case '{', '[':
		return "", errors.New("is a compound value, not a field: select one of its parts")
	}
	return string(raw), nil // a number or boolean, as written
}

// campaignInfo is the part of a Campaign the source shows.
type campaignInfo struct {
	ID, Name     string
	IsActive     bool
	LastModified string
}

// campaign finds the campaign ref names.
func (c *client) campaign(ctx context.Context, ref audienceRef) (campaignInfo, error) {
	where := "Id = " + quote(ref.value)
	if ref.kind == campaignByName {
		where = "Name = " + quote(ref.value)
	}
	found, err := c.campaigns(ctx, where)
	if err != nil {
		return campaignInfo{}, fmt.Errorf("find %s: %w", ref, err)
	}
	switch len(found) {
	case 0:
		return campaignInfo{}, fmt.Errorf("find %s: Salesforce has no such campaign (or the user may not see it): %s", ref, notFoundAdvice)
	case 1:
		return found[0], nil
	}
	ids := make([]string, len(found))
	for i, f := range found {
		ids[i] = f.ID
	}
	return campaignInfo{}, fmt.Errorf("find %s: %d campaigns have that name (%s): write the one to read by its id", ref, len(found), strings.Join(ids, ", "))
}

// notFoundAdvice is what to do about a campaign that is not there.
const notFoundAdvice = "check source.audience (`audiencesync sources --connection NAME` lists the campaigns with their ids)"

// campaigns reads the campaigns matching where (all when "").
func (c *client) campaigns(ctx context.Context, where string) ([]campaignInfo, error) {
	soql := "SELECT Id, Name, IsActive, LastModifiedDate FROM Campaign"
	if where != "" {
		soql += " WHERE " + where
	}
	cols := []string{"Id", "Name", "IsActive", "LastModifiedDate"}
	vals := make([]string, len(cols))
	var out []campaignInfo
	next := ""
	for {
		qp, err := c.query(ctx, soql, next, 0)
		if err != nil {
			return nil, err
		}
		for _, raw := range qp.Records {
			if err := flatten(raw, cols, vals); err != nil {
				return nil, err
			}
			out = append(out, campaignInfo{ID: vals[0], Name: vals[1], IsActive: vals[2] == "true", LastModified: vals[3]})
		}
		if qp.Done || qp.NextRecordsURL == next {
			return out, nil
		}
		next = qp.NextRecordsURL
	}
}
