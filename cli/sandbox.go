package cli

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/audiencesync/audiencesync/sandbox"
	"github.com/audiencesync/audiencesync/sandbox/fault"
)

// defaultSandboxAddr is where `audiencesync sandbox` listens unless told
// otherwise: loopback only, as the sandbox accepts public credentials.
const defaultSandboxAddr = "127.0.0.1:8089"

func (a *app) sandboxCmd() *cobra.Command {
	var (
		addr, faults, statePath string
		latency                 time.Duration
	)
	cmd := &cobra.Command{
		Use:   "sandbox [--addr HOST:PORT] [--faults SPEC] [--latency D] [--state FILE]",
		Short: "Serve local replicas of the Google, Meta and X audience APIs and of HubSpot and Salesforce",
		Long: `sandbox serves local replicas of the Google Data Manager, Meta Graph and X Ads
audience APIs, and of HubSpot's contact lists and Salesforce's campaigns
(seeded with synthetic contacts and leads), on one address, so a config can be rehearsed without touching a
real audience or CRM. Point a connection's endpoint at the printed base URL and use
the printed credentials (fixed, public, accepted by the sandbox only).

--faults injects platform failures (see "Faults" in sandbox/README.md), e.g.
  google.ingest:503*1,meta.users:613*1,x.users:500@0.1,seed=7
--latency delays every platform request. --state keeps the audiences in a
JSON file across restarts (hashes only; delete the file to start empty).

GET /_sandbox/state shows what each platform holds. Ctrl-C stops the sandbox.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			in, err := fault.ParseFor(faults, sandbox.FaultTargets(sandbox.Options{}))
			if err != nil {
				return withCode(ExitUsage, fmt.Errorf("--faults %q: %w", faults, err))
			}
			if latency < 0 {
				return withCode(ExitUsage, fmt.Errorf("--latency %s: must not be negative", latency))
			}
			opts := sandbox.Options{Faults: in, Latency: latency, StatePath: statePath}
			err = sandbox.ListenAndServe(cmd.Context(), addr, opts, a.stdout)
			if errors.Is(err, sandbox.ErrCorruptState) {
				return withCode(ExitUsage, err)
			}
			return withCode(ExitFailed, err)
		},
	}
	f := cmd.Flags()
	f.StringVar(&addr, "addr", defaultSandboxAddr, "address to listen on, HOST:PORT")
	f.StringVar(&faults, "faults", "", "fault spec to inject (empty: none)")
	f.DurationVar(&latency, "latency", 0, "latency added to every platform request, e.g. 100ms")
	f.StringVar(&statePath, "state", "", "JSON file to keep the sandbox's audiences in across restarts (default: memory only)")
	return cmd
}
