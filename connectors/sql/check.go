package sql

import (
	"context"
	"fmt"

	"github.com/audiencesync/audiencesync/connectors"
)

// Check connects and asks the database for one value, changing nothing.
func (s *Source) Check(ctx context.Context) error {
	var one int
	if err := s.db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("sql source: connect to %s: %w: check dsn (or path) and that the database accepts the connection", s.dialect.name(), err)
	}
	return nil
}

// CheckAudience has the database plan the audience's query, in a
// read-only transaction, without reading a row, so a wrong table or column
// is found by `audiencesync check`. It says which columns the query
// returns.
func (s *Source) CheckAudience(ctx context.Context, audience string) (string, error) {
	return s.CheckRead(ctx, connectors.ReadRequest{Audience: audience})
}

// CheckRead is CheckAudience that also checks that the query returns every
// column req maps.
func (s *Source) CheckRead(ctx context.Context, req connectors.ReadRequest) (string, error) {
	q, label, err := s.query(req.Audience)
	if err != nil {
		return "", err
	}
	r := &reader{src: s, label: label}
	names, err := r.probe(ctx, q, req)
	if err != nil {
		return "", r.explain(ctx, err)
	}
	return fmt.Sprintf("%s returns %s", label, quoteAll(names)), nil
}

func (r *reader) probe(ctx context.Context, q string, req connectors.ReadRequest) ([]string, error) {
	stmtCtx, tx, done, err := r.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	rows, err := tx.QueryContext(stmtCtx, probeQuery(q))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	names, err := rows.Columns()
	if err != nil {
		return nil, err
	}
	if _, err := mapColumns(rows, req); err != nil {
		return nil, err
	}
	return names, rows.Err()
}

// ListAudiences lists the connection's named queries with how many rows
// each returns now, counted in one read-only snapshot, for `audiencesync
// sources`. A query written out in a sync's source.audience is not listed:
// the connection does not know it.
func (s *Source) ListAudiences(ctx context.Context) ([]connectors.AudienceInfo, error) {
	r := &reader{src: s, label: "the named queries"}
	stmtCtx, tx, done, err := r.begin(ctx)
	if err != nil {
		return nil, r.explain(ctx, err)
	}
	defer done()
	out := make([]connectors.AudienceInfo, 0, len(s.queries))
	for _, name := range s.queryNames() {
		var n int64
		if err := tx.QueryRowContext(stmtCtx, countQuery(trimQuery(s.queries[name]))).Scan(&n); err != nil {
			r.label = fmt.Sprintf("query %q", name)
			return nil, r.explain(ctx, fmt.Errorf("count the rows: %w", err))
		}
		out = append(out, connectors.AudienceInfo{ID: name, Ref: name, Name: name, Kind: "query", Size: n})
	}
	return out, nil
}
