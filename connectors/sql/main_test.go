package sql_test

import (
	dbsql "database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/connectortest"
	sqlsource "github.com/audiencesync/audiencesync/connectors/sql"
	"github.com/audiencesync/audiencesync/internal/pgtest"
)

// pg is the PostgreSQL server the package's tests share; nil when
// PostgreSQL is not installed (its tests then skip, or fail under CI).
var pg *pgtest.Server

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m, &pg)) }

// database is one test database of either driver: settings that read it
// and a read-write handle to fill it.
type database struct {
	driver   string
	settings sqlsource.Settings
	db       *dbsql.DB
	// dsn is the PostgreSQL DSN, or the SQLite file.
	dsn string
}

// newDatabase makes an empty database for t.
func newDatabase(t testing.TB, driver string) *database {
	t.Helper()
	d := &database{driver: driver}
	var err error
	switch driver {
	case sqlsource.DriverPostgres:
		d.dsn = pgtest.Database(t, pg)
		d.settings = sqlsource.Settings{Driver: driver, DSN: auth.NewSecret(d.dsn)}
		d.db, err = dbsql.Open("pgx", d.dsn)
	default:
		d.dsn = filepath.Join(t.TempDir(), "crm.db")
		d.settings = sqlsource.Settings{Driver: driver, Path: d.dsn}
		d.db, err = dbsql.Open("sqlite", d.dsn)
	}
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.db.Close() })
	return d
}

// exec runs statements that set the database up.
func (d *database) exec(t testing.TB, stmts ...string) {
	t.Helper()
	for _, s := range stmts {
		_, err := d.db.ExecContext(t.Context(), s)
		require.NoError(t, err, s)
	}
}

// source builds a source on the database with edit applied to its
// settings.
func (d *database) source(t testing.TB, edit func(*sqlsource.Settings)) *sqlsource.Source {
	t.Helper()
	s := d.settings
	if edit != nil {
		edit(&s)
	}
	src, err := sqlsource.New(&s, connectors.Env{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = src.Close() })
	return src
}

// drivers are both drivers, for tests that run on each.
var drivers = []string{sqlsource.DriverPostgres, sqlsource.DriverSQLite}

// eachDriver runs test in parallel on an empty database of each driver.
func eachDriver(t *testing.T, test func(t *testing.T, d *database)) {
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			test(t, newDatabase(t, driver))
		})
	}
}

// contactColumns are the columns of the contacts table the tests fill
// from synthetic members, in member field order.
var contactColumns = []string{"email", "phone", "first_name", "last_name", "zip", "country"}

// loadContacts creates a contacts table holding members (id = position,
// from 1) and returns the request that reads every column.
func (d *database) loadContacts(t testing.TB, members []audience.Member) connectors.ReadRequest {
	t.Helper()
	d.exec(t, `CREATE TABLE contacts (id bigint PRIMARY KEY, crm_key text, email text, phone text, first_name text,
		last_name text, zip text, country text, ad_user_data text, ad_personalization text)`)
	tx, err := d.db.BeginTx(t.Context(), nil)
	require.NoError(t, err)
	ph := make([]string, 10)
	for i := range ph {
		ph[i] = d.placeholder(i + 1)
	}
	stmt, err := tx.PrepareContext(t.Context(), "INSERT INTO contacts VALUES ("+strings.Join(ph, ", ")+")")
	require.NoError(t, err)
	for i, m := range members {
		args := []any{i + 1, m.Key}
		for _, k := range connectortest.DefaultKinds {
			args = append(args, nullable(m.Fields[k]))
		}
		args = append(args, nullable(connectortest.ConsentValue(m.Consent.AdUserData)), nullable(connectortest.ConsentValue(m.Consent.AdPersonalization)))
		_, err := stmt.ExecContext(t.Context(), args...)
		require.NoError(t, err)
	}
	require.NoError(t, stmt.Close())
	require.NoError(t, tx.Commit())
	req := connectors.ReadRequest{
		Audience: "SELECT * FROM contacts ORDER BY id",
		Key:      "crm_key",
		Fields:   map[audience.Kind]string{},
		Consent:  connectors.ConsentFields{AdUserData: "ad_user_data", AdPersonalization: "ad_personalization"},
	}
	for i, k := range connectortest.DefaultKinds {
		req.Fields[k] = contactColumns[i]
	}
	return req
}

// placeholder is the driver's n-th bind parameter.
func (d *database) placeholder(n int) string {
	if d.driver == sqlsource.DriverPostgres {
		return fmt.Sprintf("$%d", n)
	}
	return "?"
}

// nullable stores an empty value as NULL, which the source reads back as
// empty.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}
