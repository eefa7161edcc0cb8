// Package sql is the SQL source: it reads an audience from the result of a
// query against PostgreSQL (through pgx) or SQLite (through modernc), the
// database a CRM or a warehouse keeps its contacts in.
//
// A sync names its query in source.audience: the name of one of the
// connection's queries (kept beside the credentials, so whoever owns the
// database reviews them in one place), or a SELECT written out. The query's
// result columns are mapped by source.fields, source.key and source.consent
// as a CSV file's columns are; a column the mapping names that the query
// does not return is an error that lists those it does.
//
// The query runs in a read-only transaction. On PostgreSQL the rows are
// fetched through a server-side cursor, fetch_size at a time, so memory
// stays constant whatever the audience's size, and every statement (each
// FETCH) is bounded by statement_timeout (SET LOCAL). SQLite streams its
// rows by nature; the whole query is bounded by the timeout. With count:
// true the source first counts the query's rows in the same snapshot
// (REPEATABLE READ on PostgreSQL) and declares the count to the engine
// (connectors.DeclareCount), so a read that yields fewer rows fails.
//
// `audiencesync check` has the database plan each sync's query (LIMIT 0,
// read-only) without reading a row, checks its columns against the sync's
// mapping (connectors.ReadChecker) and says which columns it returns;
// `audiencesync sources` lists the named queries with their row counts.
//
// Values are handed to the normaliser as text: NULL as empty, integers and
// decimals in plain digits (never an exponent), booleans as true/false,
// dates as 2006-01-02 and timestamps in RFC 3339 (UTC). A failure part-way
// (a lost connection, a timeout, a terminated backend) fails the read, so
// the run removes nothing.
package sql

import (
	dbsql "database/sql"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
	"go.uber.org/zap"
	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors"
)

// Type is the connection type this package serves.
const Type = "sql"

// Drivers, as written in settings.
const (
	DriverPostgres = "postgres"
	DriverSQLite   = "sqlite"
)

// Defaults.
const (
	// DefaultStatementTimeout bounds each statement: long enough for a
	// heavy audience query on a warehouse, short enough that a query
	// stuck on a lock does not hold a run for hours.
	DefaultStatementTimeout = 5 * time.Minute
	// DefaultFetchSize is how many rows one FETCH brings: large enough
	// that round trips cost little, small enough to keep memory flat.
	DefaultFetchSize = 5000
	maxFetchSize     = 100000
)

// Reasons a row is rejected, as counted in run reports.
const (
	ReasonMissingKey     = "row.missing_key" // the key column is NULL or empty
	ReasonInvalidConsent = "consent.invalid" // a consent column holds an unknown answer
)

// Settings configure a SQL source.
type Settings struct {
	// Driver is postgres or sqlite.
	Driver string `yaml:"driver"`
	// DSN is PostgreSQL's connection string (postgres://… or key=value),
	// a secret: ${env:NAME} or ${file:PATH}.
	DSN auth.Secret `yaml:"dsn"`
	// Path is the SQLite database file, opened read-only; relative paths
	// resolve against the config file's directory.
	Path string `yaml:"path"`
	// Queries are named queries a sync's source.audience can name.
	Queries map[string]string `yaml:"queries"`
	// Count counts the query's rows first, in the same snapshot, so a
	// read that yields fewer fails (and removes nothing).
	Count bool `yaml:"count"`
	// StatementTimeout bounds each statement (default 5m).
	StatementTimeout time.Duration `yaml:"statement_timeout"`
	// FetchSize is how many rows each FETCH of the PostgreSQL cursor
	// brings (default 5000).
	FetchSize int `yaml:"fetch_size"`
}

// LocalFiles names the SQLite file, for `validate`.
func (s *Settings) LocalFiles() []connectors.LocalFile {
	if s.driver() != DriverSQLite || s.Path == "" {
		return nil
	}
	return []connectors.LocalFile{{Key: "path", Path: s.Path}}
}

// driver returns the canonical driver name.
func (s *Settings) driver() string {
	switch strings.ToLower(s.Driver) {
	case "postgres", "postgresql", "pgx":
		return DriverPostgres
	case "sqlite", "sqlite3":
		return DriverSQLite
	}
	return s.Driver
}

// Validate checks the settings without connecting.
func (s *Settings) Validate() error {
	var errs []error
	switch s.driver() {
	case DriverPostgres:
		if s.DSN.IsZero() {
			errs = append(errs, errors.New("sql: driver postgres needs dsn: a connection string, as a secret (dsn: ${env:CRM_DATABASE_URL})"))
		}
		if s.Path != "" {
			errs = append(errs, errors.New("sql: path is for driver sqlite; PostgreSQL takes dsn"))
		}
	case DriverSQLite:
		if s.Path == "" {
			errs = append(errs, errors.New("sql: driver sqlite needs path: the database file"))
		}
		if !s.DSN.IsZero() {
			errs = append(errs, errors.New("sql: dsn is for driver postgres; SQLite takes path"))
		}
	case "":
		errs = append(errs, errors.New("sql: driver is required: postgres or sqlite"))
	default:
		errs = append(errs, fmt.Errorf("sql: unknown driver %q: use postgres or sqlite", s.Driver))
	}
	for name, q := range s.Queries {
		if strings.TrimSpace(name) == "" {
			errs = append(errs, errors.New("sql: queries has an empty name"))
		}
		if strings.TrimSpace(trimQuery(q)) == "" {
			errs = append(errs, fmt.Errorf("sql: query %q is empty", name))
		}
	}
	if s.StatementTimeout < 0 {
		errs = append(errs, errors.New("sql: statement_timeout must be positive (or unset for 5m)"))
	}
	if s.FetchSize < 0 || s.FetchSize > maxFetchSize {
		errs = append(errs, fmt.Errorf("sql: fetch_size must be between 1 and %d", maxFetchSize))
	}
	return errors.Join(errs...)
}

const sample = `# A database the CRM keeps its contacts in. A sync names one of the
# queries below in source.audience (or writes a SELECT there); the query's
# result columns are mapped by source.fields, source.key and source.consent.
crm_db:
  type: sql
  # postgres (dsn) or sqlite (path, opened read-only).
  driver: postgres
  # A secret: ${env:NAME} or ${file:PATH}. Use a role that can only read.
  dsn: ${env:CRM_DATABASE_URL}
  # driver: sqlite
  # path: ./crm.db
  queries:
    newsletter: |
      SELECT id, email, phone, country, marketing_consent
      FROM contacts
      WHERE newsletter AND deleted_at IS NULL
  # Count the rows first, in the same snapshot, and fail a read that
  # yields fewer (default false).
  count: true
  # The longest one statement may run: each FETCH on PostgreSQL, the
  # whole query on SQLite (default 5m).
  statement_timeout: 5m
  # Rows per FETCH of the PostgreSQL cursor (default 5000).
  fetch_size: 5000
`

// Spec declares the SQL source for a registry.
func Spec() connectors.Spec {
	return connectors.SourceSpec(Type,
		"Reads an audience from a query against PostgreSQL or SQLite, in a read-only transaction, streamed in constant memory.",
		sample, New)
}

// Source reads query results. It keeps a small pool of connections,
// opened on first use and closed by Close.
type Source struct {
	db        *dbsql.DB
	dialect   dialect
	queries   map[string]string
	count     bool
	timeout   time.Duration
	fetchSize int
	log       *zap.Logger
	// countQuery wraps a query into the statement that counts its rows;
	// tests replace it to make a count disagree with the rows.
	countQuery func(query string) string
}

var (
	_ connectors.Source          = (*Source)(nil)
	_ connectors.Checker         = (*Source)(nil)
	_ connectors.AudienceChecker = (*Source)(nil)
	_ connectors.ReadChecker     = (*Source)(nil)
	_ connectors.AudienceLister  = (*Source)(nil)
)

// New builds a source from validated settings whose secrets are resolved.
// It does not connect: database/sql connects on first use.
func New(s *Settings, env connectors.Env) (*Source, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	src := &Source{
		queries:    s.Queries,
		count:      s.Count,
		timeout:    s.StatementTimeout,
		fetchSize:  s.FetchSize,
		log:        env.Log(),
		countQuery: countQuery,
	}
	if src.timeout == 0 {
		src.timeout = DefaultStatementTimeout
	}
	if src.fetchSize == 0 {
		src.fetchSize = DefaultFetchSize
	}
	var name, dsn string
	switch s.driver() {
	case DriverPostgres:
		src.dialect = postgres{}
		name, dsn = "pgx", s.DSN.Reveal()
	default:
		src.dialect = sqlite{}
		name, dsn = "sqlite", sqliteDSN(env.Resolve(s.Path))
	}
	db, err := dbsql.Open(name, dsn)
	if err != nil {
		// Never the DSN: it may hold a password.
		return nil, fmt.Errorf("sql: open %s: %w", s.driver(), err)
	}
	// One read needs one connection; a check a second.
	db.SetMaxOpenConns(2)
	db.SetConnMaxIdleTime(time.Minute)
	src.db = db
	return src, nil
}

// sqliteDSN opens path read-only: writes fail, and a missing file is an
// error rather than a new empty database.
func sqliteDSN(path string) string {
	abs, err := filepath.Abs(path)
	if err != nil {
		abs = path
	}
	u := url.URL{Scheme: "file", Path: abs, RawQuery: "mode=ro"}
	if !strings.HasPrefix(u.Path, "/") {
		u.Path = "/" + u.Path // file:///C:/… on Windows
	}
	return u.String()
}

// Close closes the connection pool; a second Close is harmless.
func (s *Source) Close() error {
	if s.db == nil {
		return nil
	}
	err := s.db.Close()
	if err != nil && !errors.Is(err, dbsql.ErrConnDone) {
		return fmt.Errorf("sql: close: %w", err)
	}
	return nil
}

// queryNames lists the named queries, sorted, for messages.
func (s *Source) queryNames() []string { return slices.Sorted(maps.Keys(s.queries)) }
