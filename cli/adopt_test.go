package cli

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/report"
)

// loseState deletes the bed's state database, as a user who lost or
// replaced the file would.
func (b *bed) loseState() {
	b.t.Helper()
	db := filepath.Join(filepath.Dir(b.cfg), "quickstart", "audiencesync.db")
	for _, p := range []string{db, db + "-wal", db + "-shm"} {
		require.NoError(b.t, os.RemoveAll(p))
	}
}

// filledBed syncs contacts to platform and returns the bed, the audience's
// id and what the platform holds.
func filledBed(t *testing.T, platform string, contacts int) (*bed, string, []string) {
	t.Helper()
	b := newBed(t, platform)
	b.contacts(contacts, 0)
	id := destinationNamed(t, b.sync(), platform).AudienceID
	return b, id, b.k.sb.Members(platform, id)
}

// TestLostStateRefusedUntilAdoptedOrRebuilt: each platform's audience is
// filled, then state is lost and the source changes. A plain sync refuses
// the platform destination before uploading anything, saying what to do;
// where the platform can empty the audience (Google, Meta) --full-refresh
// rebuilds it exactly; --adopt takes it over, keeping the members that
// left while state was lost.
func TestLostStateRefusedUntilAdoptedOrRebuilt(t *testing.T) {
	t.Parallel()
	const contacts = 300 // X gives a size from 100 matched users
	tests := []struct {
		platform string
		rebuild  string // the flag that makes the next run exact; "" when none can
	}{
		{"google", "--full-refresh"},
		{"meta", "--full-refresh"},
		{"x", ""},
	}
	for _, tt := range tests {
		t.Run(tt.platform, func(t *testing.T) {
			t.Parallel()
			b, id, before := filledBed(t, tt.platform, contacts)

			b.loseState()
			b.contacts(contacts, 7)
			rep, r := syncJSON(t, b.cfg)
			require.Equal(t, ExitFailed, r.code, r.stderr)
			d := destinationNamed(t, rep, tt.platform)
			require.Equal(t, report.StatusFailed, d.Status)
			require.Contains(t, r.stderr, "state has no record of it")
			require.Contains(t, r.stderr, "--adopt")
			require.Equal(t, tt.rebuild != "", slices.ContainsFunc(d.Errors, func(e string) bool { return strings.Contains(e, "--full-refresh to rebuild") }),
				"--full-refresh is offered only where it rebuilds: %v", d.Errors)
			requireSameSet(t, tt.platform, before, b.k.sb.Members(tt.platform, id))

			// Once more: a refused run records nothing, so it is refused again.
			_, r = syncJSON(t, b.cfg)
			require.Equal(t, ExitFailed, r.code, r.stderr)

			if tt.rebuild != "" {
				rep := b.sync(tt.rebuild)
				require.Equal(t, id, destinationNamed(t, rep, tt.platform).AudienceID, "no second audience")
				b.requireExact(rep, kept(contacts, 7))
				return
			}
			rep = b.sync("--adopt")
			require.Equal(t, id, destinationNamed(t, rep, tt.platform).AudienceID, "no second audience")
			// Adopted: the departed stay, the rest is in step.
			requireSameSet(t, tt.platform, before, b.k.sb.Members(tt.platform, id))
			rep = b.sync()
			require.Equal(t, report.Planned{Unchanged: destinationNamed(t, rep, tt.platform).Planned.Unchanged},
				destinationNamed(t, rep, tt.platform).Planned)
		})
	}
}

// TestAdoptKeepsDepartedMembers: --adopt on a lost state adds the source
// and leaves the members already in the audience that are no longer in
// the source, as documented; a later --full-refresh removes them.
func TestAdoptKeepsDepartedMembers(t *testing.T) {
	t.Parallel()
	b, id, before := filledBed(t, "google", 300)
	b.loseState()
	b.contacts(300, 7)
	b.sync("--adopt")
	requireSameSet(t, "google", before, b.k.sb.Members("google", id))
	b.requireExact(b.sync("--full-refresh", "--force"), kept(300, 7))
}

// TestFirstUploadCrashIsNotRefused kills a first sync right after the
// platform applied its first upload, before state recorded it: state then
// holds the audience id and no member while the platform holds members.
// The next run is not refused (the audience is this sync's own) and
// converges.
func TestFirstUploadCrashIsNotRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		platform string
		contacts int
		match    func(r *http.Request) bool
	}{
		{"google", 3000, post("/v1/", "audienceMembers:ingest")},
		{"meta", 3000, post("/v", "/users")},
		{"x", 3000, post("/custom_audiences/", "/users")},
	}
	for _, tt := range tests {
		t.Run(tt.platform, func(t *testing.T) {
			t.Parallel()
			b := newBed(t, tt.platform)
			b.contacts(tt.contacts, 0)
			b.killedSync(tt.match, 1, "")
			b.requireExact(b.sync(), tt.contacts)
		})
	}
}

// TestEmptyStateFileRefused: a state file cut to 0 bytes is refused with
// advice before anything is read or uploaded, not taken as a new state
// that would re-add everyone; deleting it starts over, and the audience
// that exists is then refused until adopted.
func TestEmptyStateFileRefused(t *testing.T) {
	t.Parallel()
	b, id, before := filledBed(t, "meta", 200)
	b.loseState()
	db := filepath.Join(filepath.Dir(b.cfg), "quickstart", "audiencesync.db")
	require.NoError(t, os.WriteFile(db, nil, 0o600))
	b.contacts(200, 7)

	r := run(t, "", "sync", "--config", b.cfg)
	require.Equal(t, ExitFailed, r.code, r.stderr)
	require.Contains(t, r.stderr, "empty (0 bytes)")
	require.Contains(t, r.stderr, "restore the file from a backup")
	requireSameSet(t, "meta", before, b.k.sb.Members("meta", id))
	fi, err := os.Stat(db)
	require.NoError(t, err)
	require.Zero(t, fi.Size())

	b.loseState()
	_, r = syncJSON(t, b.cfg)
	require.Equal(t, ExitFailed, r.code, "a new state finds the audience full: %s", r.stderr)
	require.Contains(t, r.stderr, "--adopt")
}
