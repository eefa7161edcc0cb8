package postgres_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/sandbox"
	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/state/postgres"
	"github.com/audiencesync/audiencesync/syncs"
)

// lossConfig syncs a CSV export to the X replica at %s in batches of 200,
// one at a time, with its state on PostgreSQL (state.dsn from the
// environment, as a deployment would).
const lossConfig = `state:
  dsn: ${env:STATE_DSN}
connections:
  crm_export: {type: csv, path: ./contacts.csv}
  x: {type: x, sandbox: true, endpoint: "%s/", account_id: 18ce54d4x5t}
syncs:
  - name: buyers
    source:
      connection: crm_export
      key: contact_id
      default_region: US
      fields: {email: email}
    destinations:
      - connection: x
        audience: {name: Buyers}
        batch_size: 200
        concurrency: 1
`

var lossScope = state.Scope{Sync: "buyers", Destination: "x"}

// lossBed is a sandbox served over HTTP, whose handler may run a hook
// before serving a request, a config pointing at it and at a database.
type lossBed struct {
	sb   *sandbox.Server
	hook atomic.Pointer[func(*http.Request)]
	dsn  string
	cfg  string
}

func newLossBed(t *testing.T, contacts int) *lossBed {
	t.Helper()
	b := &lossBed{sb: sandbox.New(sandbox.Options{}), dsn: database(t)}
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := b.hook.Load(); h != nil {
			(*h)(r)
		}
		b.sb.ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	dir := t.TempDir()
	b.cfg = filepath.Join(dir, "audiencesync.yaml")
	require.NoError(t, os.WriteFile(b.cfg, fmt.Appendf(nil, lossConfig, ts.URL), 0o600))
	var csv strings.Builder
	csv.WriteString("contact_id,email\n")
	for i := range contacts {
		fmt.Fprintf(&csv, "C%06d,person.%06d@example.com\n", i, i)
	}
	require.NoError(t, os.WriteFile(filepath.Join(dir, "contacts.csv"), []byte(csv.String()), 0o600))
	return b
}

// run runs the sync once in a service of its own, as one CLI run would.
func (b *lossBed) run(t *testing.T) (*report.Report, error) {
	t.Helper()
	svc, err := syncs.Open(t.Context(), syncs.Options{ConfigPath: b.cfg, LookupEnv: func(name string) (string, bool) {
		if name == "STATE_DSN" {
			return b.dsn, true
		}
		return "", false
	}})
	require.NoError(t, err)
	defer func() { require.NoError(t, svc.Close()) }()
	return svc.Run(t.Context(), "buyers", syncs.RunOptions{StartedBy: "cli"})
}

// committed counts the members state holds for the sync.
func (b *lossBed) committed(t *testing.T) int64 {
	t.Helper()
	s := openOn(t, b.dsn)
	defer s.Close()
	n, err := s.Count(t.Context(), lossScope)
	require.NoError(t, err)
	return n
}

// requireConverges runs the sync until it holds exactly contacts members
// in state and on the replica: the next run sends what the interrupted
// one did not commit, and a run after that has nothing to send.
func (b *lossBed) requireConverges(t *testing.T, contacts int, before int64) {
	t.Helper()
	rep, err := b.run(t)
	require.NoError(t, err)
	d := rep.Destinations[0]
	require.Equal(t, report.StatusSucceeded, d.Status, d.Errors)
	require.Equal(t, int64(contacts)-before, d.Applied.Added, "the next run sends exactly what state did not commit")
	require.Equal(t, int64(contacts), b.committed(t))
	require.Len(t, b.sb.Members("x", d.AudienceID), contacts, "the replica holds each member once")
	rep, err = b.run(t)
	require.NoError(t, err)
	require.Equal(t, report.Planned{Unchanged: int64(contacts)}, rep.Destinations[0].Planned, "converged: nothing left to send")
}

// TestConnectionLostDuringCommit kills the store's connection in the
// middle of the third commit (a trigger ends its own backend): the run
// fails saying the connection was lost, state holds exactly the commits
// before, and the next run sends the rest, once.
func TestConnectionLostDuringCommit(t *testing.T) {
	t.Parallel()
	const contacts = 1000
	b := newLossBed(t, contacts)
	openOn(t, b.dsn).Close() // the schema, for the trigger
	conn, err := pgx.Connect(t.Context(), b.dsn)
	require.NoError(t, err)
	defer conn.Close(context.Background())
	// A sequence, not a table: its count survives the rollback of the
	// transaction the trigger ends.
	_, err = conn.Exec(t.Context(), `CREATE SEQUENCE test_commits;
		CREATE FUNCTION test_kill_third_commit() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF nextval('test_commits') = 3 THEN
				PERFORM pg_terminate_backend(pg_backend_pid());
			END IF;
			RETURN NULL;
		END $$;
		CREATE TRIGGER test_kill AFTER INSERT ON members FOR EACH STATEMENT EXECUTE FUNCTION test_kill_third_commit()`)
	require.NoError(t, err)

	rep, err := b.run(t)
	require.Error(t, err, "a run whose commit was lost fails")
	d := rep.Destinations[0]
	require.NotEqual(t, report.StatusSucceeded, d.Status)
	require.Contains(t, strings.Join(d.Errors, "\n"), "the connection to the PostgreSQL state database was lost", "the error says what happened")
	before := b.committed(t)
	require.Equal(t, d.Applied.Added, before, "the report counts what state committed")
	require.Less(t, before, int64(contacts), "the lost commit is not in state")
	require.Positive(t, d.Applied.Failed, "the members of the lost commit count as failed")
	require.Len(t, b.sb.Members("x", d.AudienceID), int(d.Applied.Added+d.Applied.Failed),
		"the replica applied the batches whose commit was lost")

	b.requireConverges(t, contacts, before)
}

// TestConnectionsLostMidRun ends every connection to the database (the
// pool's and the lock's session) while the sixth batch is on its way to
// the platform and earlier batches' commits run beside it: a commit under
// way fails, saying so, and the calls after it get new connections (the
// lock's renewal a new session); either way the next run makes state and
// replica agree exactly.
func TestConnectionsLostMidRun(t *testing.T) {
	t.Parallel()
	const contacts = 1000
	b := newLossBed(t, contacts)
	var batches atomic.Int32
	killed := 0
	hook := func(r *http.Request) {
		if r.Method == http.MethodPost && batches.Add(1) == 6 {
			killed = terminate(t, b.dsn)
		}
	}
	b.hook.Store(&hook)
	rep, err := b.run(t)
	b.hook.Store(nil)
	require.Positive(t, killed, "connections were ended mid-run")
	if err != nil {
		// Only a call under way when its connection died may fail, and
		// it says so.
		t.Logf("run failed: %v", rep.Destinations[0].Errors)
		require.Contains(t, strings.Join(rep.Destinations[0].Errors, "\n"), postgres.ErrConnLost.Error())
		b.requireConverges(t, contacts, b.committed(t))
		return
	}
	d := rep.Destinations[0]
	require.Equal(t, int64(contacts), d.Applied.Added)
	require.Equal(t, int64(contacts), b.committed(t))
	require.Len(t, b.sb.Members("x", d.AudienceID), contacts)
	rep, err = b.run(t)
	require.NoError(t, err)
	require.Equal(t, report.Planned{Unchanged: int64(contacts)}, rep.Destinations[0].Planned)
}

// TestServiceErrorsHideThePassword points state.dsn at a server that is
// not there: the run fails naming the secret reference and the server,
// never the password.
func TestServiceErrorsHideThePassword(t *testing.T) {
	t.Parallel()
	b := newLossBed(t, 10)
	const pw = "s3cr3t-pw-5678"
	b.dsn = "postgres://sync:" + pw + "@/state?host=" + t.TempDir() + "&connect_timeout=2"
	_, err := b.run(t)
	require.Error(t, err)
	require.NotContains(t, err.Error(), pw)
	require.Contains(t, err.Error(), "state.dsn ${env:STATE_DSN}")
	require.Contains(t, err.Error(), "postgres://sync@")
}

// TestServiceSharesThePool opens the service's store on state.dsn: it is
// the PostgreSQL store, whose pool other code on the database can use.
func TestServiceSharesThePool(t *testing.T) {
	t.Parallel()
	b := newLossBed(t, 10)
	svc, err := syncs.Open(t.Context(), syncs.Options{ConfigPath: b.cfg, LookupEnv: func(string) (string, bool) { return b.dsn, true }})
	require.NoError(t, err)
	defer svc.Close()
	st, err := svc.Store(t.Context())
	require.NoError(t, err)
	pooled, ok := st.(interface{ Pool() *pgxpool.Pool })
	require.True(t, ok, "%T", st)
	var n int
	require.NoError(t, pooled.Pool().QueryRow(t.Context(), `SELECT count(*) FROM schema_migrations`).Scan(&n))
	require.Positive(t, n)
}
