package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// applicationID marks the file as an audiencesync state database
// (PRAGMA application_id; "AuSy").
const applicationID = 0x41755379

// ErrSchemaTooNew is returned by Open for a database whose schema was
// written by a newer audiencesync than this one.
var ErrSchemaTooNew = errors.New("state database schema is newer than this audiencesync supports")

// ErrForeignDatabase is returned by Open for a SQLite file that another
// application created.
var ErrForeignDatabase = errors.New("not an audiencesync state database")

// migration is one schema step: statements, then an optional backfill
// that fills new tables from what older versions stored, in the same
// transaction.
type migration struct {
	stmts    []string
	backfill func(ctx context.Context, tx *sql.Tx) error
}

// migrations are the schema steps in order; the schema version (PRAGMA
// user_version) is the number applied. Append only: never edit a step that
// has shipped.
var migrations = []migration{
	// 1: scopes, members, audiences, runs.
	{stmts: []string{
		`CREATE TABLE scopes (
			id   INTEGER PRIMARY KEY,
			sync TEXT NOT NULL,
			dest TEXT NOT NULL,
			UNIQUE (sync, dest)
		)`,
		// ids is audience.EncodeIdentifiers output; last_sent is unix
		// microseconds.
		`CREATE TABLE members (
			scope_id    INTEGER NOT NULL REFERENCES scopes (id),
			key         BLOB NOT NULL,
			fingerprint BLOB NOT NULL,
			last_sent   INTEGER NOT NULL,
			ids         BLOB,
			PRIMARY KEY (scope_id, key)
		) WITHOUT ROWID`,
		`CREATE TABLE audiences (
			scope_id  INTEGER PRIMARY KEY REFERENCES scopes (id),
			remote_id TEXT NOT NULL
		)`,
		// started and finished are unix microseconds; finished and report
		// are NULL while the run is in progress.
		`CREATE TABLE runs (
			id       TEXT PRIMARY KEY,
			sync     TEXT NOT NULL,
			status   TEXT NOT NULL,
			started  INTEGER NOT NULL,
			finished INTEGER,
			report   BLOB
		)`,
		`CREATE INDEX runs_sync_started ON runs (sync, started)`,
		`CREATE INDEX runs_started ON runs (started)`,
	}},
	// 2: locks (see lock.go), and the lock owner each run was started under.
	{stmts: []string{
		// acquired, heartbeat and expires are unix microseconds.
		`CREATE TABLE locks (
			name      TEXT PRIMARY KEY,
			owner     TEXT NOT NULL,
			pid       INTEGER NOT NULL,
			host      TEXT NOT NULL,
			acquired  INTEGER NOT NULL,
			heartbeat INTEGER NOT NULL,
			expires   INTEGER NOT NULL
		)`,
		`ALTER TABLE runs ADD COLUMN owner TEXT NOT NULL DEFAULT ''`,
	}},
	// 3: intents, the write-ahead record of a destructive step under way
	// (writeahead.go); recorded is unix microseconds.
	{stmts: []string{
		`CREATE TABLE intents (
			scope_id INTEGER PRIMARY KEY REFERENCES scopes (id),
			intent   BLOB NOT NULL,
			recorded INTEGER NOT NULL
		)`,
	}},
	// 4: typed run summaries (runs.go) and pending platform requests
	// (pending.go), backfilled from the reports older versions stored
	// (backfill.go).
	{stmts: []string{
		// One row per run and destination. The platform columns are NULL
		// when the platform reported nothing; platform_size is NULL when
		// it reported no size. seq keeps the report's destination order;
		// started and finished are unix microseconds.
		`CREATE TABLE run_summaries (
			run_id            TEXT NOT NULL REFERENCES runs (id),
			scope_id          INTEGER NOT NULL REFERENCES scopes (id),
			seq               INTEGER NOT NULL,
			status            TEXT NOT NULL,
			planned_add       INTEGER NOT NULL,
			planned_remove    INTEGER NOT NULL,
			planned_update    INTEGER NOT NULL,
			planned_refresh   INTEGER NOT NULL,
			planned_unchanged INTEGER NOT NULL,
			added             INTEGER NOT NULL,
			removed           INTEGER NOT NULL,
			updated           INTEGER NOT NULL,
			refreshed         INTEGER NOT NULL,
			failed            INTEGER NOT NULL,
			not_attempted     INTEGER NOT NULL,
			members           INTEGER NOT NULL,
			platform_status   TEXT,
			match_rate        TEXT,
			platform_size     INTEGER,
			started           INTEGER NOT NULL,
			finished          INTEGER NOT NULL,
			PRIMARY KEY (run_id, scope_id)
		)`,
		`CREATE INDEX run_summaries_scope_finished ON run_summaries (scope_id, finished)`,
		// recorded is unix microseconds.
		`CREATE TABLE pending_requests (
			scope_id   INTEGER NOT NULL REFERENCES scopes (id),
			request_id TEXT NOT NULL,
			kind       TEXT NOT NULL,
			recorded   INTEGER NOT NULL,
			PRIMARY KEY (scope_id, request_id)
		)`,
	}, backfill: backfillFromReports},
	// 5: API tokens (tokens.go): the SHA-256 of each token, never the
	// token. created and last_used are unix microseconds; last_used is
	// NULL for a token never used.
	{stmts: []string{
		`CREATE TABLE api_tokens (
			id        TEXT PRIMARY KEY,
			name      TEXT NOT NULL UNIQUE,
			role      TEXT NOT NULL,
			hash      BLOB NOT NULL,
			created   INTEGER NOT NULL,
			last_used INTEGER
		)`,
	}},
	// 6: segment holdouts (holdouts.go): each sync's secret holdout key,
	// and the member keys held out of each segment. created and
	// recorded are unix microseconds.
	{stmts: []string{
		`CREATE TABLE holdout_keys (
			sync    TEXT PRIMARY KEY,
			key     BLOB NOT NULL,
			created INTEGER NOT NULL
		)`,
		`CREATE TABLE held_out (
			sync     TEXT NOT NULL,
			segment  TEXT NOT NULL,
			key      BLOB NOT NULL,
			recorded INTEGER NOT NULL,
			PRIMARY KEY (sync, segment, key)
		) WITHOUT ROWID`,
	}},
	// 7: who or what started each run (state.Run.StartedBy); '' for the
	// runs recorded before, which did not say.
	{stmts: []string{
		`ALTER TABLE runs ADD COLUMN started_by TEXT NOT NULL DEFAULT ''`,
	}},
}

// migrate brings the schema up to the latest of steps in one transaction.
func migrate(ctx context.Context, db *sql.DB, migrations []migration) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin migration: %w", err)
	}
	defer tx.Rollback()

	var appID, version int
	if err := tx.QueryRowContext(ctx, `PRAGMA application_id`).Scan(&appID); err != nil {
		return fmt.Errorf("read application id: %w", err)
	}
	if err := tx.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&version); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if appID != 0 && appID != applicationID {
		return fmt.Errorf("%w (application id %#x); check state.path", ErrForeignDatabase, appID)
	}
	if appID == 0 && version != 0 {
		return fmt.Errorf("%w (schema version %d without application id); check state.path", ErrForeignDatabase, version)
	}
	if version > len(migrations) {
		return fmt.Errorf("%w: the file has version %d, this build knows up to %d; upgrade audiencesync or point state.path at another file",
			ErrSchemaTooNew, version, len(migrations))
	}
	if version == len(migrations) {
		return nil
	}
	if version == 0 {
		if err := checkEmpty(ctx, tx); err != nil {
			return err
		}
	}
	for v := version; v < len(migrations); v++ {
		for _, stmt := range migrations[v].stmts {
			if _, err := tx.ExecContext(ctx, stmt); err != nil {
				return fmt.Errorf("migrate schema to version %d: %w", v+1, err)
			}
		}
		if fill := migrations[v].backfill; fill != nil {
			if err := fill(ctx, tx); err != nil {
				return fmt.Errorf("migrate schema to version %d: %w", v+1, err)
			}
		}
	}
	// PRAGMA arguments cannot be bound; both values are our own integers.
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, len(migrations))); err != nil {
		return fmt.Errorf("set schema version: %w", err)
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA application_id = %d`, applicationID)); err != nil {
		return fmt.Errorf("set application id: %w", err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit migration: %w", err)
	}
	return nil
}

// checkEmpty refuses to lay our schema over another application's tables.
func checkEmpty(ctx context.Context, tx *sql.Tx) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema`).Scan(&n); err != nil {
		return fmt.Errorf("inspect schema: %w", err)
	}
	if n > 0 {
		return fmt.Errorf("%w (it has %d schema objects but no audiencesync version); check state.path", ErrForeignDatabase, n)
	}
	return nil
}
