package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
)

// stmtCache holds the read pool's prepared statements, by query text.
// Parsing a query costs SQLite about as much as running one of the small
// queries the API repeats (a token, a lock, a run, a page of runs), so the
// reads that repeat are prepared once; database/sql prepares them again
// on each connection of the pool as it first uses them there. The queries
// are the code's own, so the cache is bounded by the code (a run filter's
// combinations of clauses and of statuses).
type stmtCache struct {
	mu     sync.Mutex
	stmts  map[string]*sql.Stmt
	closed bool
}

// prepared returns query prepared on db.
func (c *stmtCache) prepared(ctx context.Context, db *sql.DB, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if st, ok := c.stmts[query]; ok {
		return st, nil
	}
	if c.closed {
		return nil, errors.New("the state store is closed")
	}
	st, err := db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	if c.stmts == nil {
		c.stmts = make(map[string]*sql.Stmt)
	}
	c.stmts[query] = st
	return st, nil
}

// close closes every statement; later calls prepare nothing.
func (c *stmtCache) close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	var errs []error
	for _, st := range c.stmts {
		errs = append(errs, st.Close())
	}
	c.stmts = nil
	return errors.Join(errs...)
}

// readRow runs a one-row query on the read pool, prepared once.
func (s *Store) readRow(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := s.stmts.prepared(ctx, s.read, query)
	if err != nil {
		// The same query unprepared fails the same way, and its Row
		// carries the error to Scan.
		return s.read.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

// readRows runs a query on the read pool, or in tx when it is set,
// prepared once.
func (s *Store) readRows(ctx context.Context, tx *sql.Tx, query string, args ...any) (*sql.Rows, error) {
	st, err := s.stmts.prepared(ctx, s.read, query)
	if err != nil {
		return nil, err
	}
	if tx != nil {
		return tx.StmtContext(ctx, st).QueryContext(ctx, args...)
	}
	return st.QueryContext(ctx, args...)
}
