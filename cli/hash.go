package cli

import (
	"bufio"
	"compress/gzip"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/audience/normalize"
	"github.com/audiencesync/audiencesync/connectors/uploadfile"
)

func (a *app) hashCmd() *cobra.Command {
	var profile, field, region, in, out, mapping string
	cmd := &cobra.Command{
		Use:   "hash --profile google|meta|x (--field KIND | --in FILE --out FILE --map col=kind,…)",
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
			p, err := normalize.Lookup(profile)
			if err != nil {
				return withCode(ExitUsage, err)
			}
			opts := normalize.Options{DefaultRegion: strings.ToUpper(region)}
			switch {
			case in != "" || out != "" || mapping != "":
				if in == "" || out == "" || mapping == "" {
					return withCode(ExitUsage, errors.New("CSV mode needs --in, --out and --map together"))
				}
				return a.hashCSV(p, opts, in, out, mapping)
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
	f.StringVar(&profile, "profile", "", "platform profile: google, meta or x")
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

// hashCSV converts a CSV export into the platform's upload file.
func (a *app) hashCSV(p *normalize.Profile, opts normalize.Options, in, out, mapping string) error {
	cols := map[string]audience.Kind{}
	for _, pair := range strings.Split(mapping, ",") {
		col, kind, ok := strings.Cut(strings.TrimSpace(pair), "=")
		if !ok || col == "" {
			return withCode(ExitUsage, fmt.Errorf("--map entry %q: write column=kind", pair))
		}
		k, err := audience.ParseKind(kind)
		if err != nil {
			return withCode(ExitUsage, fmt.Errorf("--map %s: %w", col, err))
		}
		cols[col] = k
	}
	f, err := os.Open(in)
	if err != nil {
		return withCode(ExitUsage, err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 1<<16)
	var r io.Reader = br
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			return withCode(ExitFailed, fmt.Errorf("read %s: %w", in, err))
		}
		defer gz.Close()
		r = gz
	}
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return withCode(ExitFailed, fmt.Errorf("read header of %s: %w", in, err))
	}
	if len(header) > 0 {
		header[0] = strings.TrimPrefix(header[0], "\ufeff")
	}
	index := map[audience.Kind]int{}
	for col, k := range cols {
		found := -1
		for i, h := range header {
			if strings.TrimSpace(h) == col {
				found = i
			}
		}
		if found < 0 {
			return withCode(ExitUsage, fmt.Errorf("%s has no column %q (columns: %s)", in, col, strings.Join(header, ", ")))
		}
		index[k] = found
	}
	var kinds []audience.Kind
	for _, k := range p.Kinds() {
		if _, ok := index[k]; ok || (k == audience.FirstInitial && hasKind(index, audience.FirstName)) {
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
	w, err := uploadfile.NewWriter(bw, p.Name(), kinds)
	if err != nil {
		return withCode(ExitUsage, err)
	}
	var tally normalize.Tally
	var m audience.Member
	var ids []audience.Identifier
	var rows, written, malformed int64
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		rows++
		var pe *csv.ParseError
		if errors.As(err, &pe) || (err == nil && len(rec) != len(header)) {
			malformed++
			continue
		}
		if err != nil {
			return withCode(ExitFailed, fmt.Errorf("read %s: %w", in, err))
		}
		m.Reset()
		for k, i := range index {
			m.Fields[k] = rec[i]
		}
		var ok bool
		ids, ok = p.Member(&m, opts, ids[:0], &tally)
		if !ok {
			continue
		}
		if err := w.Write(ids); err != nil {
			return withCode(ExitFailed, fmt.Errorf("write %s: %w", out, err))
		}
		written++
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
	fmt.Fprintf(a.stderr, "%d rows read, %d written to %s, %d malformed rows skipped", rows, written, out, malformed)
	if n := sumTally(tally); n > 0 {
		fmt.Fprintf(a.stderr, ", %d values rejected%s", n, formatTally(tally))
	}
	if tally.PreHashed > 0 {
		fmt.Fprintf(a.stderr, ", %d values were already hashed", tally.PreHashed)
	}
	fmt.Fprintln(a.stderr)
	return nil
}

func hasKind(index map[audience.Kind]int, k audience.Kind) bool {
	_, ok := index[k]
	return ok
}
