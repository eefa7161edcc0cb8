package api_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// loadClientEnv, set, makes the test binary BenchmarkAPIUnderLoad's client
// process: it reads the loadJob in the file the variable names, sends the
// requests and writes the loadResult beside it, instead of running tests.
const loadClientEnv = "AUDIENCESYNC_API_LOAD_CLIENT"

// loadJob is what the client process is asked to send.
type loadJob struct {
	URL   string
	Token string
	IDs   []string
	Rate  int
	For   time.Duration
}

// loadResult is what it measured: each request's latency, and how many
// did not answer 200.
type loadResult struct {
	Latencies []time.Duration
	Failures  int
}

func TestMain(m *testing.M) {
	if job := os.Getenv(loadClientEnv); job != "" {
		if err := runLoadClient(job); err != nil {
			fmt.Fprintln(os.Stderr, "api load client:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runLoadClient is the client process's work.
func runLoadClient(jobPath string) error {
	data, err := os.ReadFile(jobPath)
	if err != nil {
		return err
	}
	var job loadJob
	if err := json.Unmarshal(data, &job); err != nil {
		return fmt.Errorf("read the job: %w", err)
	}
	var res loadResult
	res.Latencies, res.Failures = fireLoad(context.Background(), job.URL, job.Token, job.IDs, job.Rate, job.For)
	out, err := json.Marshal(res)
	if err != nil {
		return err
	}
	return os.WriteFile(jobPath+".result", out, 0o600)
}

// loadFromClient runs job in a client process (this test binary again)
// and returns its latencies, failures and what the client cost in CPU.
func loadFromClient(b *testing.B, job loadJob) ([]time.Duration, int, string) {
	b.Helper()
	jobPath := filepath.Join(b.TempDir(), "load-job.json")
	data, err := json.Marshal(job)
	require.NoError(b, err)
	require.NoError(b, os.WriteFile(jobPath, data, 0o600))
	cmd := exec.CommandContext(b.Context(), os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), loadClientEnv+"="+jobPath)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	require.NoError(b, cmd.Run(), "the load client process")
	data, err = os.ReadFile(jobPath + ".result")
	require.NoError(b, err)
	var res loadResult
	require.NoError(b, json.Unmarshal(data, &res))
	require.NotEmpty(b, res.Latencies, "the client sent requests")
	cpu := cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()
	return res.Latencies, res.Failures, fmt.Sprintf("client process (pid %d) CPU %.2f cores", cmd.ProcessState.Pid(), cpu.Seconds()/job.For.Seconds())
}
