package cli

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/platform/google"
	metaplatform "github.com/audiencesync/audiencesync/platform/meta"
	xplatform "github.com/audiencesync/audiencesync/platform/x"
)

// lockedBuffer is a bytes.Buffer the sandbox's request log may write to
// while the test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// exitCode maps a command's error to its exit code as Main does.
func exitCode(err error) int {
	if err == nil {
		return ExitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return ExitUsage
}

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// startSandbox runs the sandbox command until the returned cancel; wait
// returns its exit code.
func startSandbox(t *testing.T, out io.Writer, args ...string) (cancel func(), wait func() int) {
	t.Helper()
	a := &app{stdout: out, stderr: io.Discard}
	cmd := a.sandboxCmd()
	cmd.SetArgs(args)
	cmd.SetOut(out)
	cmd.SetErr(io.Discard)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	wait = func() int {
		select {
		case err := <-done:
			return exitCode(err)
		case <-time.After(10 * time.Second):
			t.Fatal("the sandbox command did not stop")
			return -1
		}
	}
	return cancel, wait
}

func TestSandboxCommand(t *testing.T) {
	t.Parallel()
	addr := freeAddr(t)
	statePath := filepath.Join(t.TempDir(), "sandbox.json")
	var out lockedBuffer
	cancel, wait := startSandbox(t, &out, "--addr", addr, "--faults", "x.users:429*1", "--latency", "1ms", "--state", statePath)
	defer cancel()

	var body string
	require.Eventually(t, func() bool {
		res, err := http.Get("http://" + addr + "/_sandbox/state")
		if err != nil {
			return false
		}
		defer res.Body.Close()
		raw, _ := io.ReadAll(res.Body)
		body = string(raw)
		return res.StatusCode == http.StatusOK
	}, 5*time.Second, 20*time.Millisecond)
	require.Contains(t, body, `"user_lists"`)
	require.Contains(t, body, `"x.users:429*1"`)

	cancel()
	require.Equal(t, ExitOK, wait())
	summary := out.String()
	for _, want := range []string{"http://" + addr, google.ReplicaToken, metaplatform.ReplicaAppID, metaplatform.ReplicaAppSecret, metaplatform.ReplicaToken,
		xplatform.ReplicaConsumerKey, xplatform.ReplicaConsumerSecret, xplatform.ReplicaAccessToken, xplatform.ReplicaAccessSecret, xplatform.ReplicaAccount, "x.users:429*1", statePath} {
		require.Contains(t, summary, want)
	}
	require.Contains(t, summary, "GET /_sandbox/state 200", "requests are logged")
	_, err := os.Stat(statePath)
	require.NoError(t, err, "the state file was written")
}

func TestSandboxCommandErrors(t *testing.T) {
	t.Parallel()
	corrupt := filepath.Join(t.TempDir(), "sandbox.json")
	require.NoError(t, os.WriteFile(corrupt, []byte("{"), 0o600))
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	t.Cleanup(func() { busy.Close() })

	tests := []struct {
		name string
		args []string
		code int
		msg  string
	}{
		{"bad fault spec", []string{"--faults", "google.ingest:999"}, ExitUsage, "--faults"},
		{"fault for no replica", []string{"--faults", "tiktok.users:500"}, ExitUsage, `unknown platform "tiktok"`},
		{"negative latency", []string{"--latency", "-1s"}, ExitUsage, "--latency"},
		{"corrupt state", []string{"--state", corrupt}, ExitUsage, "delete it"},
		{"address in use", []string{"--addr", busy.Addr().String()}, ExitFailed, "listen on"},
		{"arguments", []string{"extra"}, ExitUsage, "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			a := &app{stdout: io.Discard, stderr: io.Discard}
			cmd := a.sandboxCmd()
			cmd.SetArgs(append([]string{"--addr", "127.0.0.1:0"}, tt.args...))
			cmd.SetOut(io.Discard)
			cmd.SetErr(io.Discard)
			err := cmd.ExecuteContext(t.Context())
			require.Error(t, err)
			require.Equal(t, tt.code, exitCode(err), err)
			require.True(t, strings.Contains(err.Error(), tt.msg), err.Error())
		})
	}
}
