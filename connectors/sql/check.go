package sql

import (
	"context"
	"fmt"
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
	q, label, err := s.query(audience)
	if err != nil {
		return "", err
	}
	r := &reader{src: s, label: label}
	names, err := r.probe(ctx, q)
	if err != nil {
		return "", r.explain(ctx, err)
	}
	return fmt.Sprintf("%s returns %s", label, quoteAll(names)), nil
}

func (r *reader) probe(ctx context.Context, q string) ([]string, error) {
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
	return names, rows.Err()
}
