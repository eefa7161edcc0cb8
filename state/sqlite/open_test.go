package sqlite

import (
	"fmt"
	"path/filepath"
	"sync"
	"testing"
)

// TestOpenFreshFileConcurrently opens one new state file from several
// stores at once, as two `sync` processes started together on a new
// config do: every one opens, none fails with SQLITE_BUSY.
func TestOpenFreshFileConcurrently(t *testing.T) {
	t.Parallel()
	for round := range 5 {
		path := filepath.Join(t.TempDir(), fmt.Sprintf("state-%d.db", round))
		const n = 6
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := Open(t.Context(), path)
				if err == nil {
					err = s.Close()
				}
				errs[i] = err
			}()
		}
		wg.Wait()
		for i, err := range errs {
			if err != nil {
				t.Fatalf("round %d, store %d: %v", round, i, err)
			}
		}
	}
}
