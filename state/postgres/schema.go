package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ErrSchemaTooNew is returned by Open for a database whose schema was
// written by a newer audiencesync than this one.
var ErrSchemaTooNew = errors.New("state database schema is newer than this audiencesync supports")

// ErrForeignDatabase is returned by Open for a database that holds tables
// named as ours but no record of our migrations: another application's,
// which the store will not write over.
var ErrForeignDatabase = errors.New("the database holds tables the state store would create, but no audiencesync schema version")

// Advisory lock keys are pairs (class, id). The class is "AuSy" and two
// neighbours, so the store's keys keep clear of other users of the
// database (River hashes its own into one bigint key space).
const (
	// classMigrate with id 0 serialises migrations (a transaction lock).
	classMigrate int32 = 0x41755379
	// classLease with a lease number is the session lock a lock's holder
	// keeps (lock.go).
	classLease int32 = 0x4175537a
	// classLockName with hashtext(name) serialises the changes to one
	// lock's lease (a transaction lock).
	classLockName int32 = 0x4175537b
)

// migration is one schema step, applied in one transaction with the
// others.
type migration struct {
	stmts []string
}

// migrations are the schema steps in order; version N is the first N
// applied. Append only: never edit a step that has shipped.
var migrations = []migration{
	// 1: scopes, members, audience ids, intents, runs with their typed
	// summaries, pending platform requests, and lock leases. Times are
	// unix microseconds (UTC); ids is audience.EncodeIdentifiers output.
	{stmts: []string{
		`CREATE TABLE scopes (
			id   bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
			sync text NOT NULL,
			dest text NOT NULL,
			UNIQUE (sync, dest)
		)`,
		`CREATE TABLE members (
			scope_id    bigint NOT NULL REFERENCES scopes (id),
			key         bytea NOT NULL,
			fingerprint bytea NOT NULL,
			last_sent   bigint NOT NULL,
			ids         bytea,
			PRIMARY KEY (scope_id, key)
		)`,
		`CREATE TABLE audiences (
			scope_id  bigint PRIMARY KEY REFERENCES scopes (id),
			remote_id text NOT NULL
		)`,
		`CREATE TABLE intents (
			scope_id bigint PRIMARY KEY REFERENCES scopes (id),
			intent   bytea NOT NULL,
			recorded bigint NOT NULL
		)`,
		// finished and report are NULL while the run is in progress.
		`CREATE TABLE runs (
			id         text PRIMARY KEY,
			sync       text NOT NULL,
			status     text NOT NULL,
			started    bigint NOT NULL,
			finished   bigint,
			report     bytea,
			owner      text NOT NULL DEFAULT '',
			started_by text NOT NULL DEFAULT ''
		)`,
		`CREATE INDEX runs_sync_started ON runs (sync, started)`,
		`CREATE INDEX runs_started ON runs (started)`,
		// The platform columns are NULL when the platform reported
		// nothing; platform_size is NULL when it reported no size. seq
		// keeps the report's destination order.
		`CREATE TABLE run_summaries (
			run_id            text NOT NULL REFERENCES runs (id),
			scope_id          bigint NOT NULL REFERENCES scopes (id),
			seq               integer NOT NULL,
			status            text NOT NULL,
			planned_add       bigint NOT NULL,
			planned_remove    bigint NOT NULL,
			planned_update    bigint NOT NULL,
			planned_refresh   bigint NOT NULL,
			planned_unchanged bigint NOT NULL,
			added             bigint NOT NULL,
			removed           bigint NOT NULL,
			updated           bigint NOT NULL,
			refreshed         bigint NOT NULL,
			failed            bigint NOT NULL,
			not_attempted     bigint NOT NULL,
			members           bigint NOT NULL,
			platform_status   text,
			match_rate        text,
			platform_size     bigint,
			started           bigint NOT NULL,
			finished          bigint NOT NULL,
			PRIMARY KEY (run_id, scope_id)
		)`,
		`CREATE INDEX run_summaries_scope_finished ON run_summaries (scope_id, finished)`,
		`CREATE TABLE pending_requests (
			scope_id   bigint NOT NULL REFERENCES scopes (id),
			request_id text NOT NULL,
			kind       text NOT NULL,
			recorded   bigint NOT NULL,
			PRIMARY KEY (scope_id, request_id)
		)`,
		// lease numbers the holder's session advisory lock (lock.go).
		`CREATE SEQUENCE lock_leases AS integer CYCLE`,
		`CREATE TABLE locks (
			name      text PRIMARY KEY,
			owner     text NOT NULL,
			pid       integer NOT NULL,
			host      text NOT NULL,
			acquired  bigint NOT NULL,
			heartbeat bigint NOT NULL,
			expires   bigint NOT NULL,
			lease     integer NOT NULL
		)`,
	}},
	// 2: what the daemon and segments keep: the API's tokens (their
	// SHA-256, never the token; last_used NULL when never used), each
	// sync's holdout key and who is held out of each segment.
	{stmts: []string{
		`CREATE TABLE api_tokens (
			id        text PRIMARY KEY,
			name      text NOT NULL UNIQUE,
			role      text NOT NULL,
			hash      bytea NOT NULL,
			created   bigint NOT NULL,
			last_used bigint
		)`,
		`CREATE TABLE holdout_keys (
			sync    text PRIMARY KEY,
			key     bytea NOT NULL,
			created bigint NOT NULL
		)`,
		`CREATE TABLE held_out (
			sync     text NOT NULL,
			segment  text NOT NULL,
			key      bytea NOT NULL,
			recorded bigint NOT NULL,
			PRIMARY KEY (sync, segment, key)
		)`,
	}},
}

// ourTables are the tables the migrations create, which a database
// without schema_migrations must not hold already.
var ourTables = []string{"scopes", "members", "audiences", "intents", "runs", "run_summaries", "pending_requests",
	"locks", "api_tokens", "holdout_keys", "held_out"}

// migrate brings the schema up to the latest of steps in one transaction
// under an advisory lock, so nodes opening at once apply each step once.
func (s *Store) migrate(ctx context.Context, steps []migration) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, 0)`, classMigrate); err != nil {
			return fmt.Errorf("wait for other nodes' migrations: %w", err)
		}
		var exists bool
		if err := tx.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
			return fmt.Errorf("read schema version: %w", err)
		}
		version := 0
		if exists {
			if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&version); err != nil {
				return fmt.Errorf("read schema version: %w", err)
			}
		} else {
			if err := checkNoTables(ctx, tx); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `CREATE TABLE schema_migrations (
				version    integer PRIMARY KEY,
				applied_at timestamptz NOT NULL DEFAULT now()
			)`); err != nil {
				return fmt.Errorf("create schema_migrations: %w", err)
			}
		}
		if version > len(steps) {
			return fmt.Errorf("%w: the database has version %d, this build knows up to %d; upgrade audiencesync or point state.dsn at another database",
				ErrSchemaTooNew, version, len(steps))
		}
		for v := version; v < len(steps); v++ {
			for _, stmt := range steps[v].stmts {
				if _, err := tx.Exec(ctx, stmt); err != nil {
					return fmt.Errorf("migrate schema to version %d: %w", v+1, err)
				}
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, v+1); err != nil {
				return fmt.Errorf("record schema version %d: %w", v+1, err)
			}
		}
		return nil
	})
}

// checkNoTables refuses to lay our schema over another application's
// tables of the same names.
func checkNoTables(ctx context.Context, tx pgx.Tx) error {
	var found []string
	rows, err := tx.Query(ctx, `SELECT t FROM unnest($1::text[]) t WHERE to_regclass(t) IS NOT NULL`, ourTables)
	if err != nil {
		return fmt.Errorf("inspect schema: %w", err)
	}
	found, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return fmt.Errorf("inspect schema: %w", err)
	}
	if len(found) > 0 {
		return fmt.Errorf("%w (it has %v); point state.dsn at a database of its own", ErrForeignDatabase, found)
	}
	return nil
}

// SchemaVersion returns the schema version the database is at.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	if err := s.queryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", s.scrub(err))
	}
	return v, nil
}

// Check implements the service's integrity check (syncs.IntegrityChecker):
// the schema is this build's, and every member row has a key and a
// fingerprint of the sizes the store writes.
func (s *Store) Check(ctx context.Context) error {
	v, err := s.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	if v != len(migrations) {
		return fmt.Errorf("state database schema is at version %d, this build writes %d: open it again to migrate", v, len(migrations))
	}
	var bad int64
	if err := s.queryRow(ctx, `SELECT count(*) FROM members WHERE length(key) <> 16 OR length(fingerprint) <> 16`).Scan(&bad); err != nil {
		return fmt.Errorf("check members: %w", s.scrub(err))
	}
	if bad > 0 {
		return fmt.Errorf("state database %s: %d member rows are damaged (a key or fingerprint of the wrong size)", s.where, bad)
	}
	return nil
}
