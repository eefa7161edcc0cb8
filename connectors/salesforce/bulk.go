package salesforce

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"go.uber.org/zap"
)

// jobInfo is the part of a Bulk API 2.0 query job the source reads.
type jobInfo struct {
	ID           string      `json:"id"`
	State        string      `json:"state"`
	ErrorMessage string      `json:"errorMessage"`
	APIVersion   json.Number `json:"apiVersion"`
	CreatedDate  string      `json:"createdDate"`
}

// bulkQuery reads p's query with a Bulk API 2.0 query job: created,
// polled until complete, and its results read page by page.
func (c *client) bulkQuery(ctx context.Context, p *plan, t tuning, e *emitter) error {
	id, err := c.createJob(ctx, p.query)
	if err != nil {
		return err
	}
	if err := c.awaitJob(ctx, id, t); err != nil {
		return err
	}
	return c.readResults(ctx, id, p, t.bulkPage, e)
}

func (c *client) createJob(ctx context.Context, soql string) (string, error) {
	const what = "create a Bulk API 2.0 query job"
	body := map[string]string{"operation": "query", "query": soql, "columnDelimiter": "COMMA", "lineEnding": "LF"}
	a, err := c.call(ctx, http.MethodPost, c.api("/jobs/query"), nil, body)
	if err != nil {
		return "", fmt.Errorf("%s: %w", what, err)
	}
	if a.status != http.StatusOK && a.status != http.StatusCreated {
		return "", failure(what, a, c.version)
	}
	var j jobInfo
	if err := json.Unmarshal(a.body, &j); err != nil || j.ID == "" {
		return "", fmt.Errorf("%s: the answer names no job id", what)
	}
	c.log.Info("Salesforce Bulk query job created", zap.String("job", j.ID), zap.String("state", j.State))
	return j.ID, nil
}

// awaitJob polls the job, with back-off, until it is JobComplete.
func (c *client) awaitJob(ctx context.Context, id string, t tuning) error {
	what := "poll Bulk query job " + id
	start := c.now()
	wait := t.pollMin
	for polls := 1; ; polls++ {
		a, err := c.call(ctx, http.MethodGet, c.api("/jobs/query/"+url.PathEscape(id)), nil, nil)
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if a.status != http.StatusOK {
			return failure(what, a, c.version)
		}
		var j jobInfo
		if err := json.Unmarshal(a.body, &j); err != nil {
			return fmt.Errorf("%s: decode the job: %w", what, err)
		}
		switch j.State {
		case "JobComplete":
			fields := []zap.Field{zap.String("job", id), zap.Int("polls", polls)}
			if created, err := ParseTime(j.CreatedDate); err == nil {
				fields = append(fields, zap.Duration("took", c.now().Sub(created)))
			}
			c.log.Info("Salesforce Bulk query job complete", fields...)
			return nil
		case "Failed":
			return fmt.Errorf("%s: the job failed (%s): fix the query if the message names it, else run again", what, clip(j.ErrorMessage))
		case "Aborted":
			return fmt.Errorf("%s: the job was aborted in Salesforce (by a user or an admin): run again", what)
		case "UploadComplete", "InProgress":
		default:
			return fmt.Errorf("%s: unknown job state %q", what, j.State)
		}
		if c.now().Sub(start) >= t.bulkTimeout {
			return fmt.Errorf("%s: the job is still %s after %s: Salesforce may be busy; run again later, or raise bulk_timeout", what, j.State, t.bulkTimeout)
		}
		if err := t.Sleep(ctx, wait); err != nil {
			return err
		}
		wait = min(wait*2, t.pollMax)
	}
}

// readResults reads the job's results page by page, following
// Sforce-Locator until it is "null", and checks each page held the
// records Sforce-NumberOfRecords said.
func (c *client) readResults(ctx context.Context, id string, p *plan, pageSize int, e *emitter) error {
	locator := ""
	vals := make([]string, len(p.cols))
	for page := 1; ; page++ {
		what := fmt.Sprintf("read page %d of Bulk query job %s's results", page, id)
		q := url.Values{"maxRecords": {strconv.Itoa(pageSize)}}
		if locator != "" {
			q.Set("locator", locator)
		}
		resp, err := c.do(ctx, http.MethodGet, c.api("/jobs/query/"+url.PathEscape(id)+"/results"), q, nil,
			map[string]string{"Accept": "text/csv"})
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		next, err := c.readPage(resp, p, vals, e)
		_ = resp.Body.Close()
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		if next == "" {
			return nil
		}
		if next == locator {
			return fmt.Errorf("%s: Salesforce returned the same locator again, so the read would never end: run again", what)
		}
		locator = next
	}
}

// readPage parses one results page as it streams; it returns the next
// locator, "" after the last page.
func (c *client) readPage(resp *http.Response, p *plan, vals []string, e *emitter) (string, error) {
	if resp.StatusCode != http.StatusOK {
		a, err := readAnswer(resp)
		if err != nil {
			return "", err
		}
		return "", failure("results", a, c.version)
	}
	want := int64(-1)
	if h := resp.Header.Get("Sforce-NumberOfRecords"); h != "" {
		n, err := strconv.ParseInt(h, 10, 64)
		if err != nil || n < 0 {
			return "", fmt.Errorf("Sforce-NumberOfRecords %q is not a count", h)
		}
		want = n
	}
	rows, err := NewCSVRows(resp.Body)
	if err != nil {
		return "", err
	}
	if err := parseRows(rows, p, vals, e); err != nil {
		return "", err
	}
	if want >= 0 && rows.Rows() != want {
		return "", fmt.Errorf("the page held %d records but Sforce-NumberOfRecords said %d: the answer was cut short; run again", rows.Rows(), want)
	}
	loc := strings.TrimSpace(resp.Header.Get("Sforce-Locator"))
	if loc == "null" {
		loc = ""
	}
	return loc, nil
}

// parseRows hands every record of a results page on, its values in the
// plan's column order.
func parseRows(rows *CSVRows, p *plan, vals []string, e *emitter) error {
	pos, err := rows.Columns(p.cols)
	if err != nil {
		return err
	}
	for {
		rec, err := rows.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		for i, at := range pos {
			vals[i] = rec[at]
		}
		if err := e.record(vals); err != nil {
			return err
		}
	}
}
