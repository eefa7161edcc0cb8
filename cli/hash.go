package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/audience/normalize"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/csv"
	"github.com/audiencesync/audiencesync/connectors/uploadfile"
	"github.com/audiencesync/audiencesync/platform"
	platformbuiltin "github.com/audiencesync/audiencesync/platform/builtin"
)

// platformRegistry returns the platforms hash knows: the built-in ones
// unless a test gave others.
func (a *app) platformRegistry() *platform.Registry {
	if a.platforms == nil {
		return platformbuiltin.Registry()
	}
	return a.platforms
}

func (a *app) hashCmd() *cobra.Command {
	var profile, field, region, in, out, mapping string
	cmd := &cobra.Command{
		Use:   "hash --profile PLATFORM (--field KIND | --in FILE --out FILE --map col=kind,…)",
		Short: "Normalise and hash contact data exactly as a platform requires",
		Long: `hash has two modes.

Line mode (--field): reads one value a line on stdin and prints one line per
input: the lowercase hex SHA-256 of the normalised value (the normalised clear
value for kinds the platform takes in clear), or "!invalid: REASON".

CSV mode (--in, --out, --map): reads a CSV export with a header row, maps its
columns to identifier kinds (--map email=email,Phone=phone,…: column=kind),
and writes the platform's manual-upload file. Rejected values are counted by
reason on stderr; nothing in clear is written.

Kinds accept our names and the platforms' spellings (email, EMAIL, em,
phone_number, FN, given_name, …). --region is the ISO country for phone
numbers written without a country code.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			pl, err := a.platformRegistry().Lookup(profile)
			if err != nil {
				return withCode(ExitUsage, err)
			}
			p := pl.Profile
			opts := normalize.Options{DefaultRegion: strings.ToUpper(region)}
			switch {
			case in != "" || out != "" || mapping != "":
				if in == "" || out == "" || mapping == "" {
					return withCode(ExitUsage, errors.New("CSV mode needs --in, --out and --map together"))
				}
				return a.hashCSV(cmd.Context(), pl, opts, in, out, mapping)
			case field != "":
				k, err := audience.ParseKind(field)
				if err != nil {
					return withCode(ExitUsage, err)
				}
				w := bufio.NewWriterSize(a.stdout, 1<<16)
				tally, err := normalize.HashLines(a.stdin, w, p, k, opts)
				if ferr := w.Flush(); err == nil {
					err = ferr
				}
				if err != nil {
					return withCode(ExitFailed, err)
				}
				if n := sumTally(tally); n > 0 {
					fmt.Fprintf(a.stderr, "%d values invalid%s\n", n, formatTally(tally))
				}
				return nil
			default:
				return withCode(ExitUsage, errors.New("give --field KIND (line mode) or --in, --out and --map (CSV mode)"))
			}
		},
	}
	f := cmd.Flags()
	f.StringVar(&profile, "profile", "", "platform profile: "+strings.Join(a.platformRegistry().Names(), ", "))
	f.StringVar(&field, "field", "", "identifier kind of each input line (line mode)")
	f.StringVar(&region, "region", "", "ISO country for national phone numbers")
	f.StringVar(&in, "in", "", "input CSV with a header row (CSV mode; .gz accepted)")
	f.StringVar(&out, "out", "", "output upload file (CSV mode)")
	f.StringVar(&mapping, "map", "", "column=kind pairs, comma separated (CSV mode)")
	_ = cmd.MarkFlagRequired("profile")
	return cmd
}

func sumTally(t normalize.Tally) int64 {
	var n int64
	for _, v := range t.Rejected {
		n += v
	}
	return n
}

func formatTally(t normalize.Tally) string {
	reasons := make([]string, 0, len(t.Rejected))
	for r := range t.Rejected {
		reasons = append(reasons, string(r))
	}
	sort.Strings(reasons)
	parts := make([]string, len(reasons))
	for i, r := range reasons {
		parts[i] = fmt.Sprintf("%s: %d", r, t.Rejected[normalize.Reason(r)])
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

// hashCSV converts a CSV export into the platform's upload file. The
// export is read by the CSV source, so it is parsed exactly as a sync
// would read it.
func (a *app) hashCSV(ctx context.Context, p *platform.Platform, opts normalize.Options, in, out, mapping string) error {
	req := connectors.ReadRequest{Fields: map[audience.Kind]string{}}
	for _, pair := range strings.Split(mapping, ",") {
		col, kind, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok || col == "" {
			return withCode(ExitUsage, fmt.Errorf("--map entry %q: write column=kind", pair))
		}
		k, err := audience.ParseKind(kind)
		if err != nil {
			return withCode(ExitUsage, fmt.Errorf("--map %s: %w", col, err))
		}
		req.Fields[k] = col
	}
	src, err := csv.New(&csv.Settings{Path: in}, connectors.Env{Logger: a.log})
	if err != nil {
		return withCode(ExitUsage, err)
	}
	defer src.Close()
	var kinds []audience.Kind
	for _, k := range p.Kinds() {
		_, mapped := req.Fields[k]
		if from, ok := p.Profile.From(k); ok && !mapped {
			_, mapped = req.Fields[from]
		}
		if mapped {
			kinds = append(kinds, k)
			opts.Kinds[k] = true
		}
	}
	of, err := os.OpenFile(out, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return withCode(ExitUsage, err)
	}
	defer of.Close()
	bw := bufio.NewWriterSize(of, 1<<16)
	w, err := uploadfile.NewWriter(bw, p, kinds)
	if err != nil {
		return withCode(ExitUsage, err)
	}
	e := &hashEmitter{p: p.Profile, opts: opts, w: w}
	if err := src.Read(ctx, req, e); err != nil {
		return withCode(ExitFailed, fmt.Errorf("convert %s: %w", in, err))
	}
	if err := w.Flush(); err != nil {
		return withCode(ExitFailed, err)
	}
	if err := bw.Flush(); err != nil {
		return withCode(ExitFailed, err)
	}
	if err := of.Close(); err != nil {
		return withCode(ExitFailed, err)
	}
	fmt.Fprintf(a.stderr, "%d rows read, %d written to %s, %d malformed rows skipped", e.rows+e.malformed, e.written, out, e.malformed)
	if n := sumTally(e.tally); n > 0 {
		fmt.Fprintf(a.stderr, ", %d values rejected%s", n, formatTally(e.tally))
	}
	if e.tally.PreHashed > 0 {
		fmt.Fprintf(a.stderr, ", %d values were already hashed", e.tally.PreHashed)
	}
	fmt.Fprintln(a.stderr)
	return nil
}

// hashEmitter normalises each member the CSV source reads and writes it to
// the upload file.
type hashEmitter struct {
	p     *normalize.Profile
	opts  normalize.Options
	w     *uploadfile.Writer
	tally normalize.Tally
	ids   []audience.Identifier

	rows, written, malformed int64
}

func (e *hashEmitter) Emit(m *audience.Member) error {
	e.rows++
	var ok bool
	e.ids, ok = e.p.Member(m, e.opts, e.ids[:0], &e.tally)
	if !ok {
		return nil
	}
	if err := e.w.Write(e.ids); err != nil {
		return err
	}
	e.written++
	return nil
}

// Reject counts a row the source could not read; hash maps no key or
// consent column, so every rejection is a malformed row.
func (e *hashEmitter) Reject(string, int64) { e.malformed++ }
