// Package report defines the run report: one JSON object per run with counts
// of what was read, rejected, planned and applied per destination, and what
// the platform said. It carries counts and reasons, never contact data.
//
// # Statuses
//
// A run, and each destination in it, has a Status, with one meaning each:
//
//   - running: not ended yet; a stored run left running by a process that
//     died is shown as interrupted.
//   - planned: a dry run (plan) that completed; nothing was sent.
//   - succeeded: every planned change was applied and committed; members
//     the platform refused one by one are counted, not a failure.
//   - partial: the destination went on to the end, but some changes
//     failed (a batch the platform refused, or one still failing once its
//     retries were spent), or an error of its own stopped it after some
//     changes were applied; the next run sends the rest.
//   - failed: an error of the destination's own (credentials, audience,
//     state store) stopped it before anything was applied, or a step every
//     destination shares failed (the source read, planning). A run is
//     failed when none of its destinations got anything applied.
//   - aborted: the removal guard stopped the run before anything was
//     uploaded; every destination of the run is aborted.
//   - interrupted: the run was stopped from outside (cancelled, Ctrl-C or
//     SIGTERM, safety.max_run_duration) before the destination finished,
//     at any step: reading, planning or applying. A run is interrupted when
//     any of its destinations is. What was acknowledged is committed; the
//     next run carries on.
//   - skipped: a scheduled tick that did not run because the sync was
//     still running; recorded by the daemon (`serve`), with no
//     destinations.
//
// DestinationStatus and RunStatus derive them; nothing else sets one but
// the daemon's skipped.
//
// # Counts
//
// Planned and Applied count members (one CRM record as a destination
// holds it), never identifiers. Each planned change ends in exactly one
// applied field:
//
//	planned.add      → applied.added,     failed or not_attempted
//	planned.remove   → applied.removed,   failed or not_attempted
//	planned.update   → applied.updated,   failed or not_attempted
//	planned.refresh  → applied.refreshed, failed or not_attempted
//	planned.unchanged: nothing is sent; no applied field
//
// so that outside a dry run, always,
//
//	add + remove + update + refresh =
//	    added + removed + updated + refreshed + failed + not_attempted
//
// (Report.CheckCounts checks it). An update is sent as the removal of the
// identifiers its member no longer carries and the add of its new ones; a
// full refresh of a destination that cannot empty an audience clears each
// member that stays before re-adding it. Such a member counts once: failed
// when either half failed, updated (or refreshed) when both went in, not
// attempted when its add half was never sent.
//
// failed counts members sent that did not go in: refused one by one by
// the platform (also counted by reason in platform_rejected), in a batch
// the platform refused as a whole, in a batch still failing when its
// retries were spent, or acknowledged but not committed because the state
// store failed. not_attempted counts members the platform never
// considered: batches never sent because the destination stopped (an
// error, the run's end), batches cut short by an interrupt or the run's
// deadline, and the batch refused for a reason of the destination rather
// than of its members (expired credentials, a fatal error). So a Meta
// token expiring after 20,000 of 55,000 planned members reports 20,000
// applied and 35,000 not attempted.
//
// Other counts name their unit: source counts are records; rejected
// counts identifiers (reasons "member.…" count members); source
// attributes count valid records; consent_denied and excluded count
// members; pre_hashed counts identifiers; platform match rates and
// counts are the platform's own, of the identifiers of this run's
// requests.
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
	// Segments has one entry per segment of a sync that defines
	// segments, in the config's order; absent otherwise.
	Segments []*Segment `json:"segments,omitempty"`
	// Moves counts the members that moved between stages, per pair and
	// destination; absent when none did.
	Moves []Move `json:"moves,omitempty"`
	// Error says why the run failed or was aborted, and what to do.
	Error string `json:"error,omitempty"`
	// StartedBy says who or what started the run (the words of
	// state.Run.StartedBy: schedule, catch-up, cli, api:NAME, web:NAME);
	// absent when the caller did not say.
	StartedBy string `json:"started_by,omitempty"`
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
	// Attributes counts, per attribute the sync asked for (in the order
	// of source.attributes), how many valid records had a value, had none
	// and had one that did not parse: only counts, never a value.
	Attributes []AttributeCount `json:"attributes,omitempty"`
}

// AttributeCount counts one attribute over the valid records of a read:
// Present + Missing + Invalid = Source.Valid. An invalid value (one that
// does not parse as the attribute's type) is treated as missing by
// segmentation and counted apart here, so a wrong layout or type shows.
type AttributeCount struct {
	Name    string `json:"name"`
	Present int64  `json:"present"`
	Missing int64  `json:"missing"`
	Invalid int64  `json:"invalid"`
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

// Applied counts, in members, how each planned change ended; see the
// package documentation for which planned count each field settles.
// Outside a dry run, Planned.Changes() == Applied.Settled() +
// NotAttempted, always (CheckCounts).
type Applied struct {
	// Added, Removed, Updated and Refreshed count the members whose
	// planned add, remove, update or refresh the destination acknowledged
	// and state committed.
	Added     int64 `json:"added"`
	Removed   int64 `json:"removed"`
	Updated   int64 `json:"updated"`
	Refreshed int64 `json:"refreshed"`
	// Failed counts members sent that did not go in: refused one by one,
	// in a batch the platform refused, or in a batch still failing when
	// its retries were spent (or acknowledged, but then not committed).
	Failed int64 `json:"failed"`
	// NotAttempted counts planned members never sent, or sent in a batch
	// the run's end cut short or refused for a reason of the destination
	// (expired credentials, a fatal error): the platform considered none
	// of them. The next run sends them. Always present outside a dry
	// run: 0 means none.
	NotAttempted int64 `json:"not_attempted"`
}

// Destination is one destination's part of the report.
type Destination struct {
	Name string `json:"name"`
	// Segment is the segment whose members the destination receives,
	// for a sync with segments (Name is then segment/destination).
	Segment    string `json:"segment,omitempty"`
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
	// Excluded counts members the destination's segment left out (and
	// removed, when it held them), by the segment's reason.
	Excluded map[string]int64 `json:"excluded,omitempty"`
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
	fmt.Fprintf(&b, "source: %d records read, %d valid, %d duplicates, %d rejected%s\n",
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
	for _, a := range r.Source.Attributes {
		fmt.Fprintf(&b, "  attribute %s: %d present, %d missing", a.Name, a.Present, a.Missing)
		if a.Invalid > 0 {
			fmt.Fprintf(&b, ", %d invalid (attribute.invalid)", a.Invalid)
		}
		b.WriteString("\n")
	}
	r.writeSegments(&b)
	if r.Error != "" {
		fmt.Fprintf(&b, "error: %s\n", r.Error)
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return err
	}
	if err := r.writeTable(w); err != nil {
		return err
	}
	b.Reset()
	for _, d := range r.Destinations {
		members, identifiers := splitRejected(d.Rejected)
		var parts []string
		if len(identifiers) > 0 {
			parts = append(parts, fmt.Sprintf("%s rejected%s", count(sum(identifiers), "identifier"), reasons(identifiers)))
		}
		if len(members) > 0 {
			parts = append(parts, fmt.Sprintf("%s rejected%s", count(sum(members), "member"), reasons(members)))
		}
		if d.ConsentDenied > 0 {
			parts = append(parts, fmt.Sprintf("%s left out for denied consent", count(d.ConsentDenied, "member")))
		}
		if len(d.Excluded) > 0 {
			parts = append(parts, fmt.Sprintf("%d members left out by the segment%s", sum(d.Excluded), reasons(d.Excluded)))
		}
		if d.PreHashed > 0 {
			parts = append(parts, fmt.Sprintf("%s arrived pre-hashed", count(d.PreHashed, "identifier")))
		}
		if len(parts) > 0 {
			fmt.Fprintf(&b, "%s: %s\n", d.Name, strings.Join(parts, ", "))
		}
		if len(d.PlatformRejected) > 0 {
			fmt.Fprintf(&b, "%s: platform refused %s%s\n", d.Name, count(sum(d.PlatformRejected), "member"), reasons(d.PlatformRejected))
		}
		if line := platformLine(d.Platform); line != "" {
			fmt.Fprintf(&b, "%s: %s\n", d.Name, line)
		}
		for _, e := range d.Errors {
			fmt.Fprintf(&b, "%s: error: %s\n", d.Name, e)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// writeTable writes the table of destinations, if there are any. Every
// figure in it counts members (CRM records as the destination holds
// them), never identifiers.
func (r *Report) writeTable(w io.Writer) error {
	if len(r.Destinations) == 0 {
		return nil
	}
	if _, err := io.WriteString(w, "destinations, in members (audience: members after the run):\n"); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	if r.DryRun {
		fmt.Fprintln(tw, "destination\tprofile\tstatus\taudience\tadd\tremove\tupdate\trefresh\tunchanged\t")
		for _, d := range r.Destinations {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t\n", d.Name, d.Profile, d.Status, d.Members,
				d.Planned.Add, d.Planned.Remove, d.Planned.Update, d.Planned.Refresh, d.Planned.Unchanged)
		}
	} else {
		fmt.Fprintln(tw, "destination\tprofile\tstatus\taudience\tadded\tremoved\tupdated\trefreshed\tunchanged\tfailed\tnot attempted\tbatches\tretries\t")
		for _, d := range r.Destinations {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t%d\t\n", d.Name, d.Profile, d.Status, d.Members,
				d.Applied.Added, d.Applied.Removed, d.Applied.Updated, d.Applied.Refreshed, d.Planned.Unchanged,
				d.Applied.Failed, d.Applied.NotAttempted, d.Batches, d.Retries)
		}
	}
	return tw.Flush()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// splitRejected splits a destination's rejections into those that count
// members (reasons "member.…") and those that count identifiers.
func splitRejected(m map[string]int64) (members, identifiers map[string]int64) {
	for reason, n := range m {
		dst := &identifiers
		if strings.HasPrefix(reason, "member.") {
			dst = &members
		}
		if *dst == nil {
			*dst = map[string]int64{}
		}
		(*dst)[reason] = n
	}
	return members, identifiers
}

// platformLine words what the platform reported, leaving out what it did
// not: its processing status, the match rate (of the identifiers of this
// run's request, not of the whole audience) and its own counts, under the
// names it gives them. "" when it reported nothing.
func platformLine(p *connectors.PlatformReport) string {
	if p == nil {
		return ""
	}
	var parts []string
	if p.Status != "" {
		parts = append(parts, "status "+p.Status)
	}
	if p.MatchRate != "" {
		of := "of this request"
		if strings.Contains(p.MatchRate, " to ") {
			of = "across this run's requests"
		}
		parts = append(parts, fmt.Sprintf("match rate %s %s", p.MatchRate, of))
	}
	if len(p.Counts) > 0 {
		parts = append(parts, "counts"+reasons(p.Counts))
	}
	if len(parts) == 0 {
		return ""
	}
	return "platform reported " + strings.Join(parts, ", ")
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

// count is n with noun, plural unless n is 1: "1 member", "3 members".
func count(n int64, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
