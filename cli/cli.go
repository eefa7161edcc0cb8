// Package cli is the audiencesync command line: one cobra command per
// subcommand, sharing config loading, logging and state opening.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/audiencesync/audiencesync/configs"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/builtin"
	"github.com/audiencesync/audiencesync/platform"
	"github.com/audiencesync/audiencesync/sandbox"
	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/state/sqlite"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitFailed  = 1 // a run failed or finished partially
	ExitUsage   = 2 // bad flags or config
	ExitAborted = 3 // the removal guard stopped a run
)

// exitError carries an exit code up to Main.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func withCode(code int, err error) error {
	if err == nil {
		return nil
	}
	return &exitError{code: code, err: err}
}

// app holds what every subcommand shares.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	configPath     string
	logFormat      string
	logLevel       string
	registry       *connectors.Registry
	platforms      *platform.Registry // nil: the built-in platforms
	log            *zap.Logger
	// lookupEnv is os.LookupEnv outside tests.
	lookupEnv func(string) (string, bool)

	// The in-process sandbox behind `sandbox: true` connections, started
	// on first use and stopped when the command ends.
	sandboxOnce sync.Once
	sandboxURL  string
	sandboxStop func() error
	sandboxErr  error
}

// Main runs the command line with args and returns the exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr, registry: builtin.Registry(), lookupEnv: os.LookupEnv}
	root := a.root()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	if a.sandboxStop != nil {
		if serr := a.sandboxStop(); serr != nil && err == nil {
			err = withCode(ExitFailed, fmt.Errorf("stop the in-process sandbox: %w", serr))
		}
	}
	if a.log != nil {
		_ = a.log.Sync()
	}
	if err == nil {
		return ExitOK
	}
	fmt.Fprintln(stderr, "audiencesync:", err)
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	return ExitUsage
}

func (a *app) root() *cobra.Command {
	root := &cobra.Command{
		Use:   "audiencesync",
		Short: "Keep ad platforms' customer-match audiences in step with a CRM",
		Long: `audiencesync reads list-based audiences from a source (a CSV export, a CRM list,
a SQL query), normalises and SHA-256 hashes contact data exactly as each ad
platform requires, works out what changed since the last sync, and uploads
only the changes.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			return a.setupLogger()
		},
	}
	pf := root.PersistentFlags()
	pf.StringVarP(&a.configPath, "config", "c", envOr("AUDIENCESYNC_CONFIG", "audiencesync.yaml"), "config file (env AUDIENCESYNC_CONFIG)")
	pf.StringVar(&a.logFormat, "log-format", "console", "log format: console for people, json for machines")
	pf.StringVar(&a.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	root.AddCommand(a.validateCmd(), a.planCmd(), a.syncCmd(), a.runsCmd(), a.reportCmd(),
		a.hashCmd(), a.connectorsCmd(), a.checkCmd(), a.sandboxCmd(), a.authGoogleCmd(), a.stateCmd())
	return root
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// setupLogger builds the zap logger on stderr. Logs never carry contact
// data: the engine logs counts, reasons and ids only.
func (a *app) setupLogger() error {
	var lvl zapcore.Level
	if err := lvl.UnmarshalText([]byte(a.logLevel)); err != nil {
		return withCode(ExitUsage, fmt.Errorf("--log-level %q: use debug, info, warn or error", a.logLevel))
	}
	var enc zapcore.Encoder
	switch a.logFormat {
	case "console":
		cfg := zap.NewDevelopmentEncoderConfig()
		cfg.EncodeTime = zapcore.TimeEncoderOfLayout("15:04:05")
		enc = zapcore.NewConsoleEncoder(cfg)
	case "json":
		cfg := zap.NewProductionEncoderConfig()
		cfg.EncodeTime = zapcore.ISO8601TimeEncoder
		enc = zapcore.NewJSONEncoder(cfg)
	default:
		return withCode(ExitUsage, fmt.Errorf("--log-format %q: use console or json", a.logFormat))
	}
	a.log = zap.New(zapcore.NewCore(enc, zapcore.Lock(zapcore.AddSync(a.stderr)), lvl))
	return nil
}

// loadConfig loads and validates the config file.
func (a *app) loadConfig(skipSecrets bool) (*configs.Config, error) {
	cfg, err := configs.Load(a.configPath, a.registry, configs.LoadOptions{LookupEnv: a.lookupEnv, SkipSecrets: skipSecrets})
	if err != nil {
		return nil, withCode(ExitUsage, err)
	}
	return cfg, nil
}

// openStore opens the configured state store.
func (a *app) openStore(ctx context.Context, cfg *configs.Config) (state.Store, error) {
	if !cfg.State.DSN.IsZero() {
		return nil, withCode(ExitUsage, errors.New("state.dsn (PostgreSQL) is not supported by this build yet: use state.path for the embedded SQLite store"))
	}
	st, err := sqlite.Open(ctx, cfg.State.Path)
	if err != nil {
		return nil, withCode(ExitFailed, fmt.Errorf("open state %s: %w", cfg.State.Path, err))
	}
	return st, nil
}

func (a *app) env(cfg *configs.Config) func(string) connectors.Env {
	return func(name string) connectors.Env {
		return connectors.Env{
			Logger:  a.log.Named(name),
			BaseDir: cfg.BaseDir,
			// One in-process sandbox serves every platform's replica.
			Endpoint: func(ctx context.Context, _ string) (string, error) { return a.inProcessSandbox(ctx, cfg) },
		}
	}
}

// inProcessSandbox starts, once, the local replica of the platform APIs
// that `sandbox: true` connections talk to. Its audiences persist beside the
// state file, so a second run sees what the first uploaded.
func (a *app) inProcessSandbox(ctx context.Context, cfg *configs.Config) (string, error) {
	a.sandboxOnce.Do(func() {
		statePath := sandboxStatePath(cfg)
		a.sandboxURL, a.sandboxStop, a.sandboxErr = sandbox.StartInProcess(ctx, sandbox.Options{StatePath: statePath})
		if a.sandboxErr == nil {
			a.log.Info("in-process sandbox started", zap.String("url", a.sandboxURL), zap.String("state", statePath))
		}
	})
	return a.sandboxURL, a.sandboxErr
}

// sandboxStatePath puts the sandbox's audiences beside the state database:
// audiencesync.db → audiencesync.sandbox.json.
func sandboxStatePath(cfg *configs.Config) string {
	p := cfg.State.Path
	if p == "" {
		p = filepath.Join(cfg.BaseDir, configs.DefaultStatePath)
	}
	return strings.TrimSuffix(p, filepath.Ext(p)) + ".sandbox.json"
}
