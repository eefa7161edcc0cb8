package sqlite_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/state/sqlite"
)

func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	store, err := sqlite.Open(ctx, filepath.Join(dir, "audiencesync.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	scope := state.Scope{Sync: "cart-abandoners", Destination: "google"}
	email := audience.Identifier{Kind: audience.Email, Hashed: true,
		Value: "d709a77d0d4ba3c2e10bb86f4e5b5ee1ad9d1f7b5b7f0e20b3d5a3f5e7a1a2b3"}
	err = store.Commit(ctx, scope, []state.Change{{
		Key:         audience.KeyFromSource("contact-1"),
		Fingerprint: audience.FingerprintOf([]audience.Identifier{email}, audience.Consent{}),
		Identifiers: []audience.Identifier{email},
		LastSent:    time.Now(),
	}})
	if err != nil {
		log.Fatal(err)
	}

	n, err := store.Count(ctx, scope)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("members:", n)
	// Output: members: 1
}
