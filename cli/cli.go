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
	"syscall"

	"github.com/spf13/cobra"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"

	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/builtin"
	"github.com/audiencesync/audiencesync/platform"
	"github.com/audiencesync/audiencesync/syncs"
)

// Exit codes.
const (
	ExitOK      = 0
	ExitFailed  = 1 // a run failed or finished partially
	ExitUsage   = 2 // bad flags or config
	ExitAborted = 3 // the removal guard stopped a run
	ExitBusy    = 4 // the sync is already running elsewhere (its lock is held)
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
	// con is stderr as log lines and the progress line share it (see
	// console); nil until first used.
	con *console
	// lookupEnv is os.LookupEnv outside tests.
	lookupEnv func(string) (string, bool)
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
		a.hashCmd(), a.connectorsCmd(), a.checkCmd(), a.sourcesCmd(), a.sandboxCmd(), a.authGoogleCmd(), a.stateCmd(),
		a.tokenCmd(), a.serveCmd(), a.alertCmd())
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
	a.log = zap.New(zapcore.NewCore(enc, zapcore.AddSync(a.console()), lvl))
	return nil
}

// console returns stderr shared by the logger and the progress line.
func (a *app) console() *console {
	if a.con == nil {
		f, ok := a.stderr.(*os.File)
		a.con = newConsole(a.stderr, ok && isTerminal(f))
	}
	return a.con
}

// group is a command that only holds subcommands, such as auth and state.
func group(use, short string, subcommands ...*cobra.Command) *cobra.Command {
	cmd := &cobra.Command{Use: use, Short: short, Args: cobra.NoArgs}
	cmd.AddCommand(subcommands...)
	return cmd
}

// open opens the service layer on the config file; skipSecrets leaves
// secrets unresolved, for commands that only read the config or state.
// The caller closes the service with closeService.
func (a *app) open(ctx context.Context, skipSecrets bool) (*syncs.Service, error) {
	return a.openWith(ctx, syncs.Options{SkipSecrets: skipSecrets})
}

// openWith is open with the service options other than the config path,
// environment, registry and logger, which it fills in.
func (a *app) openWith(ctx context.Context, opts syncs.Options) (*syncs.Service, error) {
	opts.ConfigPath, opts.LookupEnv, opts.Registry, opts.Logger = a.configPath, a.lookupEnv, a.registry, a.log
	svc, err := syncs.Open(ctx, opts)
	if err != nil {
		return nil, withCode(ExitUsage, err)
	}
	return svc, nil
}

// withService opens the service layer with opts (see openWith), runs fn with it and
// closes it, adding what closing returned to fn's error: the set-up of
// every command that reads the config or the state.
func (a *app) withService(ctx context.Context, opts syncs.Options, fn func(*syncs.Service) error) (err error) {
	svc, err := a.openWith(ctx, opts)
	if err != nil {
		return err
	}
	defer closeService(svc, &err)
	return fn(svc)
}

// closeService closes svc and adds what closing returned to *err.
func closeService(svc *syncs.Service, err *error) {
	if cerr := svc.Close(); cerr != nil {
		*err = errors.Join(*err, withCode(ExitFailed, cerr))
	}
}

// codeFor maps an error of the service layer to an exit code: a config,
// an unknown name or a lock held elsewhere have their own; anything else
// is a failure.
func codeFor(err error) int {
	var ce *syncs.ConfigError
	switch {
	case errors.As(err, &ce), errors.Is(err, syncs.ErrNotFound):
		return ExitUsage
	case errors.Is(err, syncs.ErrBusy):
		return ExitBusy
	default:
		return ExitFailed
	}
}
