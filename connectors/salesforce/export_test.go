package salesforce

import (
	"context"
	"io"
	"time"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
)

var emailField = map[audience.Kind]string{audience.Email: "Email"}

// NewWithSleep is New with retries and Bulk polls waited by sleep, in
// steps of at least a millisecond, so tests run on a fake clock;
// restBatch > 0 asks REST query pages of that size.
func NewWithSleep(s *Settings, env connectors.Env, sleep func(context.Context, time.Duration) error, restBatch int) (*Source, error) {
	t := defaultTuning()
	t.MinWait, t.MaxWait, t.Sleep, t.restBatch = time.Millisecond, 10*time.Millisecond, sleep, restBatch
	t.pollMin, t.pollMax = time.Millisecond, 4*time.Millisecond
	return newSource(s, env, t)
}

// SpecWithSleep is Spec with NewWithSleep, for tests through the service
// layer.
func SpecWithSleep(sleep func(context.Context, time.Duration) error) connectors.Spec {
	return connectors.SourceSpec(Type, "Salesforce (test pacing)", sample,
		func(s *Settings, env connectors.Env) (*Source, error) { return NewWithSleep(s, env, sleep, 0) })
}

// ParseRef exposes parseRef's verdict: the kind (id, name, soql) and value.
func ParseRef(s string) (kind, value string, err error) {
	r, err := parseRef(s)
	if err != nil {
		return "", "", err
	}
	return [...]string{campaignByID: "id", campaignByName: "name", soqlQuery: "soql"}[r.kind], r.value, nil
}

// CountQuery is the count query of a soql: audience.
func CountQuery(soql string) (string, error) {
	p, err := queryPlan(soql, connectors.ReadRequest{Fields: emailField}, nil)
	if err != nil {
		return "", err
	}
	return p.count, nil
}

// ParseBulkPage parses one Bulk results page of a campaign read mapping
// email to Email, and returns how many records it held; it is what
// FuzzBulkCSV and BenchmarkBulkParse1M drive.
func ParseBulkPage(r io.Reader, out connectors.Emitter) (int64, error) {
	p, err := campaignPlan("701000000000001AAA", connectors.ReadRequest{Fields: emailField}, nil)
	if err != nil {
		return 0, err
	}
	e := &emitter{p: p, out: out}
	rows, err := NewCSVRows(r)
	if err != nil {
		return 0, err
	}
	vals := make([]string, len(p.cols))
	if err := parseRows(rows, p, vals, e); err != nil {
		return rows.Rows(), err
	}
	return rows.Rows(), nil
}
