// Package postgres is the state store on PostgreSQL, for several
// audiencesync processes (nodes) sharing one state: state.dsn in the
// config. It keeps what state/sqlite keeps, in the same shapes, through
// pgx and a connection pool.
//
// Layout. Each (sync, destination) scope gets a small integer id in the
// scopes table; members are rows of (scope_id, key) → fingerprint,
// last_sent (unix microseconds, UTC) and the identifiers packed with
// audience.EncodeIdentifiers, clustered by the primary key so a scope
// streams in key order. Runs keep their report as JSON beside one
// run_summaries row per destination; pending_requests, intents, locks,
// api_tokens, holdout_keys and held_out are as in the SQLite store. Times
// are unix microseconds everywhere, as there. The tables live in the
// connection's current schema (public unless the DSN's search_path says
// otherwise), so River's tables may share the database.
//
// Migrations. Open brings the schema up to date in one transaction that
// first takes a transaction-level advisory lock: two nodes opening one
// new database at once queue, and the second finds the schema current.
// The applied versions are rows of schema_migrations. A database with a
// version newer than this build is refused (ErrSchemaTooNew); a database
// that holds tables of ours but no schema_migrations is refused
// (ErrForeignDatabase) rather than written over.
//
// Commits. Commit copies its changes into a temporary table with COPY,
// then applies the last change of each key with one INSERT … ON CONFLICT
// and one DELETE in the same transaction: all or none, and the outcome is
// that of applying the changes in order. A first upload of a million
// members is a hundred such commits.
//
// Locks. A sync's lock is a lease row (owner, pid, host, times, and a
// lease number), with the semantics state.Locker gives: the caller's
// clock decides expiry, the owner renews, an expired lease is taken over.
// On top of that, the holder keeps a session-level advisory lock on its
// lease number on a connection of its own, opened for that lease, for as
// long as it holds it. PostgreSQL drops a session's advisory locks the
// moment its connection ends, so a node that dies, or loses its
// connection, releases the sync at once: another node asking for the lock
// finds the lease's advisory lock gone and takes the lease over without
// waiting for its expiry, and LockHolder reports such a lease as ended at
// its last heartbeat. A holder that lost only its connection gets a new
// one on its next renewal, if nobody took the lease over meanwhile. Each
// held lock costs one connection beyond the pool.
//
// Connection loss. A write that was under way when its connection died
// fails, wrapping ErrConnLost (a commit is then not applied: PostgreSQL
// rolls back a transaction whose connection is gone, so nothing is
// committed twice when the next run sends it again), and the pool is
// reset so that later calls get new connections. What cannot have done
// anything is tried once more on a new connection: a transaction whose
// BEGIN found its connection dead, and a read.
//
// The DSN holds a password; it never appears in errors or logs (see
// Redact).
package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/audiencesync/audiencesync/state"
)

var _ state.Store = (*Store)(nil)

// Options tune Open. The zero value is the default.
type Options struct {
	// MaxConns caps the pool (not counting the connections of held
	// locks); 0 keeps the DSN's pool_max_conns or pgxpool's default.
	MaxConns int32
}

// Store is a state.Store on a PostgreSQL database. It is safe for
// concurrent use.
type Store struct {
	pool *pgxpool.Pool
	// connCfg opens the connections that hold lock leases (lock.go).
	connCfg *pgx.ConnConfig
	// where names the database for messages, without the password.
	where string
	// secret is the DSN's password, scrubbed from every error.
	secret string

	// scopes caches scope ids: a scope row, once committed, never
	// changes or goes away.
	scopes sync.Map // state.Scope → int64

	leaseMu  sync.Mutex
	sessions map[string]*leaseSession // by lock name; see lock.go

	closeOnce sync.Once
}

// Open connects to the PostgreSQL database dsn names (a postgres:// URL or
// key=value pairs, as libpq takes them) and migrates its schema as
// needed. The role needs to create tables in the database's current
// schema on the first open and after an upgrade.
func Open(ctx context.Context, dsn string, opts Options) (*Store, error) {
	return open(ctx, dsn, opts, migrations)
}

// open is Open with the schema steps as a parameter, for tests of
// upgrades.
func open(ctx context.Context, dsn string, opts Options, steps []migration) (*Store, error) {
	if strings.TrimSpace(dsn) == "" {
		return nil, errors.New("open state database: empty PostgreSQL DSN; set state.dsn to a postgres:// URL")
	}
	where, secret := Redact(dsn), passwordOf(dsn)
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("open state database %s: the DSN does not parse (%s): write it as postgres://USER:PASSWORD@HOST:PORT/DATABASE",
			where, parseProblem(err, secret))
	}
	if opts.MaxConns > 0 {
		cfg.MaxConns = opts.MaxConns
	}
	s := &Store{where: where, secret: secret, connCfg: cfg.ConnConfig.Copy(), sessions: map[string]*leaseSession{}}
	if s.pool, err = pgxpool.NewWithConfig(ctx, cfg); err != nil {
		return nil, fmt.Errorf("open state database %s: %w", where, s.scrub(err))
	}
	if err := s.migrate(ctx, steps); err != nil {
		s.pool.Close()
		return nil, fmt.Errorf("open state database %s: %w", where, s.scrub(err))
	}
	return s, nil
}

// Pool returns the store's connection pool, for code that shares the
// database (River's queue). The store keeps owning it: do not close it;
// Close does.
func (s *Store) Pool() *pgxpool.Pool { return s.pool }

// Close closes the connections of held locks, which releases their
// advisory locks, and the pool. Calling it again does nothing.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.leaseMu.Lock()
		for name, sess := range s.sessions {
			sess.close()
			delete(s.sessions, name)
		}
		s.leaseMu.Unlock()
		s.pool.Close()
	})
	return nil
}

// inTx runs fn in a transaction and commits it if fn succeeds. A lost
// connection resets the pool (see connLost); a transaction whose start
// found its connection dead is started once more, on a new connection.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	for attempt := 0; ; attempt++ {
		tx, err := s.pool.Begin(ctx)
		if err != nil {
			if s.connLost(err) && attempt == 0 && ctx.Err() == nil {
				continue
			}
			return s.scrub(err)
		}
		if err := fn(tx); err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
			s.connLost(err)
			return s.scrub(ctxErr(ctx, err))
		}
		if err := tx.Commit(ctx); err != nil {
			s.connLost(err)
			return s.scrub(ctxErr(ctx, err))
		}
		return nil
	}
}

// exec runs one statement in a transaction of its own (see inTx).
func (s *Store) exec(ctx context.Context, query string, args ...any) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, query, args...)
		return err
	})
}

// ctxErr reports an error caused by ctx ending as ctx's error.
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil && !errors.Is(err, ctx.Err()) {
		return fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return err
}

// ErrConnLost is wrapped by the errors of calls whose connection to
// PostgreSQL broke while they ran: whatever they were writing was not
// committed, and the next call connects again.
var ErrConnLost = errors.New("the connection to the PostgreSQL state database was lost")

// connLost reports whether err means the connection died (the server
// ended it, the network broke), and if so resets the pool so that no
// later call is handed one of its other, now dead, idle connections.
func (s *Store) connLost(err error) bool {
	if !isConnLost(err) {
		return false
	}
	s.pool.Reset()
	return true
}

// isConnLost reports whether err is a broken connection rather than an
// answer from a working server.
func isConnLost(err error) bool {
	if err == nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var pg *pgconn.PgError
	if errors.As(err, &pg) {
		// Class 08 is connection exceptions; 57P01-57P03 are the server
		// ending sessions (pg_terminate_backend, shutdown, restart).
		return strings.HasPrefix(pg.Code, "08") || pg.Code == "57P01" || pg.Code == "57P02" || pg.Code == "57P03"
	}
	msg := err.Error()
	return pgconn.SafeToRetry(err) || strings.Contains(msg, "conn closed") || strings.Contains(msg, "unexpected EOF") ||
		strings.Contains(msg, "connection reset") || strings.Contains(msg, "broken pipe") || strings.Contains(msg, "failed to connect")
}

// wrapLost marks an error of a lost connection with ErrConnLost.
func wrapLost(err error) error {
	if isConnLost(err) && !errors.Is(err, ErrConnLost) {
		return fmt.Errorf("%w: %w", ErrConnLost, err)
	}
	return err
}

// scrub removes the DSN's password from err's message (and marks lost
// connections); errors.Is and errors.As still see through it.
func (s *Store) scrub(err error) error { return scrub(wrapLost(err), s.secret) }

func scopeName(sc state.Scope) string {
	return fmt.Sprintf("sync %q destination %q", sc.Sync, sc.Destination)
}

// query runs a read on the pool. A read whose connection turned out
// dead before it answered is asked once more, on a new connection: a
// read is safe to repeat.
func (s *Store) query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil && s.connLost(err) && ctx.Err() == nil {
		rows, err = s.pool.Query(ctx, sql, args...)
	}
	return rows, err
}

// queryRow is query for one row; see retryRow.
func (s *Store) queryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return retryRow{s: s, ctx: ctx, sql: sql, args: args}
}

// retryRow runs its query when scanned, once more when the first
// connection turned out dead.
type retryRow struct {
	s    *Store
	ctx  context.Context
	sql  string
	args []any
}

func (r retryRow) Scan(dest ...any) error {
	err := r.s.pool.QueryRow(r.ctx, r.sql, r.args...).Scan(dest...)
	if err != nil && r.s.connLost(err) && r.ctx.Err() == nil {
		err = r.s.pool.QueryRow(r.ctx, r.sql, r.args...).Scan(dest...)
	}
	return err
}
