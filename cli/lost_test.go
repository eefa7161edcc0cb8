package cli

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/report"
)

// TestLostResponsesConverge runs syncs whose requests the platform applies
// but whose answers are lost (the sandbox's "lost" fault): adds, removes
// and each platform's full refresh. The run rides them out or leaves state
// behind the platform, and the next plain run makes every audience exactly
// the source's.
func TestLostResponsesConverge(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		platform string
		faults   string
		full     bool
	}{
		{name: "X adds and removes", platform: "x", faults: "x.users:lost*3"},
		{name: "X full refresh", platform: "x", faults: "x.users:lost*4", full: true},
		{name: "Google adds", platform: "google", faults: "google.ingest:lost*2"},
		{name: "Google removes", platform: "google", faults: "google.remove:lost*2"},
		{name: "Google removeAll", platform: "google", faults: "google.removeall:lost*2", full: true},
		{name: "Meta adds and removes", platform: "meta", faults: "meta.users:lost*3"},
		{name: "Meta replace", platform: "meta", faults: "meta.usersreplace:lost*2", full: true},
	}
	const contacts = 1000
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := newBed(t, tt.platform)
			b.contacts(contacts, 0)
			b.sync()

			// Drop one in seven, add 300.
			b.contacts(contacts+300, 7)
			require.NoError(t, b.k.sb.SetFaults(tt.faults))
			args := []string{"--force"}
			if tt.full {
				args = append(args, "--full-refresh")
			}
			rep, r := syncJSON(t, b.cfg, args...)
			fired := b.k.sb.State(false).Faults.Fired[tt.faults]
			require.Positive(t, fired, "the fault fired")
			require.Contains(t, []report.Status{report.StatusSucceeded, report.StatusPartial, report.StatusFailed}, rep.Status, r.stderr)
			require.NoError(t, rep.CheckCounts(), "a lost answer is counted once, failed or applied")
			require.NoError(t, b.k.sb.SetFaults(""))

			b.requireExact(b.sync(), kept(contacts+300, 7))
		})
	}
}
