// Package servetest holds what the tests of `serve`'s parts (the API, the
// web UI, the command line) share: a copy of the bundled quickstart
// (configs/quickstart.yaml and its synthetic contacts.csv, or the
// segments quickstart) in a test's temp dir, so tests run the real
// quickstart without touching the checkout's state, sandbox or export
// files, API tokens made for a test, and a plain GET.
package servetest

import (
	"bytes"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/api"
	"github.com/audiencesync/audiencesync/segment"
	"github.com/audiencesync/audiencesync/state"
)

// Quickstart copies the quickstart config, with edit applied to it (nil
// keeps it as it is), and its CSV from the checkout at root ("..", from a
// package directory) into a temp dir, and returns the config's path.
func Quickstart(t testing.TB, root string, edit func([]byte) []byte) string {
	t.Helper()
	dir := t.TempDir()
	cfg, err := os.ReadFile(filepath.Join(root, "configs", "quickstart.yaml"))
	require.NoError(t, err)
	if edit != nil {
		cfg = edit(cfg)
	}
	data, err := os.ReadFile(filepath.Join(root, "configs", "quickstart", "contacts.csv"))
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "quickstart"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "quickstart.yaml"), cfg, 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "quickstart", "contacts.csv"), data, 0o600))
	return filepath.Join(dir, "quickstart.yaml")
}

// SegmentsAt is the instant the segments quickstart's export was taken
// (its `make run-segments` passes it as --now): a service on this clock
// gives the figures the README shows.
var SegmentsAt = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

// Segments copies the segments quickstart (configs/quickstart-segments.yaml,
// the CRM export and the shop's order export) from the checkout at root
// into a temp dir, and returns the config's path.
func Segments(t testing.TB, root string) string {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "quickstart"), 0o700))
	for _, f := range []string{"quickstart-segments.yaml", "quickstart/contacts.csv", "quickstart/shop-orders.csv"} {
		data, err := os.ReadFile(filepath.Join(root, "configs", f))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), data, 0o600))
	}
	return filepath.Join(dir, "quickstart-segments.yaml")
}

// FixHoldoutKey gives sync a fixed holdout key in store before its first
// run (the first key stored wins), so the members a holdout keeps out,
// and the figures that follow, are the same in every test.
func FixHoldoutKey(t testing.TB, store any, sync string) {
	t.Helper()
	h, ok := store.(state.Holdouts)
	require.True(t, ok, "the state store keeps no holdouts")
	_, err := h.HoldoutKey(t.Context(), sync, bytes.Repeat([]byte{0x5a}, segment.HoldoutKeySize))
	require.NoError(t, err)
}

// Token creates an API token named name with role in tokens and returns
// it.
func Token(t testing.TB, tokens state.Tokens, name, role string) string {
	t.Helper()
	tok, rec, err := api.NewToken(name, role, time.Now())
	require.NoError(t, err)
	require.NoError(t, tokens.CreateToken(t.Context(), rec))
	return tok
}

// Get fetches url and returns the status code and the body.
func Get(t testing.TB, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}
