// Package report defines the run report: one JSON object per run with counts
// of what was read, rejected, planned and applied per destination, and what
// the platform said. It carries counts and reasons, never contact data.
//
// A run, and each destination in it, has a Status:
//
//   - running: not ended yet; a stored run left running was interrupted
//     before it could finish.
//   - planned: a dry run (plan) that completed; nothing was sent.
//   - succeeded: every planned change was applied and committed; members
//     the platform refused one by one are counted, not a failure.
//   - partial: some changes were applied and committed, others not (a
//     failed batch, a destination stopped part-way, an interrupt); the next
//     run sends the rest.
//   - failed: nothing was applied: the source read, the credentials or the
//     state store failed. A run is failed when none of its destinations
//     succeeded, even partly, or when a step they all share failed.
//   - aborted: the removal guard stopped the run before anything was
//     uploaded; every destination of the run is aborted.
//
// DestinationStatus and RunStatus derive them; nothing else sets one.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/audiencesync/audiencesync/connectors"
)

// Report is one run's report.
type Report struct {
	RunID        string         `json:"run_id"`
	Sync         string         `json:"sync"`
	DryRun       bool           `json:"dry_run,omitempty"`
	FullRefresh  bool           `json:"full_refresh,omitempty"`
	Forced       bool           `json:"forced,omitempty"`
	Status       Status         `json:"status"`
	StartedAt    time.Time      `json:"started_at"`
	FinishedAt   time.Time      `json:"finished_at"`
	Source       Source         `json:"source"`
	Destinations []*Destination `json:"destinations"`
	// Error says why the run failed or was aborted, and what to do.
	Error string `json:"error,omitempty"`
}

// Source counts what the source yielded.
type Source struct {
	Read int64 `json:"read"`
	// Declared is how many records the source said the audience holds,
	// when it says (CRM list sizes, query counts); a read that yields
	// fewer fails.
	Declared   int64            `json:"declared,omitempty"`
	Valid      int64            `json:"valid"`
	Duplicates int64            `json:"duplicates"`
	Rejected   map[string]int64 `json:"rejected"`
	// RejectedLines holds, per reason, the line numbers of the first
	// rejected records (at most SampleLines each), to find them in the
	// source. Never their content.
	RejectedLines map[string][]int64 `json:"rejected_lines,omitempty"`
}

// SampleLines is how many line numbers per rejection reason a report keeps.
const SampleLines = 10

// Planned counts the plan for one destination.
type Planned struct {
	Add       int64 `json:"add"`
	Remove    int64 `json:"remove"`
	Update    int64 `json:"update"`
	Refresh   int64 `json:"refresh"`
	Unchanged int64 `json:"unchanged"`
}

// Applied counts what the destination acknowledged.
type Applied struct {
	Added     int64 `json:"added"`
	Removed   int64 `json:"removed"`
	Updated   int64 `json:"updated"`
	Refreshed int64 `json:"refreshed"`
	Failed    int64 `json:"failed"`
}

// Destination is one destination's part of the report.
type Destination struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	Profile    string `json:"profile"`
	AudienceID string `json:"audience_id,omitempty"`
	Status     Status `json:"status"`
	// Members is how many members the audience should hold after the run.
	Members int64   `json:"members"`
	Planned Planned `json:"planned"`
	Applied Applied `json:"applied"`
	// Rejected counts identifiers and members the normalisation profile
	// refused, by reason.
	Rejected map[string]int64 `json:"rejected,omitempty"`
	// PreHashed counts values that arrived already hashed.
	PreHashed int64 `json:"pre_hashed,omitempty"`
	// ConsentDenied counts members left out (and removed) for denied consent.
	ConsentDenied int64 `json:"consent_denied,omitempty"`
	// PlatformRejected counts members the platform refused, by reason.
	PlatformRejected map[string]int64           `json:"platform_rejected,omitempty"`
	Batches          int                        `json:"batches"`
	Retries          int                        `json:"retries"`
	Platform         *connectors.PlatformReport `json:"platform,omitempty"`
	Errors           []string                   `json:"errors,omitempty"`
}

// WriteJSON writes r as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes r for people: a header, the source counts, and a table of
// destinations with what was planned and applied.
func (r *Report) WriteText(w io.Writer) error {
	var b strings.Builder
	verb := "sync"
	if r.DryRun {
		verb = "plan"
	}
	if r.DryRun {
		// A plan is not recorded: showing its id would invite a
		// `report` call that cannot find it.
		fmt.Fprintf(&b, "%s %q  %s", verb, r.Sync, strings.ToUpper(string(r.Status)))
	} else {
		fmt.Fprintf(&b, "%s %q  run %s  %s", verb, r.Sync, r.RunID, strings.ToUpper(string(r.Status)))
	}
	if !r.FinishedAt.IsZero() {
		fmt.Fprintf(&b, "  (%s)", r.FinishedAt.Sub(r.StartedAt).Round(time.Millisecond))
	}
	if r.DryRun {
		b.WriteString("  dry run: nothing was sent or recorded")
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "source: %d read, %d valid, %d duplicates, %d rejected%s\n",
		r.Source.Read, r.Source.Valid, r.Source.Duplicates, sum(r.Source.Rejected), reasons(r.Source.Rejected))
	for _, reason := range sortedKeys(r.Source.RejectedLines) {
		lines := r.Source.RejectedLines[reason]
		parts := make([]string, len(lines))
		for i, l := range lines {
			parts[i] = fmt.Sprint(l)
		}
		more := ""
		if n := r.Source.Rejected[reason]; n > int64(len(lines)) {
			more = fmt.Sprintf(" and %d more", n-int64(len(lines)))
		}
		fmt.Fprintf(&b, "  %s at line %s%s\n", reason, strings.Join(parts, ", "), more)
	}
	if r.Error != "" {
		fmt.Fprintf(&b, "error: %s\n", r.Error)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	if r.DryRun {
		fmt.Fprintln(tw, "destination\tprofile\tstatus\tmembers\tadd\tremove\tupdate\trefresh\tunchanged\t")
		for _, d := range r.Destinations {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t\n", d.Name, d.Profile, d.Status, d.Members,
				d.Planned.Add, d.Planned.Remove, d.Planned.Update, d.Planned.Refresh, d.Planned.Unchanged)
		}
	} else {
		fmt.Fprintln(tw, "destination\tprofile\tstatus\tmembers\tadded\tremoved\tupdated\trefreshed\tunchanged\tfailed\tbatches\tretries\t")
		for _, d := range r.Destinations {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", d.Name, d.Profile, d.Status, d.Members,
				d.Applied.Added, d.Applied.Removed, d.Applied.Updated, d.Applied.Refreshed, d.Planned.Unchanged,
				d.Applied.Failed, d.Batches, d.Retries)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	b.Reset()
	for _, d := range r.Destinations {
		if len(d.Rejected) > 0 || d.ConsentDenied > 0 || d.PreHashed > 0 {
			fmt.Fprintf(&b, "%s: %d identifiers rejected%s", d.Name, sum(d.Rejected), reasons(d.Rejected))
			if d.ConsentDenied > 0 {
				fmt.Fprintf(&b, ", %d members left out for denied consent", d.ConsentDenied)
			}
			if d.PreHashed > 0 {
				fmt.Fprintf(&b, ", %d values arrived pre-hashed", d.PreHashed)
			}
			b.WriteString("\n")
		}
		if len(d.PlatformRejected) > 0 {
			fmt.Fprintf(&b, "%s: platform refused %d members%s\n", d.Name, sum(d.PlatformRejected), reasons(d.PlatformRejected))
		}
		if p := d.Platform; p != nil && (p.Status != "" || p.MatchRate != "" || len(p.Counts) > 0) {
			fmt.Fprintf(&b, "%s: platform status %s", d.Name, orDash(p.Status))
			if p.MatchRate != "" {
				fmt.Fprintf(&b, ", match rate %s", p.MatchRate)
			}
			if len(p.Counts) > 0 {
				b.WriteString(reasons(p.Counts))
			}
			b.WriteString("\n")
		}
		for _, e := range d.Errors {
			fmt.Fprintf(&b, "%s: error: %s\n", d.Name, e)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func sum(m map[string]int64) int64 {
	var n int64
	for _, v := range m {
		n += v
	}
	return n
}

// reasons formats counts as " (a: 3, b: 1)", most frequent first.
func reasons(m map[string]int64) string {
	if len(m) == 0 {
		return ""
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if m[keys[i]] != m[keys[j]] {
			return m[keys[i]] > m[keys[j]]
		}
		return keys[i] < keys[j]
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s: %d", k, m[k])
	}
	return " (" + strings.Join(parts, ", ") + ")"
}
