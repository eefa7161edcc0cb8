package postgres

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestRedact(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, dsn, want, password string }{
		{"url", "postgres://sync:s3cr3t-pw@db.internal:6432/audiencesync?sslmode=require",
			"postgres://sync@db.internal:6432/audiencesync", "s3cr3t-pw"},
		{"url with escaped password", "postgres://sync:p%40ss%2Fw0rd@db.internal/state",
			"postgres://sync@db.internal:5432/state", "p@ss/w0rd"},
		{"key=value", "host=db.internal user=sync password='s3cr3t pw' dbname=state",
			"postgres://sync@db.internal:5432/state", "s3cr3t pw"},
		{"password in the query", "postgres://sync@db.internal/state?password=s3cr3t-pw",
			"postgres://sync@db.internal:5432/state", "s3cr3t-pw"},
		{"no password", "host=/run/postgresql user=sync dbname=state",
			"postgres://sync@[/run/postgresql]:5432/state", ""},
		{"unparsable url", "postgres://sync:s3cr3t-pw@db.internal:notaport/state",
			"postgres://sync:xxxxx@db.internal:notaport/state", "s3cr3t-pw"},
		{"unparsable key=value", "host=db.internal password=s3cr3t-pw bogus",
			"host=db.internal password=xxxxx bogus", "s3cr3t-pw"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, Redact(tc.dsn))
			require.Equal(t, tc.password, passwordOf(tc.dsn))
		})
	}
}

func TestScrubKeepsTheChain(t *testing.T) {
	t.Parallel()
	base := errors.New("boom")
	err := scrub(fmt.Errorf("connect with p@ss/w0rd and p%%40ss%%2Fw0rd: %w", base), "p@ss/w0rd")
	require.Equal(t, "connect with xxxxx and xxxxx: boom", err.Error())
	require.ErrorIs(t, err, base)
	require.Nil(t, scrub(nil, "x"))
	require.Same(t, base, scrub(base, ""), "nothing to mask")
}

// TestOpenErrorsHideThePassword opens DSNs that fail, before and after
// connecting: no error carries the password.
func TestOpenErrorsHideThePassword(t *testing.T) {
	t.Parallel()
	const pw = "s3cr3t-pw-1234"
	dir := t.TempDir() // no server listens here
	for _, dsn := range []string{
		"postgres://sync:" + pw + "@localhost:notaport/state",
		"host=" + dir + " port=5432 user=sync password=" + pw + " dbname=state connect_timeout=2",
		"postgres://sync:" + pw + "@/state?host=" + dir + "&connect_timeout=2",
		"host=" + dir + " password=" + pw + " bogus",
	} {
		ctx := t.Context()
		start := time.Now()
		_, err := Open(ctx, dsn, Options{})
		require.Error(t, err, dsn)
		require.NotContains(t, err.Error(), pw)
		require.Contains(t, err.Error(), "open state database")
		require.Less(t, time.Since(start), 30*time.Second)
	}
}
