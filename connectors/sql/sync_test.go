package sql_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/connectortest"
	"github.com/audiencesync/audiencesync/connectors/file"
	sqlsource "github.com/audiencesync/audiencesync/connectors/sql"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/syncs"
)

// syncConfig reads the contacts table through a query that sleeps
// knobs.delay seconds once and knobs.row_delay seconds per row, so a test
// can slow a later run down.
const syncConfig = `state:
  path: ./state.db
connections:
  crm_db:
    type: sql
    driver: postgres
    dsn: ${file:./dsn.secret}
    statement_timeout: 2s
    fetch_size: 20
    count: true
    queries:
      newsletter: |
        SELECT c.id, c.email
        FROM knobs k, pg_sleep(k.delay), contacts c,
             LATERAL (SELECT pg_sleep(k.row_delay) WHERE c.id > 0) AS per_row
        WHERE c.newsletter;
  exports:
    type: file
    dir: ./out
    formats: [google]
syncs:
  - name: newsletter
    source:
      connection: crm_db
      audience: newsletter
      key: id
      fields: {email: email}
    destinations:
      - connection: exports
        consent: {ad_user_data: granted, ad_personalization: granted}
`

// syncBundle is a service whose sync reads a PostgreSQL database.
type syncBundle struct {
	svc *syncs.Service
	db  *database
	// shortCount makes the count one more than the rows.
	shortCount *atomic.Bool
}

func setupSync(t *testing.T) *syncBundle {
	t.Helper()
	d := newDatabase(t, sqlsource.DriverPostgres)
	d.exec(t, `CREATE TABLE knobs (delay float8, row_delay float8)`, `INSERT INTO knobs VALUES (0, 0)`,
		`CREATE TABLE contacts AS SELECT g AS id, 'member' || g || '@example.com' AS email, true AS newsletter FROM generate_series(1, 200) g`)
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "dsn.secret"), []byte(d.dsn+" application_name=audiencesync-read\n"), 0o600))
	path := filepath.Join(dir, "audiencesync.yaml")
	require.NoError(t, os.WriteFile(path, []byte(syncConfig), 0o600))
	short := &atomic.Bool{}
	reg := &connectors.Registry{}
	reg.Register(sqlsource.SpecWithCount(func(q string) string {
		if short.Load() {
			return "SELECT count(*) + 1 FROM (" + q + ") AS c"
		}
		return sqlsource.CountQuery(q)
	}))
	reg.Register(file.Spec())
	svc, err := syncs.Open(t.Context(), syncs.Options{ConfigPath: path, Registry: reg})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, svc.Close()) })
	return &syncBundle{svc: svc, db: d, shortCount: short}
}

// run runs the newsletter sync once.
func (b *syncBundle) run(t *testing.T) (*report.Report, error) {
	return b.svc.Run(t.Context(), "newsletter", syncs.RunOptions{})
}

// TestFailurePartWayRemovesNothing runs a sync once, then again with the
// read failing part-way in each way a database read can fail: the run
// fails, says what to do, and removes no one; a third run with the
// database well removes the members who left meanwhile.
func TestFailurePartWayRemovesNothing(t *testing.T) {
	t.Parallel()
	// failure is a case; breakRead sets the failure up and may start
	// what runs during the read.
	failure := func(name string, breakRead func(t *testing.T, b *syncBundle), want string) connectortest.ReadFailure {
		return connectortest.ReadFailure{Name: name, Want: want, Setup: func(t *testing.T) connectortest.SyncRun {
			b := setupSync(t)
			return connectortest.SyncRun{
				Run: b.run,
				// Ten members leave: a complete read would remove them.
				Leave: func(t *testing.T) { b.db.exec(t, `UPDATE contacts SET newsletter = id <= 190`) },
				Break: func(t *testing.T) { breakRead(t, b) },
				Mend: func(t *testing.T) {
					b.db.exec(t, `UPDATE knobs SET delay = 0, row_delay = 0`)
					b.shortCount.Store(false)
				},
			}
		}}
	}
	connectortest.RunReadFailures(t, connectortest.ReadFailures{Added: 200, Left: 10, Advice: "nothing (is|was uploaded or) removed", Cases: []connectortest.ReadFailure{
		failure("statement timeout", func(t *testing.T, b *syncBundle) {
			b.db.exec(t, `UPDATE knobs SET delay = 5`)
		}, "ran longer than statement_timeout (2s)"),
		failure("backend terminated mid-read", func(t *testing.T, b *syncBundle) {
			b.db.exec(t, `UPDATE knobs SET row_delay = 0.005`) // 190 rows take 1 s, in FETCHes of 0.1 s
			go terminateReader(t, b.db)
		}, "the connection to PostgreSQL was lost"),
		failure("fewer rows than counted", func(t *testing.T, b *syncBundle) {
			b.shortCount.Store(true)
		}, "declared 191 records but yielded 190"),
	}})
}

// terminateReader waits for the source's backend to run its FETCHes and
// terminates it from a second connection.
func terminateReader(t *testing.T, d *database) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(t.Context()), 10*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		var n int
		err := d.db.QueryRowContext(ctx, `SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
			WHERE datname = current_database() AND application_name = 'audiencesync-read' AND query LIKE 'FETCH%'`).Scan(&n)
		if err != nil || n > 0 {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestEmptiedTableIsRefusedByTheGuard empties the audience in the
// database: the read is complete, and the removal guard stops the run
// before anything is removed.
func TestEmptiedTableIsRefusedByTheGuard(t *testing.T) {
	t.Parallel()
	b := setupSync(t)
	connectortest.RunEmptiedSource(t, b.run, 200, func(t *testing.T) { b.db.exec(t, `UPDATE contacts SET newsletter = false`) })
}

// TestCheckFindsABadQuery has `check` plan the sync's query: a good one
// lists its columns, a wrong one is a config-time error.
func TestCheckFindsABadQuery(t *testing.T) {
	t.Parallel()
	b := setupSync(t)
	msg, err := b.svc.Check(t.Context(), "crm_db")
	require.NoError(t, err)
	require.Contains(t, msg, `sync newsletter: query "newsletter" returns "id", "email"`)
	b.db.exec(t, `ALTER TABLE contacts RENAME COLUMN email TO mail`)
	_, err = b.svc.Check(t.Context(), "crm_db")
	require.ErrorContains(t, err, "PostgreSQL rejected the query: fix it")
	require.ErrorContains(t, err, fmt.Sprintf("column c.%s does not exist", "email"))
}
