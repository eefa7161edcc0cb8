package sql

import (
	"context"
	dbsql "database/sql"
	"fmt"
	"strings"
	"time"
	"unicode"

	"github.com/jackc/pgx/v5"
)

// sqlStarts are the first words of a query written out in source.audience
// rather than a query's name.
var sqlStarts = []string{"select", "with", "values", "table"}

// query returns the SQL an audience names and a label for messages: the
// query's name, or "the query in source.audience".
func (s *Source) query(audience string) (sql, label string, err error) {
	audience = strings.TrimSpace(audience)
	if q, ok := s.queries[audience]; ok {
		return trimQuery(q), fmt.Sprintf("query %q", audience), nil
	}
	if audience == "" && len(s.queries) == 1 {
		name := s.queryNames()[0]
		return trimQuery(s.queries[name]), fmt.Sprintf("query %q", name), nil
	}
	if audience == "" {
		return "", "", fmt.Errorf("sql: source.audience is empty: name one of the connection's queries (%s) or write a SELECT", s.describeQueries())
	}
	first := strings.ToLower(strings.Fields(audience)[0])
	for _, w := range sqlStarts {
		if first == w {
			return trimQuery(audience), "the query in source.audience", nil
		}
	}
	return "", "", fmt.Errorf("sql: source.audience %q is neither one of the connection's queries (%s) nor a SELECT: fix the name or add it under queries", audience, s.describeQueries())
}

func (s *Source) describeQueries() string {
	if len(s.queries) == 0 {
		return "it has none"
	}
	return "it has " + strings.Join(s.queryNames(), ", ")
}

// trimQuery drops white space and trailing semicolons, so the query can
// be wrapped in a subquery or a cursor.
func trimQuery(q string) string {
	return strings.TrimRightFunc(strings.TrimSpace(q), func(r rune) bool { return r == ';' || unicode.IsSpace(r) })
}

// countQuery counts a query's rows.
func countQuery(q string) string {
	return "SELECT count(*) FROM (\n" + q + "\n) AS audiencesync_count"
}

// probeQuery runs a query's planning and nothing else, returning its
// columns: LIMIT 0 stops both engines before the first row.
func probeQuery(q string) string {
	return "SELECT * FROM (\n" + q + "\n) AS audiencesync_probe LIMIT 0"
}

// dialect is what differs between the databases.
type dialect interface {
	name() string
	// txOptions opens a read-only transaction in which every statement
	// sees one snapshot.
	txOptions() *dbsql.TxOptions
	// begin sets up tx for reading: the statement timeout and, where the
	// transaction options cannot say it, read-only.
	begin(ctx context.Context, tx *dbsql.Tx, timeout time.Duration) error
	// rows returns the query's rows batch by batch: next returns nil when
	// there are no more.
	rows(ctx context.Context, tx *dbsql.Tx, query string, fetchSize int) (next func(ctx context.Context) (*dbsql.Rows, error), err error)
	// timeoutContext bounds a statement from the client side where the
	// server cannot (SQLite).
	timeoutContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc)
}

// cursorName is the read's server-side cursor.
const cursorName = "audiencesync_read"

// postgres reads through a server-side cursor in a REPEATABLE READ, READ
// ONLY transaction.
type postgres struct{}

func (postgres) name() string { return "PostgreSQL" }

func (postgres) txOptions() *dbsql.TxOptions {
	return &dbsql.TxOptions{Isolation: dbsql.LevelRepeatableRead, ReadOnly: true}
}

func (postgres) begin(ctx context.Context, tx *dbsql.Tx, timeout time.Duration) error {
	// SET LOCAL ends with the transaction, so a pooled connection keeps
	// its own setting.
	_, err := tx.ExecContext(ctx, fmt.Sprintf("SET LOCAL statement_timeout = %d", timeout.Milliseconds()))
	return err
}

func (postgres) rows(ctx context.Context, tx *dbsql.Tx, query string, fetchSize int) (func(context.Context) (*dbsql.Rows, error), error) {
	if _, err := tx.ExecContext(ctx, "DECLARE "+cursorName+" NO SCROLL CURSOR FOR\n"+query); err != nil {
		return nil, err
	}
	fetch := fmt.Sprintf("FETCH FORWARD %d FROM %s", fetchSize, cursorName)
	// Every read's FETCH has the same text but not the same columns: pgx
	// must describe it each time rather than reuse a cached description.
	return func(ctx context.Context) (*dbsql.Rows, error) {
		return tx.QueryContext(ctx, fetch, pgx.QueryExecModeDescribeExec)
	}, nil
}

func (postgres) timeoutContext(ctx context.Context, _ time.Duration) (context.Context, context.CancelFunc) {
	return ctx, func() {} // the server enforces statement_timeout
}

// sqlite reads the query's rows as SQLite steps through them; the file
// is opened read-only (mode=ro, query_only).
type sqlite struct{}

func (sqlite) name() string { return "SQLite" }

// txOptions asks for a plain transaction: SQLite's is one snapshot
// already, and the driver refuses isolation levels.
func (sqlite) txOptions() *dbsql.TxOptions { return nil }

func (sqlite) begin(context.Context, *dbsql.Tx, time.Duration) error { return nil }

func (sqlite) rows(ctx context.Context, tx *dbsql.Tx, query string, _ int) (func(context.Context) (*dbsql.Rows, error), error) {
	done := false
	return func(ctx context.Context) (*dbsql.Rows, error) {
		if done {
			return nil, nil
		}
		done = true
		return tx.QueryContext(ctx, query)
	}, nil
}

func (sqlite) timeoutContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, timeout)
}
