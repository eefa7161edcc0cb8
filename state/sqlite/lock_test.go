package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/audiencesync/audiencesync/state"
)

// openAt opens the store at path and closes it at cleanup.
func openAt(t *testing.T, path string) *Store {
	t.Helper()
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestLockAcrossStores has several stores on one file, as separate
// processes would, race for one lock: exactly one wins, and every loser
// sees the winner.
func TestLockAcrossStores(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	const n = 4
	stores := make([]*Store, n)
	for i := range stores {
		stores[i] = openAt(t, path)
	}
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		winners []string
		holders []string
	)
	for i, s := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			owner := fmt.Sprintf("process-%d", i)
			_, err := s.AcquireLock(t.Context(), state.Lock{Name: "sync:s", Owner: owner, PID: 100 + i, Host: "h", Expires: now.Add(time.Minute)}, now)
			var held *state.HeldError
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				winners = append(winners, owner)
			case errors.As(err, &held):
				holders = append(holders, held.Holder.Owner)
			default:
				t.Errorf("%s: %v", owner, err)
			}
		}()
	}
	wg.Wait()
	if len(winners) != 1 || len(holders) != n-1 {
		t.Fatalf("winners %v, refusals naming %v", winners, holders)
	}
	for _, h := range holders {
		if h != winners[0] {
			t.Errorf("a refusal names %s, the winner is %s", h, winners[0])
		}
	}
}

// TestLockMigratesVersion1 opens a database written before locks existed:
// its runs keep their data with no owner, and locks work.
func TestLockMigratesVersion1(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "v1.db")
	db, err := sql.Open("sqlite", path)
	mustDo(t, err)
	for _, q := range migrations[0].stmts {
		_, err := db.ExecContext(ctx, q)
		mustDo(t, err)
	}
	for _, q := range []string{
		`INSERT INTO runs (id, sync, status, started) VALUES ('old', 's', 'running', 1)`,
		`PRAGMA user_version = 1`,
		fmt.Sprintf(`PRAGMA application_id = %d`, applicationID),
	} {
		_, err := db.ExecContext(ctx, q)
		mustDo(t, err)
	}
	mustDo(t, db.Close())

	s := openAt(t, path)
	run, err := s.Run(ctx, "old")
	mustDo(t, err)
	if run.Status != "running" || run.Owner != "" {
		t.Errorf("old run after migration: %+v", run)
	}
	now := time.Now()
	_, err = s.AcquireLock(ctx, state.Lock{Name: "sync:s", Owner: "o", Expires: now.Add(time.Minute)}, now)
	mustDo(t, err)
}
