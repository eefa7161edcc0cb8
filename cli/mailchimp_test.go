package cli

import (
	"crypto/md5" //nolint:gosec // Mailchimp's subscriber hash
	"encoding/csv"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	mcplatform "github.com/audiencesync/audiencesync/platform/mailchimp"
	"github.com/audiencesync/audiencesync/sandbox"
	mcreplica "github.com/audiencesync/audiencesync/sandbox/mailchimp"
)

// mailchimpExpected reads the quickstart export as Mailchimp should hold
// it: the subscriber hash (MD5 of the trimmed, lower-cased address) of the
// first record of each contact whose consent is not denied and whose
// address is well formed.
func mailchimpExpected(t *testing.T, cfg string) []string {
	t.Helper()
	f, err := os.Open(filepath.Join(filepath.Dir(cfg), "quickstart", "contacts.csv"))
	require.NoError(t, err)
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	var rows [][]string
	for {
		row, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err == nil { // a malformed row is the source's to reject
			rows = append(rows, row)
		}
	}
	header := rows[0]
	seen := map[string]bool{}
	set := map[string]bool{}
	for _, row := range rows[1:] {
		if len(row) != len(header) || seen[row[0]] {
			continue
		}
		seen[row[0]] = true
		email := strings.ToLower(strings.TrimSpace(row[1]))
		local, domain, ok := strings.Cut(email, "@")
		if !ok || local == "" || domain == "" || strings.ContainsAny(email, " \t") || strings.Count(email, "@") != 1 || row[7] == "denied" {
			continue
		}
		sum := md5.Sum([]byte(email)) //nolint:gosec // Mailchimp's id
		set[hex.EncodeToString(sum[:])] = true
	}
	return sortedSet(set)
}

// csvAddress returns the address of the export's data row i (1-based).
func csvAddress(t *testing.T, cfg string, i int) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(filepath.Dir(cfg), "quickstart", "contacts.csv"))
	require.NoError(t, err)
	f := strings.Split(strings.Split(string(raw), "\n")[i], ",")
	return strings.ToLower(f[1])
}

// TestSandboxMailchimpTagsExactlyTheAudience syncs the quickstart to the
// Mailchimp replica and changes the export (removes, address changes,
// consent flips), then fully refreshes: each time the contacts tagged
// cart-abandoner are exactly the segment's, contacts that had unsubscribed
// or been cleaned before keep their status, and no one is subscribed.
func TestSandboxMailchimpTagsExactlyTheAudience(t *testing.T) {
	t.Parallel()
	cfg := quickstart(t)
	// Two shoppers in the export had already left the shop's e-mails.
	statePath := filepath.Join(filepath.Dir(cfg), "quickstart", "audiencesync.sandbox.json")
	left := map[string]string{csvAddress(t, cfg, 2): "unsubscribed", csvAddress(t, cfg, 3): "cleaned"}
	srv, err := sandbox.Open(sandbox.Options{StatePath: statePath})
	require.NoError(t, err)
	for email, status := range left {
		require.NoError(t, sandbox.ReplicaOf[*mcreplica.Server](srv).SetStatus(mcplatform.ReplicaListID, email, status))
	}
	require.NoError(t, srv.Close())

	check := func(step string) {
		t.Helper()
		held := sandboxHolds(t, cfg)
		mc := sandbox.ReplicaOf[*mcreplica.Server](held)
		st := mc.State(true)
		require.Len(t, st, 1, step)
		require.Len(t, st[0].Tags, 1, step)
		want := mailchimpExpected(t, cfg)
		require.Greater(t, len(want), 1000, step)
		require.Equal(t, want, st[0].Tags[0].Members, "%s: the tag holds exactly the audience", step)
		for email, status := range left {
			m, ok := mc.Member(mcplatform.ReplicaListID, mcreplica.SubscriberHash(email))
			require.True(t, ok, step)
			require.Equal(t, status, m.Status, "%s: %s keeps its status", step, email)
		}
		for _, m := range st[0].Members {
			require.NotEqual(t, "subscribed", m.Status, "%s: no one is subscribed", step)
		}
		require.NoError(t, held.Close())
	}

	rep, r := syncJSON(t, cfg)
	require.Equal(t, ExitOK, r.code, r.stderr)
	mc := destinationNamed(t, rep, "mailchimp")
	require.Equal(t, "succeeded", string(mc.Status), "%v", mc.Errors)
	require.Positive(t, mc.ConsentDenied)
	check("first sync")

	// Drop every seventh row, change every eleventh address, flip every
	// thirteenth row's consent.
	editQuickstartContacts(t, cfg, true)
	rep, r = syncJSON(t, cfg, "--force")
	require.Equal(t, ExitOK, r.code, r.stderr)
	mc = destinationNamed(t, rep, "mailchimp")
	require.Positive(t, mc.Applied.Removed)
	require.Positive(t, mc.Applied.Added+mc.Applied.Updated)
	check("after the changes")

	rep, r = syncJSON(t, cfg, "--full-refresh", "--force")
	require.Equal(t, ExitOK, r.code, r.stderr)
	mc = destinationNamed(t, rep, "mailchimp")
	require.Equal(t, "succeeded", string(mc.Status), "%v", mc.Errors)
	check("after a full refresh")
}
