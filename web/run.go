package web

import (
	"encoding/csv"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/audiencesync/audiencesync/report"
)

// runView is the run page's: the report in words and figures.
type runView struct {
	ID          string
	Sync        string
	Status      string
	DryRun      bool
	FullRefresh bool
	Forced      bool
	Started     time.Time
	Took        time.Duration
	StartedBy   string
	// Summary is the report in sentences: the source's, then one per
	// destination.
	Summary []string
	Advice  string
	Error   string
	Source  sourceView
	Dests   []destView
	// Segments and Moves are a segmented sync's: each segment's figures
	// with its destinations, and the members moved between stages.
	Segments []segmentView
	Moves    []moveRow

	// Running, with Progress, is a run in progress (no report yet);
	// Interrupted one whose process stopped before it ended.
	Running     bool
	Interrupted bool
	Progress    *Progress
}

type sourceView struct {
	Read, Declared, Valid, Duplicates, Rejected int64
	Reasons                                     []counted
	Attributes                                  []report.AttributeCount
}

type destView struct {
	*report.Destination
	Label string
	// Identifiers and Members are the normaliser's rejections, counted
	// in identifiers and in members.
	Identifiers      []counted
	MemberRejects    []counted
	Excluded         []counted
	PlatformRejected []counted
	Platform         *platformView
}

// runPage: GET /runs/{id}.
func (s *server) runPage(w http.ResponseWriter, r *http.Request, v *viewer) error {
	rec, err := s.opts.Service.RunRecord(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	who := starterText(rec.StartedBy)
	var view runView
	switch {
	case len(rec.Report) > 0:
		rep, err := s.opts.Service.Report(r.Context(), rec.ID)
		if err != nil {
			return err
		}
		view = runViewOf(rep, who)
	default:
		view = runView{ID: rec.ID, Sync: rec.Sync, Status: shownStatus(rec), Started: rec.Started, StartedBy: who,
			Running: !rec.Interrupted, Interrupted: rec.Interrupted}
		if rec.Interrupted {
			view.Advice = "This run's process stopped (killed or crashed) before the run ended, so it has no report. " +
				"What the platforms acknowledged was kept; the next run of " + rec.Sync + " carries on from there."
		} else if p, _, ok := s.live.progress(rec.ID); ok {
			view.Progress = &p
		}
	}
	data := pageData{Title: "Run of " + view.Sync, Viewer: v, Body: view}
	if view.Running {
		data.Refresh = 5
	}
	s.render(w, http.StatusOK, "run", data)
	return nil
}

// runViewOf words a report.
func runViewOf(rep *report.Report, who string) runView {
	v := runView{ID: rep.RunID, Sync: rep.Sync, Status: string(rep.Status), DryRun: rep.DryRun, FullRefresh: rep.FullRefresh,
		Forced: rep.Forced, Started: rep.StartedAt, StartedBy: who, Error: rep.Error}
	if !rep.FinishedAt.IsZero() {
		v.Took = rep.FinishedAt.Sub(rep.StartedAt)
	}
	src := rep.Source
	v.Source = sourceView{Read: src.Read, Declared: src.Declared, Valid: src.Valid, Duplicates: src.Duplicates, Rejected: total(src.Rejected),
		Reasons: byCount(src.Rejected, src.RejectedLines), Attributes: src.Attributes}
	v.Summary = append(v.Summary, sourceSentence(v.Source))
	for _, d := range rep.Destinations {
		dv := destView{Destination: d, Label: platformName(d.Type, d.Profile), Excluded: byCount(d.Excluded, nil),
			PlatformRejected: byCount(d.PlatformRejected, nil), Platform: platformOf(d)}
		for _, c := range byCount(d.Rejected, nil) {
			if strings.HasPrefix(c.Reason, "member.") {
				dv.MemberRejects = append(dv.MemberRejects, c)
			} else {
				dv.Identifiers = append(dv.Identifiers, c)
			}
		}
		v.Dests = append(v.Dests, dv)
		v.Summary = append(v.Summary, destSentence(dv, rep.DryRun))
	}
	if len(rep.Segments) > 0 {
		v.Segments, v.Moves = segmentsOf(rep, v.Dests), movesOf(rep.Moves)
		// After the source's sentence: how the members moved and who was
		// kept out, before the destinations' figures.
		var seg []string
		for _, s := range []string{movesSentence(v.Moves, rep.DryRun), suppressionSentence(v.Segments)} {
			if s != "" {
				seg = append(seg, s)
			}
		}
		v.Summary = append(v.Summary[:1], append(seg, v.Summary[1:]...)...)
	}
	v.Advice = adviceFor(rep.Status)
	return v
}

// sourceSentence: "2,003 records read: 1,980 valid, 19 duplicates, 4
// rejected, mostly rows that could not be read."
func sourceSentence(src sourceView) string {
	out := fmt.Sprintf("%s %s read: %s valid, %s %s, %s rejected", num(src.Read), plural(src.Read, "record", "records"),
		num(src.Valid), num(src.Duplicates), plural(src.Duplicates, "duplicate", "duplicates"), num(src.Rejected))
	if len(src.Reasons) > 0 {
		out += ", mostly " + reasonWords(src.Reasons[0].Reason)
	}
	return out + "."
}

// destSentence: "1,917 contacts sent to Google Ads (google), 21 removed;
// 204 rejected, mostly malformed e-mail addresses."
func destSentence(d destView, dry bool) string {
	sent := d.Applied.Added + d.Applied.Updated + d.Applied.Refreshed
	removed := d.Applied.Removed
	verb, rverb := "sent to", "removed"
	if dry {
		sent = d.Planned.Add + d.Planned.Update + d.Planned.Refresh
		removed = d.Planned.Remove
		verb, rverb = "would be sent to", "would be removed"
	}
	where := d.Label + " (" + d.Name + ")"
	var out string
	if sent == 0 && removed == 0 {
		m := d.Destination.Members
		out = fmt.Sprintf("Nothing to change in %s: its %s %s %s as before", where, num(m), plural(m, "member", "members"), plural(m, "stays", "stay"))
	} else {
		out = fmt.Sprintf("%s %s %s %s, %s %s", num(sent), plural(sent, "contact", "contacts"), verb, where, num(removed), rverb)
	}
	rejected := total(d.Rejected)
	if rejected > 0 {
		all := append(append([]counted(nil), d.Identifiers...), d.MemberRejects...)
		top := all[0]
		for _, c := range all {
			if c.Count > top.Count {
				top = c
			}
		}
		out += fmt.Sprintf("; %s rejected, mostly %s", num(rejected), reasonWords(top.Reason))
	}
	if d.Applied.Failed > 0 {
		out += fmt.Sprintf("; %s failed", num(d.Applied.Failed))
	}
	if d.Applied.NotAttempted > 0 {
		out += fmt.Sprintf("; %s not attempted yet", num(d.Applied.NotAttempted))
	}
	return out + "."
}

// reportJSON: GET /runs/{id}/report.json, the report as stored.
func (s *server) reportJSON(w http.ResponseWriter, r *http.Request, _ *viewer) error {
	rec, err := s.opts.Service.RunRecord(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	if len(rec.Report) == 0 {
		return noReport(rec.ID)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Disposition", `attachment; filename="`+fileName(rec.ID)+`.json"`)
	_, _ = w.Write(rec.Report)
	return nil
}

func noReport(id string) error {
	return &pageError{Status: http.StatusNotFound, Title: "No report yet",
		Detail: "Run " + id + " has no report: it is still running, or its process stopped before it ended. Its page says which."}
}

// csvHeader is the CSV download's header: one row per destination. The
// segment, empty for a sync without segments, comes last so the columns
// before it keep their places.
var csvHeader = []string{"run_id", "sync", "status", "destination", "type", "profile", "audience_id", "destination_status", "members",
	"planned_add", "planned_remove", "planned_update", "planned_refresh", "planned_unchanged",
	"added", "removed", "updated", "refreshed", "failed", "not_attempted",
	"rejected", "consent_denied", "platform_rejected", "batches", "retries", "platform_status", "match_rate", "segment"}

// reportCSV: GET /runs/{id}/report.csv, one row per destination.
func (s *server) reportCSV(w http.ResponseWriter, r *http.Request, _ *viewer) error {
	rep, err := s.opts.Service.Report(r.Context(), r.PathValue("id"))
	if err != nil {
		return noReport(r.PathValue("id"))
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", `attachment; filename="`+fileName(rep.RunID)+`.csv"`)
	cw := csv.NewWriter(w)
	_ = cw.Write(csvHeader)
	n := func(v int64) string { return strconv.FormatInt(v, 10) }
	for _, d := range rep.Destinations {
		var pst, rate string
		if d.Platform != nil {
			pst, rate = d.Platform.Status, d.Platform.MatchRate
		}
		row := []string{rep.RunID, rep.Sync, string(rep.Status), d.Name, d.Type, d.Profile, d.AudienceID, string(d.Status), n(d.Members),
			n(d.Planned.Add), n(d.Planned.Remove), n(d.Planned.Update), n(d.Planned.Refresh), n(d.Planned.Unchanged),
			n(d.Applied.Added), n(d.Applied.Removed), n(d.Applied.Updated), n(d.Applied.Refreshed), n(d.Applied.Failed), n(d.Applied.NotAttempted),
			n(total(d.Rejected)), n(d.ConsentDenied), n(total(d.PlatformRejected)), strconv.Itoa(d.Batches), strconv.Itoa(d.Retries), pst, rate, d.Segment}
		for i, c := range row {
			row[i] = csvSafe(c)
		}
		_ = cw.Write(row)
	}
	cw.Flush()
	return cw.Error()
}

// csvSafe keeps a spreadsheet from reading a cell as a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// fileName keeps a run id's safe characters for a download's name.
func fileName(id string) string {
	return "run-" + slug(id)
}
