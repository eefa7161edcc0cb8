package sql_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/connectortest"
	sqlsource "github.com/audiencesync/audiencesync/connectors/sql"
)

// TestConformance runs the source suite on each driver, counting the rows
// first (count: true). The failing source's query raises an error at the
// row after the first `after`.
func TestConformance(t *testing.T) {
	t.Parallel()
	for _, driver := range drivers {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			connectortest.Source(t, connectortest.SourceHarness{
				New: func(t *testing.T, members []audience.Member) (connectors.Source, connectors.ReadRequest) {
					d := newDatabase(t, driver)
					req := d.loadContacts(t, members)
					return d.source(t, func(s *sqlsource.Settings) { s.FetchSize, s.Count = 100, true }), req
				},
				Failing: func(t *testing.T, members []audience.Member, after int) (connectors.Source, connectors.ReadRequest) {
					d := newDatabase(t, driver)
					req := d.loadContacts(t, members)
					// PostgreSQL fails on a division by zero, SQLite on
					// the absolute value of the smallest integer.
					fail := "1 / (id - id) = 1"
					if d.driver == sqlsource.DriverSQLite {
						fail = "abs(-9223372036854775807 - (id > 0)) > 0"
					}
					req.Audience = fmt.Sprintf("SELECT * FROM contacts WHERE CASE WHEN id > %d THEN %s ELSE true END ORDER BY id", after, fail)
					return d.source(t, func(s *sqlsource.Settings) { s.FetchSize = 100 }), req
				},
				// PostgreSQL pages the cursor 100 rows a FETCH; SQLite
				// steps through the rows, which the sizes check all the same.
				PageSize:        100,
				Declares:        true,
				MissingAudience: "SELECT * FROM no_such_table",
				MissingAdvice:   "rejected the query: fix it",
			})
		})
	}
}

// TestValues reads a row of every common column type, and one of NULLs:
// each value arrives as the text the normaliser reads.
func TestValues(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		driver string
		create []string
		want   [][]string // per row: email, phone, zip, country, first_name, last_name
	}{{
		driver: sqlsource.DriverPostgres,
		create: []string{
			`CREATE TABLE v (id int, email varchar(80), phone bigint, zip numeric(10,0), country boolean, first_name date, last_name timestamptz, score double precision)`,
			`INSERT INTO v VALUES (1, 'ada@example.com', 33612345678, 75001, true, '2024-03-01', '2024-03-01 12:30:45.5+02', 33612345678)`,
			`INSERT INTO v VALUES (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
		},
		want: [][]string{
			{"ada@example.com", "33612345678", "75001", "true", "2024-03-01", "2024-03-01T10:30:45.5Z", "33612345678"},
			{"", "", "", "", "", "", ""},
		},
	}, {
		driver: sqlsource.DriverSQLite,
		create: []string{
			`CREATE TABLE v (id int, email text, phone integer, zip real, country boolean, first_name date, last_name text, score real)`,
			`INSERT INTO v VALUES (1, 'ada@example.com', 33612345678, 75001, 1, '2024-03-01', '2024-03-01T10:30:45.5Z', 33612345678.0)`,
			`INSERT INTO v VALUES (2, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`,
		},
		want: [][]string{
			{"ada@example.com", "33612345678", "75001", "1", "2024-03-01", "2024-03-01T10:30:45.5Z", "33612345678"},
			{"", "", "", "", "", "", ""},
		},
	}} {
		t.Run(tc.driver, func(t *testing.T) {
			t.Parallel()
			d := newDatabase(t, tc.driver)
			d.exec(t, tc.create...)
			kinds := []audience.Kind{audience.Email, audience.Phone, audience.Zip, audience.Country, audience.FirstName, audience.LastName, audience.City}
			req := connectors.ReadRequest{Audience: "SELECT * FROM v ORDER BY id", Fields: map[audience.Kind]string{}}
			for i, col := range []string{"email", "phone", "zip", "country", "first_name", "last_name", "score"} {
				req.Fields[kinds[i]] = col
			}
			var rec connectortest.Recorder
			require.NoError(t, d.source(t, nil).Read(t.Context(), req, &rec))
			got := rec.Members()
			require.Len(t, got, len(tc.want))
			for r, m := range got {
				require.Equal(t, int64(r+1), m.Line)
				for i, k := range kinds {
					require.Equal(t, tc.want[r][i], m.Fields[k], "row %d, %s", r+1, k)
				}
			}
		})
	}
}

// TestRejectedRows counts rows without a key or with an unknown consent
// answer by reason and row, and reads the rest.
func TestRejectedRows(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T, d *database) {
		d.exec(t, `CREATE TABLE c (id int, email text, consent text)`,
			`INSERT INTO c VALUES (1, 'a@example.com', 'granted'), (NULL, 'b@example.com', 'denied'), (3, 'c@example.com', 'perhaps'), (4, 'd@example.com', NULL)`)
		req := connectors.ReadRequest{Audience: "SELECT * FROM c ORDER BY email", Key: "id",
			Fields: map[audience.Kind]string{audience.Email: "email"}, Consent: connectors.ConsentFields{AdUserData: "consent"}}
		var rec connectortest.Recorder
		require.NoError(t, d.source(t, nil).Read(t.Context(), req, &rec))
		require.Equal(t, []connectortest.Rejection{{Reason: sqlsource.ReasonMissingKey, Line: 2}, {Reason: sqlsource.ReasonInvalidConsent, Line: 3}}, rec.Rejections())
		got := rec.Members()
		require.Len(t, got, 2)
		require.Equal(t, "1", got[0].Key)
		require.Equal(t, audience.ConsentGranted, got[0].Consent.AdUserData)
		require.Equal(t, audience.ConsentUnspecified, got[1].Consent.AdUserData)
	})
}

// TestMissingColumn names every mapped column the query does not return
// and lists those it does; a column returned twice must be aliased.
func TestMissingColumn(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T, d *database) {
		d.exec(t, `CREATE TABLE c (id int, email text, phone text)`, `INSERT INTO c VALUES (1, 'a@example.com', '555-0100')`)
		src := d.source(t, nil)
		req := connectors.ReadRequest{Audience: "SELECT id, email AS mail FROM c", Key: "id",
			Fields: map[audience.Kind]string{audience.Email: "email", audience.Phone: "phone"}}
		var rec connectortest.Recorder
		err := src.Read(t.Context(), req, &rec)
		require.Error(t, err)
		for _, want := range []string{`column "email" (field email) is not in the query's result`, `column "phone" (field phone)`, `the query returns "id", "mail"`} {
			require.Contains(t, err.Error(), want)
		}
		require.Empty(t, rec.Members())

		// Unquoted names fold case: EMAIL finds email.
		req = connectors.ReadRequest{Audience: "SELECT id, email FROM c", Fields: map[audience.Kind]string{audience.Email: "EMAIL"}}
		require.NoError(t, src.Read(t.Context(), req, &rec))
		require.Equal(t, "a@example.com", rec.Members()[0].Fields[audience.Email])

		req = connectors.ReadRequest{Audience: "SELECT email, phone AS email FROM c", Fields: map[audience.Kind]string{audience.Email: "email"}}
		require.ErrorContains(t, src.Read(t.Context(), req, &rec), "appears more than once in the query's result: give it an alias")
	})
}

// TestBadQuery finds a wrong query at check time and at run time, saying
// what to do; a query that would write is refused by the read-only
// transaction and the table keeps its rows.
func TestBadQuery(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T, d *database) {
		d.exec(t, `CREATE TABLE c (id int, email text)`, `INSERT INTO c VALUES (1, 'a@example.com')`)
		src := d.source(t, func(s *sqlsource.Settings) {
			s.Queries = map[string]string{"good": "SELECT id, email FROM c;", "typo": "SELECT id, emial FROM c", "table": "SELECT * FROM nowhere"}
		})
		require.NoError(t, src.Check(t.Context()))
		found, err := src.CheckAudience(t.Context(), "good")
		require.NoError(t, err)
		require.Equal(t, `query "good" returns "id", "email"`, found)
		found, err = src.CheckRead(t.Context(), connectors.ReadRequest{Audience: "good", Key: "id", Fields: map[audience.Kind]string{audience.Email: "EMAIL"}})
		require.NoError(t, err)
		require.Equal(t, `query "good" returns "id", "email"`, found)
		_, err = src.CheckRead(t.Context(), connectors.ReadRequest{Audience: "good", Fields: map[audience.Kind]string{audience.Phone: "phone"}})
		require.ErrorContains(t, err, `column "phone" (field phone) is not in the query's result; the query returns "id", "email"`)
		for _, name := range []string{"typo", "table"} {
			_, err := src.CheckAudience(t.Context(), name)
			require.ErrorContains(t, err, fmt.Sprintf("query %q", name))
			if d.driver == sqlsource.DriverPostgres {
				require.ErrorContains(t, err, "PostgreSQL rejected the query: fix it")
			}
			var rec connectortest.Recorder
			err = src.Read(t.Context(), connectors.ReadRequest{Audience: name, Fields: map[audience.Kind]string{audience.Email: "email"}}, &rec)
			require.Error(t, err)
			require.Empty(t, rec.Members())
		}

		// Writes through the query: a data-modifying WITH (which
		// PostgreSQL refuses in a cursor), a function that writes (which
		// the read-only transaction refuses) and SQLite's RETURNING
		// (refused by the read-only file).
		writes := []string{"WITH gone AS (DELETE FROM c RETURNING id, email) SELECT * FROM gone", "SELECT id, email, nextval('ids') AS n FROM c"}
		if d.driver == sqlsource.DriverSQLite {
			writes = []string{"DELETE FROM c RETURNING id, email"}
		} else {
			d.exec(t, "CREATE SEQUENCE ids")
		}
		for i, write := range writes {
			var rec connectortest.Recorder
			if i == 0 { // planning alone never calls nextval
				_, err = src.CheckAudience(t.Context(), write)
				require.Error(t, err, "a query that writes is refused")
			}
			err = src.Read(t.Context(), connectors.ReadRequest{Audience: write, Fields: map[audience.Kind]string{audience.Email: "email"}}, &rec)
			require.Error(t, err)
			require.Empty(t, rec.Members())
			if i == 1 {
				require.ErrorContains(t, err, "the query tries to write, and the source reads in a read-only transaction")
				var called bool
				require.NoError(t, d.db.QueryRowContext(t.Context(), "SELECT is_called FROM ids").Scan(&called))
				require.False(t, called, "the sequence did not move")
			}
		}
		var n int
		require.NoError(t, d.db.QueryRowContext(t.Context(), "SELECT count(*) FROM c").Scan(&n))
		require.Equal(t, 1, n, "nothing was deleted")
	})
}

// TestAudienceNamesAQuery reads a named query, a query written out, the
// only named query when source.audience is empty, and refuses a name the
// connection does not have, listing those it has.
func TestAudienceNamesAQuery(t *testing.T) {
	t.Parallel()
	d := newDatabase(t, sqlsource.DriverSQLite)
	d.exec(t, `CREATE TABLE c (id int, email text)`, `INSERT INTO c VALUES (1, 'a@example.com'), (2, 'b@example.com')`)
	read := func(queries map[string]string, aud string) ([]audience.Member, error) {
		var rec connectortest.Recorder
		err := d.source(t, func(s *sqlsource.Settings) { s.Queries = queries }).
			Read(t.Context(), connectors.ReadRequest{Audience: aud, Fields: map[audience.Kind]string{audience.Email: "email"}}, &rec)
		return rec.Members(), err
	}
	both := map[string]string{"first": "SELECT email FROM c WHERE id = 1", "all": "select email from c"}
	for _, tc := range []struct {
		name, audience string
		queries        map[string]string
		want           int
		err            string
	}{
		{name: "named", audience: "first", queries: both, want: 1},
		{name: "named with spaces", audience: "  all ", queries: both, want: 2},
		{name: "written out", audience: "  WITH x AS (SELECT email FROM c) SELECT * FROM x", queries: both, want: 2},
		{name: "the only query", queries: map[string]string{"first": both["first"]}, want: 1},
		{name: "empty with two", queries: both, err: "source.audience is empty: name one of the connection's queries (it has all, first) or write a SELECT"},
		{name: "unknown name", audience: "newsletter", queries: both, err: `source.audience "newsletter" is neither one of the connection's queries (it has all, first) nor a SELECT`},
		{name: "no queries", audience: "newsletter", err: "(it has none)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := read(tc.queries, tc.audience)
			if tc.err != "" {
				require.ErrorContains(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			require.Len(t, got, tc.want)
		})
	}
}

// TestSettings checks what Validate refuses without connecting.
func TestSettings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		s    sqlsource.Settings
		err  string
	}{
		{name: "no driver", err: "driver is required"},
		{name: "unknown driver", s: sqlsource.Settings{Driver: "oracle"}, err: `unknown driver "oracle"`},
		{name: "postgres without dsn", s: sqlsource.Settings{Driver: "postgresql"}, err: "needs dsn"},
		{name: "sqlite without path", s: sqlsource.Settings{Driver: "sqlite3"}, err: "needs path"},
		{name: "sqlite with dsn", s: sqlsource.Settings{Driver: "sqlite", Path: "x.db", DSN: secret("x")}, err: "dsn is for driver postgres"},
		{name: "empty query", s: sqlsource.Settings{Driver: "sqlite", Path: "x.db", Queries: map[string]string{"a": " ; "}}, err: `query "a" is empty`},
		{name: "negative timeout", s: sqlsource.Settings{Driver: "sqlite", Path: "x.db", StatementTimeout: -time.Second}, err: "statement_timeout"},
		{name: "huge fetch", s: sqlsource.Settings{Driver: "sqlite", Path: "x.db", FetchSize: 1 << 20}, err: "fetch_size"},
		{name: "good", s: sqlsource.Settings{Driver: "pgx", DSN: secret("host=/tmp")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.s.Validate()
			if tc.err == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.err)
		})
	}
}

// TestSQLiteFileMissing fails check and read rather than creating an empty
// database that would empty the audience.
func TestSQLiteFileMissing(t *testing.T) {
	t.Parallel()
	path := t.TempDir() + "/missing.db"
	src, err := sqlsource.New(&sqlsource.Settings{Driver: "sqlite", Path: path}, connectors.Env{})
	require.NoError(t, err)
	defer src.Close()
	require.ErrorContains(t, src.Check(t.Context()), "check dsn (or path)")
	require.Error(t, src.Read(t.Context(), connectors.ReadRequest{Audience: "SELECT 1 AS email"}, &connectortest.Recorder{}))
	require.NoFileExists(t, path)
}

// TestStatementTimeout stops a query slower than statement_timeout with a
// failed read that says which setting to change.
func TestStatementTimeout(t *testing.T) {
	t.Parallel()
	d := newDatabase(t, sqlsource.DriverPostgres)
	src := d.source(t, func(s *sqlsource.Settings) { s.StatementTimeout = 200 * time.Millisecond })
	var rec connectortest.Recorder
	start := time.Now()
	err := src.Read(t.Context(), connectors.ReadRequest{Audience: "SELECT 'a@example.com' AS email FROM pg_sleep(5)",
		Fields: map[audience.Kind]string{audience.Email: "email"}}, &rec)
	require.ErrorContains(t, err, "a statement ran longer than statement_timeout (200ms)")
	require.ErrorContains(t, err, "nothing is removed")
	require.Less(t, time.Since(start), 4*time.Second)
	require.Empty(t, rec.Members())
}

// TestBackendTerminated kills the reading backend from a second
// connection part-way: the read fails, saying the connection was lost.
func TestBackendTerminated(t *testing.T) {
	t.Parallel()
	d := newDatabase(t, sqlsource.DriverPostgres)
	d.exec(t, `CREATE TABLE c AS SELECT g AS id, 'user' || g || '@example.com' AS email FROM generate_series(1, 5000) g`)
	src := d.source(t, func(s *sqlsource.Settings) { s.FetchSize = 100 })
	var emitted atomic.Int64
	out := &killer{t: t, d: d, at: 250, emitted: &emitted}
	err := src.Read(t.Context(), connectors.ReadRequest{Audience: "SELECT * FROM c ORDER BY id", Key: "id",
		Fields: map[audience.Kind]string{audience.Email: "email"}}, out)
	require.ErrorContains(t, err, "the connection to PostgreSQL was lost after")
	require.ErrorContains(t, err, "nothing is removed")
	require.Less(t, emitted.Load(), int64(5000))
}

// killer terminates every other backend of its database when the at-th
// member arrives.
type killer struct {
	t       *testing.T
	d       *database
	at      int64
	emitted *atomic.Int64
}

func (k *killer) Emit(*audience.Member) error {
	if k.emitted.Add(1) == k.at {
		var n int
		err := k.d.db.QueryRowContext(context.WithoutCancel(k.t.Context()),
			`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`).Scan(&n)
		require.NoError(k.t, err)
		require.Positive(k.t, n, "the reading backend was found")
	}
	return nil
}

func (*killer) Reject(string, int64) {}

// TestCountDeclared declares the query's count before the first row when
// count is set, and nothing otherwise.
func TestCountDeclared(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T, d *database) {
		req := d.loadContacts(t, connectortest.SyntheticMembers(42, connectortest.DefaultKinds))
		for _, count := range []bool{true, false} {
			out := &declaring{}
			require.NoError(t, d.source(t, func(s *sqlsource.Settings) { s.Count = count; s.FetchSize = 10 }).Read(t.Context(), req, out))
			require.Equal(t, 42, out.emitted)
			if count {
				require.Equal(t, []int64{42}, out.declared)
				require.Zero(t, out.emittedAtDeclare, "declared before the first row")
			} else {
				require.Empty(t, out.declared)
			}
		}
	})
}

type declaring struct {
	declared         []int64
	emitted          int
	emittedAtDeclare int
}

func (d *declaring) Declare(n int64) {
	d.declared = append(d.declared, n)
	d.emittedAtDeclare = d.emitted
}
func (d *declaring) Emit(*audience.Member) error { d.emitted++; return nil }
func (*declaring) Reject(string, int64)          {}

// TestCloseTwice closes a source that never connected, twice.
func TestCloseTwice(t *testing.T) {
	t.Parallel()
	src, err := sqlsource.New(&sqlsource.Settings{Driver: "sqlite", Path: "x.db"}, connectors.Env{})
	require.NoError(t, err)
	require.NoError(t, src.Close())
	require.NoError(t, src.Close())
}

func secret(s string) auth.Secret { return auth.NewSecret(s) }

// TestListAudiences lists the named queries with their row counts, and
// names a query that fails.
func TestListAudiences(t *testing.T) {
	t.Parallel()
	eachDriver(t, func(t *testing.T, d *database) {
		d.exec(t, `CREATE TABLE c (id int, email text)`, `INSERT INTO c VALUES (1, 'a@example.com'), (2, 'b@example.com'), (3, NULL)`)
		src := d.source(t, func(s *sqlsource.Settings) {
			s.Queries = map[string]string{"with-email": "SELECT * FROM c WHERE email IS NOT NULL;", "all": "SELECT * FROM c"}
		})
		got, err := src.ListAudiences(t.Context())
		require.NoError(t, err)
		require.Equal(t, []connectors.AudienceInfo{
			{ID: "all", Ref: "all", Name: "all", Kind: "query", Size: 3},
			{ID: "with-email", Ref: "with-email", Name: "with-email", Kind: "query", Size: 2},
		}, got)

		src = d.source(t, func(s *sqlsource.Settings) { s.Queries = map[string]string{"bad": "SELECT * FROM nowhere"} })
		_, err = src.ListAudiences(t.Context())
		require.ErrorContains(t, err, `query "bad"`)
	})
}

// TestAttributes reads typed columns as member attributes: native
// numbers, booleans and timestamps parse as their types, NULL is missing,
// a text that does not parse is invalid (the row is still read), and a
// column the query does not return is a mapping error.
func TestAttributes(t *testing.T) {
	t.Parallel()
	for _, driver := range []string{sqlsource.DriverPostgres, sqlsource.DriverSQLite} {
		t.Run(driver, func(t *testing.T) {
			t.Parallel()
			d := newDatabase(t, driver)
			d.exec(t,
				`CREATE TABLE a (id int, email text, visits integer, vip boolean, last_visit timestamp, stage text)`,
				`INSERT INTO a VALUES (1, 'user0001@example.com', 12, true, '2026-11-30 08:15:00', 'lead')`,
				`INSERT INTO a VALUES (2, 'user0002@example.com', NULL, NULL, NULL, NULL)`,
			)
			attrs := []connectors.Attribute{
				{Name: "visits", Field: "visits", Type: audience.AttrNumber},
				{Name: "vip", Field: "vip", Type: audience.AttrBool},
				{Name: "last_visit", Field: "last_visit", Type: audience.AttrTime},
				{Name: "stage_number", Field: "stage", Type: audience.AttrNumber},
			}
			req := connectors.ReadRequest{Audience: "SELECT * FROM a ORDER BY id", Key: "id",
				Fields: map[audience.Kind]string{audience.Email: "email"}, Attributes: attrs}
			var rec connectortest.Recorder
			require.NoError(t, d.source(t, nil).Read(t.Context(), req, &rec))
			got := rec.Members()
			require.Len(t, got, 2)
			first := got[0].Attrs
			require.Len(t, first, len(attrs))
			n, ok := first[0].Number()
			require.True(t, ok)
			require.InDelta(t, 12.0, n, 0)
			vip, ok := first[1].Bool()
			require.True(t, ok && vip)
			at, ok := first[2].Time()
			require.True(t, ok)
			require.Equal(t, time.Date(2026, 11, 30, 8, 15, 0, 0, time.UTC), at)
			require.True(t, first[3].Invalid(), "a text that is no number is invalid")
			for i, v := range got[1].Attrs {
				require.False(t, v.Present() || v.Invalid(), "NULL attribute %d is missing", i)
			}

			req.Attributes = append(req.Attributes, connectors.Attribute{Name: "gone", Field: "no_such_column", Type: audience.AttrString})
			err := d.source(t, nil).Read(t.Context(), req, &connectortest.Recorder{})
			require.ErrorContains(t, err, `"no_such_column" (attribute gone)`)
		})
	}
}
