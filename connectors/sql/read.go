package sql

import (
	"context"
	dbsql "database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"go.uber.org/zap"
	moderncsqlite "modernc.org/sqlite"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
)

// ctxCheckEvery is how many rows pass between context checks.
const ctxCheckEvery = 1024

// Read runs the audience's query and streams its rows to out as members.
func (s *Source) Read(ctx context.Context, req connectors.ReadRequest, out connectors.Emitter) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("sql source: %w", err)
	}
	q, label, err := s.query(req.Audience)
	if err != nil {
		return err
	}
	r := &reader{src: s, label: label}
	if err := r.read(ctx, q, req, out); err != nil {
		return r.explain(ctx, err)
	}
	s.log.Debug("sql source read", zap.String("query", label), zap.Int64("rows", r.rows), zap.Int64("rejected", r.rejected))
	return nil
}

// reader is one read's progress, for messages.
type reader struct {
	src            *Source
	label          string
	rows, rejected int64
	// stmtCtx is the statement-bounding context (SQLite), to tell its
	// expiry from the caller's.
	stmtCtx context.Context
	// emitErr is an error the emitter returned: passed through as is.
	emitErr error
}

func (r *reader) read(ctx context.Context, q string, req connectors.ReadRequest, out connectors.Emitter) error {
	s := r.src
	stmtCtx, tx, done, err := r.begin(ctx)
	if err != nil {
		return err
	}
	defer done()
	if s.count {
		var n int64
		if err := tx.QueryRowContext(stmtCtx, s.countQuery(q)).Scan(&n); err != nil {
			return fmt.Errorf("count the rows: %w", err)
		}
		connectors.DeclareCount(out, n)
	}
	next, err := s.dialect.rows(stmtCtx, tx, q, s.fetchSize)
	if err != nil {
		return fmt.Errorf("run: %w", err)
	}
	var cols *columns
	for {
		rows, err := next(stmtCtx)
		if err != nil {
			return fmt.Errorf("fetch rows: %w", err)
		}
		if rows == nil {
			return nil
		}
		if cols == nil {
			if cols, err = mapColumns(rows, req); err != nil {
				rows.Close()
				return err
			}
		}
		n, err := r.batch(ctx, rows, cols, out)
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
	}
}

// begin opens the read-only transaction a read or a probe runs in, with
// the statement timeout set; done ends it and cancels the statement
// context.
func (r *reader) begin(ctx context.Context) (stmtCtx context.Context, tx *dbsql.Tx, done func(), err error) {
	s := r.src
	stmtCtx, cancel := s.dialect.timeoutContext(ctx, s.timeout)
	r.stmtCtx = stmtCtx
	tx, err = s.db.BeginTx(stmtCtx, s.dialect.txOptions())
	if err != nil {
		cancel()
		return nil, nil, nil, fmt.Errorf("begin a read-only transaction: %w", err)
	}
	// Nothing was written: rolling back ends the snapshot, and closes the
	// cursor, whatever happened.
	done = func() { _ = tx.Rollback(); cancel() }
	if err := s.dialect.begin(stmtCtx, tx, s.timeout); err != nil {
		done()
		return nil, nil, nil, fmt.Errorf("set up the transaction: %w", err)
	}
	return stmtCtx, tx, done, nil
}

// batch emits the rows of one batch and returns how many there were.
func (r *reader) batch(ctx context.Context, rows *dbsql.Rows, cols *columns, out connectors.Emitter) (int, error) {
	defer rows.Close()
	var (
		m audience.Member
		n int
	)
	for rows.Next() {
		if r.rows%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return n, err
			}
		}
		n++
		r.rows++
		if err := rows.Scan(cols.dest...); err != nil {
			return n, fmt.Errorf("row %d: %w", r.rows, err)
		}
		if reason := cols.fill(&m); reason != "" {
			out.Reject(reason, r.rows)
			r.rejected++
			continue
		}
		m.Line = r.rows
		if err := out.Emit(&m); err != nil {
			r.emitErr = err
			return n, err
		}
	}
	return n, rows.Err()
}

// explain wraps a failed read's error with what it means and what to do.
func (r *reader) explain(ctx context.Context, err error) error {
	where := fmt.Sprintf("sql source, %s", r.label)
	if r.emitErr != nil {
		return fmt.Errorf("%s, row %d: %w", where, r.rows, err)
	}
	var mapErr *mappingError
	if errors.As(err, &mapErr) {
		return fmt.Errorf("%s: %w", where, err)
	}
	after := ""
	if r.rows > 0 {
		after = fmt.Sprintf(" after %d rows", r.rows)
	}
	const nothing = "the read is incomplete, so nothing is removed"
	var pgErr *pgconn.PgError
	switch {
	case ctx.Err() != nil:
		return fmt.Errorf("%s: read stopped%s: %w", where, after, err)
	case errors.As(err, &pgErr) && pgErr.Code == "57014" && strings.Contains(pgErr.Message, "statement timeout"),
		r.stmtCtx != nil && errors.Is(r.stmtCtx.Err(), context.DeadlineExceeded):
		return fmt.Errorf("%s: a statement ran longer than statement_timeout (%s)%s; %s: make the query faster (an index, a narrower WHERE) or raise statement_timeout: %w",
			where, r.src.timeout, after, nothing, err)
	case errors.As(err, &pgErr) && pgErr.Code == "25006":
		return fmt.Errorf("%s: the query tries to write, and the source reads in a read-only transaction: make it a plain SELECT: %w", where, err)
	case errors.As(err, &pgErr) && strings.HasPrefix(pgErr.Code, "42"),
		r.rows == 0 && isSQLiteQueryError(err):
		// Syntax errors and unknown tables or columns: the query is wrong.
		return fmt.Errorf("%s: %s rejected the query: fix it (audiencesync check tries it without reading): %w", where, r.src.dialect.name(), err)
	case errors.As(err, &pgErr) && strings.HasPrefix(pgErr.Code, "57P"),
		isConnLost(err):
		return fmt.Errorf("%s: the connection to %s was lost%s; %s: check the database and run again: %w", where, r.src.dialect.name(), after, nothing, err)
	}
	return fmt.Errorf("%s: the read failed%s; %s: %w", where, after, nothing, err)
}

// sqliteError is SQLITE_ERROR, the primary result code of a statement
// SQLite cannot run: a syntax error, an unknown table or column.
const sqliteError = 1

// isSQLiteQueryError reports SQLite refusing the statement itself.
func isSQLiteQueryError(err error) bool {
	var e *moderncsqlite.Error
	return errors.As(err, &e) && e.Code()&0xff == sqliteError
}

// isConnLost reports an error that means the connection broke rather than
// the query failing.
func isConnLost(err error) bool {
	var netErr net.Error
	return errors.Is(err, dbsql.ErrConnDone) || errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNRESET) || errors.As(err, &netErr)
}
