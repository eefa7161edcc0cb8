package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/audiencesync/audiencesync/api"
	"github.com/audiencesync/audiencesync/configs"
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/syncs"
)

// Page sizes: points in a size chart (and a sparkline), runs per page of
// history. They keep every page well under 200 KB.
const (
	chartPoints = 60
	sparkPoints = 20
	historyPage = 20
)

// overviewData is the overview's.
type overviewData struct {
	Config string
	Syncs  []syncRow
}

// syncRow is one sync on the overview.
type syncRow struct {
	Name    string
	Status  string // the last run's, "" before any
	LastRun *runHead
	NextRun *time.Time
	Dests   []destSize
	// Segments are a segmented sync's sub-rows: each segment with a
	// destination, and its destinations' sizes.
	Segments []segmentSizes
	// Warning says the sync has not succeeded within its alert window.
	Warning string
}

type runHead struct {
	ID       string
	Started  time.Time
	Finished time.Time
}

// segmentSizes is one segment's sub-row on the overview.
type segmentSizes struct {
	Name string
	// Note says what kind of segment it is: "stage of cart", "10% held
	// out".
	Note  string
	Dests []destSize
}

// destSize is a destination's audience size after its latest run that
// succeeded there, and the change from the run before.
type destSize struct {
	Name      string
	Size      int64
	Has       bool
	Change    int64
	HasChange bool
	Spark     template.HTML
}

// overview: GET /.
func (s *server) overview(w http.ResponseWriter, r *http.Request, v *viewer) error {
	cfg := s.opts.Service.Config()
	out := overviewData{Config: cfg.Path, Syncs: make([]syncRow, 0, len(cfg.Syncs))}
	for _, sc := range cfg.Syncs {
		row, err := s.syncRowOf(r.Context(), cfg, sc)
		if err != nil {
			return err
		}
		out.Syncs = append(out.Syncs, row)
	}
	s.render(w, http.StatusOK, "overview", pageData{Title: "Syncs", Viewer: v, Body: out})
	return nil
}

// syncRowOf reads one sync's row from its last sparkPoints runs: one
// run-log query per sync, whose summaries carry each destination's size
// (a destination without a size among them asks its size history).
func (s *server) syncRowOf(ctx context.Context, cfg *configs.Config, sc *configs.Sync) (syncRow, error) {
	row := syncRow{Name: sc.Name, NextRun: s.nextRun(sc.Name)}
	recent, err := s.opts.Service.ListRuns(ctx, state.RunFilter{Sync: sc.Name, Limit: sparkPoints})
	if err != nil {
		return row, err
	}
	var recorded []string
	if l, ok := lastRan(recent); ok {
		row.Status = shownStatus(l)
		row.LastRun = &runHead{ID: l.ID, Started: l.Started, Finished: l.Finished}
		for _, sum := range l.Summaries {
			recorded = append(recorded, sum.Destination)
		}
	}
	segs := map[string]int{} // segment name → index in row.Segments
	for _, d := range sc.Targets() {
		for _, name := range api.ReportNames(d.Name, recorded) {
			points := sizesOf(recent, name)
			if len(points) == 0 {
				if points, err = s.opts.Service.SizeHistory(ctx, sc.Name, name, sparkPoints); err != nil {
					return row, err
				}
			}
			ds := destSize{Name: name}
			if n := len(points); n > 0 {
				ds.Size, ds.Has = points[n-1].Members, true
				if n > 1 {
					ds.Change, ds.HasChange = points[n-1].Members-points[n-2].Members, true
				}
				ds.Spark = sparkline(name, points)
			}
			if d.Segment == "" {
				row.Dests = append(row.Dests, ds)
				continue
			}
			// Under its segment, a destination goes by its own name.
			ds.Name = strings.TrimPrefix(name, d.Segment+"/")
			i, ok := segs[d.Segment]
			if !ok {
				i = len(row.Segments)
				segs[d.Segment] = i
				row.Segments = append(row.Segments, segmentSizes{Name: d.Segment, Note: segmentNote(segmentOf(sc, d.Segment))})
			}
			row.Segments[i].Dests = append(row.Segments[i].Dests, ds)
		}
	}
	row.Warning, err = s.staleWarning(ctx, cfg, sc, recent)
	return row, err
}

// statusSkipped is the status the daemon records for a tick skipped
// because the sync was still running: a run that did nothing.
const statusSkipped = string(report.StatusSkipped)

// lastRan returns the newest of runs (newest first) that ran, passing
// over skipped ticks, which would hide how the sync is doing.
func lastRan(runs []syncs.RunRecord) (syncs.RunRecord, bool) {
	for _, r := range runs {
		if r.Status != statusSkipped {
			return r, true
		}
	}
	return syncs.RunRecord{}, false
}

// sizesOf picks destination name's sizes, oldest first, from runs
// (newest first), as the size history counts them: after runs that
// succeeded there or partly did.
func sizesOf(runs []syncs.RunRecord, name string) []state.SizePoint {
	var out []state.SizePoint
	for i := len(runs) - 1; i >= 0; i-- {
		for _, sum := range runs[i].Summaries {
			if sum.Destination != name {
				continue
			}
			switch report.Status(sum.Status) {
			case report.StatusSucceeded, report.StatusPartial, report.StatusInterrupted:
				out = append(out, state.SizePoint{RunID: runs[i].ID, Status: sum.Status, Finished: runs[i].Finished, Members: sum.Members})
			}
		}
	}
	return out
}

// staleWarning says when sc has not succeeded within its alerts'
// stale_after; "" when it has, or has no such window.
func (s *server) staleWarning(ctx context.Context, cfg *configs.Config, sc *configs.Sync, last []syncs.RunRecord) (string, error) {
	window := cfg.SyncAlerts(sc).StaleAfter
	if window <= 0 {
		return "", nil
	}
	var success time.Time
	for _, r := range last {
		if r.Status == string(report.StatusSucceeded) {
			success = r.Finished
			break
		}
	}
	if success.IsZero() {
		ok, err := s.opts.Service.ListRuns(ctx, state.RunFilter{Sync: sc.Name, Statuses: []string{string(report.StatusSucceeded)}, Limit: 1})
		if err != nil {
			return "", err
		}
		if len(ok) > 0 {
			success = ok[0].Finished
		}
	}
	switch {
	case success.IsZero():
		return fmt.Sprintf("Has never succeeded (alert window %s).", duration(window)), nil
	case s.now().Sub(success) > window:
		return fmt.Sprintf("No successful run for %s (alert window %s).", duration(s.now().Sub(success).Truncate(time.Minute)), duration(window)), nil
	}
	return "", nil
}

func (s *server) nextRun(sync string) *time.Time {
	if s.opts.NextRun == nil {
		return nil
	}
	if t, ok := s.opts.NextRun(sync); ok {
		return &t
	}
	return nil
}

// shownStatus is a run's status as shown: interrupted for one a crash
// left running.
func shownStatus(rec syncs.RunRecord) string {
	if rec.Interrupted {
		return string(report.StatusInterrupted)
	}
	return rec.Status
}

// syncData is the sync page's.
type syncData struct {
	Name          string
	Schedule      string
	ScheduleWords string
	Timezone      string
	NextRun       *time.Time
	StaleAfter    time.Duration
	Source        configs.SourceRef
	SourceType    string
	Dests         []destDetail
	// Segments and Suppress are a segmented sync's config: each segment's
	// filter and kind, and the suppression lists.
	Segments []segmentConf
	Suppress []suppressionConf
	Charts   []chartData
	Runs     []runRow
	// Older is the cursor of the next page of history; Paged says this
	// is not the first page.
	Older  string
	Paged  bool
	Queued bool
	// ChartPoints is how many runs a chart shows at most.
	ChartPoints int
}

// destDetail is a destination as the sync page lists it, with what its
// latest report says.
type destDetail struct {
	Name string
	// Segment is the destination's segment, "" without segments.
	Segment    string
	Type       string
	Audience   string
	AudienceID string
	Status     string
	Members    int64
	Reported   bool
	Platform   *platformView
}

type platformView struct {
	Status    string
	MatchRate string
	Size      int64
	Counts    []counted
}

// Summary words the platform's figures in one line: "match rate 61-70%
// · SUCCESS · size 4,529".
func (p *platformView) Summary() string {
	var parts []string
	if p.MatchRate != "" {
		parts = append(parts, "match rate "+p.MatchRate)
	}
	if p.Status != "" {
		parts = append(parts, p.Status)
	}
	if p.Size > 0 {
		parts = append(parts, "size "+num(p.Size))
	}
	return strings.Join(parts, " · ")
}

type chartData struct {
	Name string
	// Segment is the segment of the chart's destination, "" without.
	Segment string
	SVG     template.HTML
	Points  []state.SizePoint // newest first, for the table
}

// runRow is one run in the history.
type runRow struct {
	ID        string
	Started   time.Time
	Took      time.Duration
	Status    string
	Added     int64
	Removed   int64
	Refreshed int64
	Failed    int64
	StartedBy string
}

// syncPage: GET /syncs/{sync}?after=CURSOR.
func (s *server) syncPage(w http.ResponseWriter, r *http.Request, v *viewer) error {
	cfg := s.opts.Service.Config()
	sc, err := syncOf(cfg, r.PathValue("sync"))
	if err != nil {
		return err
	}
	ctx := r.Context()
	out := syncData{Name: sc.Name, Schedule: sc.Schedule, ScheduleWords: scheduleWords(sc.Schedule), Timezone: sc.Timezone,
		NextRun: s.nextRun(sc.Name), StaleAfter: cfg.SyncAlerts(sc).StaleAfter, Source: sc.Source, Queued: r.URL.Query().Get("queued") != "",
		ChartPoints: chartPoints}
	if out.Timezone == "" {
		out.Timezone = "UTC"
	}
	if c := cfg.Connections[sc.Source.Connection]; c != nil {
		out.SourceType = c.Type
	}
	filter := state.RunFilter{Sync: sc.Name, Limit: historyPage}
	if after := r.URL.Query().Get("after"); after != "" {
		c, err := api.DecodeCursor(after)
		if err != nil {
			return &pageError{Status: http.StatusBadRequest, Title: "Unknown page", Detail: "That page of run history does not exist; start from the newest runs."}
		}
		filter.After, out.Paged = &c, true
	}
	runs, err := s.opts.Service.ListRuns(ctx, filter)
	if err != nil {
		return err
	}
	for _, rec := range runs {
		out.Runs = append(out.Runs, s.runRowOf(rec))
	}
	if len(runs) == historyPage {
		last := runs[len(runs)-1]
		out.Older = api.EncodeCursor(state.RunCursor{Started: last.Started, ID: last.ID})
	}
	rep, err := s.latestReport(ctx, sc.Name)
	if err != nil {
		return err
	}
	var recorded []string
	if rep != nil {
		for _, d := range rep.Destinations {
			recorded = append(recorded, d.Name)
		}
	}
	out.Segments, out.Suppress = segmentConfsOf(cfg, sc)
	for _, d := range sc.Targets() {
		for _, name := range api.ReportNames(d.Name, recorded) {
			dd := destDetailOf(cfg, d.Destination, name, rep)
			dd.Segment = d.Segment
			out.Dests = append(out.Dests, dd)
			points, err := s.opts.Service.SizeHistory(ctx, sc.Name, name, chartPoints)
			if err != nil {
				return err
			}
			ch := chartData{Name: name, Segment: d.Segment, SVG: sizeChart(name, points)}
			for i := len(points) - 1; i >= 0; i-- {
				ch.Points = append(ch.Points, points[i])
			}
			out.Charts = append(out.Charts, ch)
		}
	}
	s.render(w, http.StatusOK, "sync", pageData{Title: sc.Name, Viewer: v, Body: out})
	return nil
}

func destDetailOf(cfg *configs.Config, d *configs.Destination, name string, rep *report.Report) destDetail {
	out := destDetail{Name: name, Audience: d.Audience.Name}
	if c := cfg.Connections[d.Connection]; c != nil {
		out.Type = c.Type
	}
	if rep == nil {
		return out
	}
	for _, rd := range rep.Destinations {
		if rd.Name != name {
			continue
		}
		out.AudienceID, out.Status, out.Members, out.Reported = rd.AudienceID, string(rd.Status), rd.Members, true
		out.Platform = platformOf(rd)
	}
	return out
}

func platformOf(d *report.Destination) *platformView {
	p := d.Platform
	if p == nil || p.Status == "" && p.MatchRate == "" && len(p.Counts) == 0 && p.Size <= 0 {
		return nil
	}
	return &platformView{Status: p.Status, MatchRate: p.MatchRate, Size: p.Size, Counts: byCount(p.Counts, nil)}
}

// latestReport returns the report of the sync's newest run that has one,
// among its last few; nil when none has.
func (s *server) latestReport(ctx context.Context, sync string) (*report.Report, error) {
	runs, err := s.opts.Service.ListRuns(ctx, state.RunFilter{Sync: sync, Limit: 5})
	if err != nil {
		return nil, err
	}
	for _, rec := range runs {
		if rec.Finished.IsZero() {
			continue
		}
		rep, err := s.opts.Service.Report(ctx, rec.ID)
		if errors.Is(err, syncs.ErrNoReport) {
			continue
		}
		return rep, err
	}
	return nil, nil
}

func (s *server) runRowOf(rec syncs.RunRecord) runRow {
	row := runRow{ID: rec.ID, Started: rec.Started, Status: shownStatus(rec), StartedBy: starterText(rec.StartedBy)}
	if !rec.Finished.IsZero() {
		row.Took = rec.Finished.Sub(rec.Started)
	}
	for _, sum := range rec.Summaries {
		row.Added += sum.Applied.Added
		row.Removed += sum.Applied.Removed
		row.Refreshed += sum.Applied.Refreshed
		row.Failed += sum.Applied.Failed
	}
	return row
}

func syncOf(cfg *configs.Config, name string) (*configs.Sync, error) {
	if sc := cfg.Sync(name); sc != nil {
		return sc, nil
	}
	return nil, &pageError{Status: http.StatusNotFound, Title: "No such sync",
		Detail: fmt.Sprintf("There is no sync named %q in %s. The overview lists every sync.", name, cfg.Path)}
}

// confirmData is the confirmation page's.
type confirmData struct {
	Sync   string
	Action string // preview or run
}

// confirmPreview: GET /syncs/{sync}/preview.
func (s *server) confirmPreview(w http.ResponseWriter, r *http.Request, v *viewer) error {
	return s.confirm(w, r, v, "preview")
}

// confirmRun: GET /syncs/{sync}/run.
func (s *server) confirmRun(w http.ResponseWriter, r *http.Request, v *viewer) error {
	return s.confirm(w, r, v, "run")
}

func (s *server) confirm(w http.ResponseWriter, r *http.Request, v *viewer, action string) error {
	sc, err := syncOf(s.opts.Service.Config(), r.PathValue("sync"))
	if err != nil {
		return err
	}
	title := "Preview " + sc.Name
	if action == "run" {
		title = "Run " + sc.Name + " now"
	}
	s.render(w, http.StatusOK, "confirm", pageData{Title: title, Viewer: v, Body: confirmData{Sync: sc.Name, Action: action}})
	return nil
}

// preview: POST /syncs/{sync}/preview, a dry run shown as its report. It
// runs under the request, like the API's plan: leaving the page stops it.
func (s *server) preview(w http.ResponseWriter, r *http.Request, v *viewer) error {
	sc, err := syncOf(s.opts.Service.Config(), r.PathValue("sync"))
	if err != nil {
		return err
	}
	rep, err := s.opts.Service.Plan(r.Context(), sc.Name, syncs.RunOptions{FullRefresh: r.PostFormValue("full_refresh") != "", StartedBy: v.startedBy})
	if rep == nil {
		return runError(sc.Name, "preview", err)
	}
	s.render(w, http.StatusOK, "run", pageData{Title: "Preview of " + sc.Name, Viewer: v, Body: runViewOf(rep, starterText(rep.StartedBy))})
	return nil
}

// startWait is how long Run now waits for the run to be recorded before
// it shows the sync page with the run queued (the daemon's concurrency
// cap holds it back).
const startWait = 10 * time.Second

// runNow: POST /syncs/{sync}/run. The run goes on in the background,
// detached from the request, through the daemon's Trigger; the answer
// sends the browser to its page once it is recorded.
func (s *server) runNow(w http.ResponseWriter, r *http.Request, v *viewer) error {
	sc, err := syncOf(s.opts.Service.Config(), r.PathValue("sync"))
	if err != nil {
		return err
	}
	opts := syncs.RunOptions{FullRefresh: r.PostFormValue("full_refresh") != "", Force: r.PostFormValue("force") != "", StartedBy: v.startedBy}
	started := make(chan string, 1)
	opts.Observer = s.observe(started)
	type outcome struct {
		rep *report.Report
		err error
	}
	done := make(chan outcome, 1)
	ctx := context.WithoutCancel(r.Context())
	go func() {
		rep, err := s.trigger(ctx, sc.Name, opts)
		done <- outcome{rep, err}
	}()
	timer := time.NewTimer(startWait)
	defer timer.Stop()
	select {
	case id := <-started:
		http.Redirect(w, r, "/runs/"+id, http.StatusSeeOther)
	case o := <-done:
		select {
		case id := <-started:
			http.Redirect(w, r, "/runs/"+id, http.StatusSeeOther)
		default:
			return runError(sc.Name, "run", o.err)
		}
	case <-timer.C:
		http.Redirect(w, r, "/syncs/"+sc.Name+"?queued=1", http.StatusSeeOther)
	}
	return nil
}

func (s *server) trigger(ctx context.Context, name string, opts syncs.RunOptions) (*report.Report, error) {
	if s.opts.Trigger != nil {
		return s.opts.Trigger(ctx, name, opts)
	}
	return s.opts.Service.Run(ctx, name, opts)
}

// runError is the page for a run or preview that did not take place.
// The service's errors say what to do and carry no contact data.
func runError(sync, what string, err error) error {
	if err == nil {
		err = errors.New("it returned no report")
	}
	if errors.Is(err, syncs.ErrBusy) {
		return &pageError{Status: http.StatusConflict, Title: "Already running",
			Detail: "Sync " + sync + " is running already, so it was not started again: let it finish (its page shows the run). " + err.Error()}
	}
	return &pageError{Status: http.StatusServiceUnavailable, Title: "The " + what + " did not start", Detail: err.Error()}
}
