package api

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/audiencesync/audiencesync/configs"
	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/syncs"
)

// listSyncs: GET /syncs, every configured sync in config order.
func (s *server) listSyncs(w http.ResponseWriter, r *http.Request) error {
	cfg := s.opts.Service.Config()
	out := syncList{Syncs: make([]syncItem, 0, len(cfg.Syncs))}
	for _, sc := range cfg.Syncs {
		item, err := s.syncOf(r, cfg, sc)
		if err != nil {
			return err
		}
		out.Syncs = append(out.Syncs, item)
	}
	return writeJSON(w, http.StatusOK, out)
}

// getSync: GET /syncs/{sync}.
func (s *server) getSync(w http.ResponseWriter, r *http.Request) error {
	cfg := s.opts.Service.Config()
	sc, err := s.configured(r.PathValue("sync"))
	if err != nil {
		return err
	}
	item, err := s.syncOf(r, cfg, sc)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, item)
}

// configured returns the configured sync name, or a 404 problem.
func (s *server) configured(name string) (*configs.Sync, error) {
	if sc := s.opts.Service.Config().Sync(name); sc != nil {
		return sc, nil
	}
	return nil, problemNotFound(fmt.Sprintf("no sync named %q in the config: GET %s/syncs lists them", name, Prefix))
}

// syncOf summarises one sync: its config, next run, last run and the
// audience size of each destination, read from the run log's summaries.
func (s *server) syncOf(r *http.Request, cfg *configs.Config, sc *configs.Sync) (syncItem, error) {
	ctx := r.Context()
	item := syncItem{
		Name: sc.Name, Schedule: sc.Schedule,
		Source:       sourceItem{Connection: sc.Source.Connection, Type: connType(cfg, sc.Source.Connection), Audience: sc.Source.Audience},
		Destinations: make([]destItem, 0, len(sc.Targets())),
	}
	if s.opts.NextRun != nil {
		if at, ok := s.opts.NextRun(sc.Name); ok {
			item.NextRun = timePtr(at)
		}
	}
	// The last run that ran: a skipped tick is in the run log, not a run.
	last, err := s.opts.Service.ListRuns(ctx, state.RunFilter{Sync: sc.Name, Statuses: syncs.RanStatuses(), Limit: 1})
	if err != nil {
		return syncItem{}, err
	}
	var recorded []string // the destination names the last run recorded
	if len(last) > 0 {
		l := last[0]
		item.LastRun = &runHeadline{ID: l.ID, Status: status(l), StartedAt: l.Started.UTC(), FinishedAt: timePtr(l.Finished)}
		for _, sum := range l.Summaries {
			recorded = append(recorded, sum.Destination)
		}
	}
	// A segment's destinations are named segment/destination, as state
	// records them.
	for _, d := range sc.Targets() {
		di := destItem{Name: d.Name, Segment: d.Segment, Connection: d.Connection, Type: connType(cfg, d.Connection), Audience: d.Audience.Name, Sizes: []namedSize{}}
		for _, name := range ReportNames(d.Name, recorded) {
			points, err := s.opts.Service.SizeHistory(ctx, sc.Name, name, 1)
			if err != nil {
				return syncItem{}, err
			}
			if len(points) > 0 {
				di.Sizes = append(di.Sizes, namedSize{Name: name, sizePoint: pointOf(points[0])})
			}
		}
		item.Destinations = append(item.Destinations, di)
	}
	return item, nil
}

// ReportNames are the names destination dest is recorded under in the
// run log, given the names a run recorded: its own, or, for a destination
// that splits by profile, dest/PROFILE as recorded.
func ReportNames(dest string, recorded []string) []string {
	var parts []string
	for _, name := range recorded {
		if strings.HasPrefix(name, dest+"/") {
			parts = append(parts, name)
		}
	}
	if len(parts) > 0 {
		return parts
	}
	return []string{dest}
}

// isReportName reports whether name is how destination dest, or one of
// its profiles, is recorded.
func isReportName(dest, name string) bool {
	rest, ok := strings.CutPrefix(name, dest)
	return ok && (rest == "" || strings.HasPrefix(rest, "/") && len(rest) > 1)
}

func connType(cfg *configs.Config, name string) string {
	if c := cfg.Connections[name]; c != nil {
		return c.Type
	}
	return ""
}

// sizeHistory: GET /syncs/{sync}/destinations/{destination}/sizes.
func (s *server) sizeHistory(w http.ResponseWriter, r *http.Request) error {
	sc, err := s.configured(r.PathValue("sync"))
	if err != nil {
		return err
	}
	dest := r.PathValue("destination")
	if !hasDestination(sc, dest) {
		return problemNotFound(fmt.Sprintf("sync %s has no destination %q: GET %s/syncs/%s lists them", sc.Name, dest, Prefix, sc.Name))
	}
	limit, err := intParam(r, "limit", 0, 1, 5000)
	if err != nil {
		return err
	}
	points, err := s.opts.Service.SizeHistory(r.Context(), sc.Name, dest, limit)
	if err != nil {
		return err
	}
	out := sizeHistory{Sync: sc.Name, Destination: dest, Points: make([]sizePoint, 0, len(points))}
	for _, p := range points {
		out.Points = append(out.Points, pointOf(p))
	}
	return writeJSON(w, http.StatusOK, out)
}

func hasDestination(sc *configs.Sync, name string) bool {
	for _, d := range sc.Targets() {
		if isReportName(d.Name, name) {
			return true
		}
	}
	return false
}

// intParam reads query parameter name as an integer in [lo, hi]; absent
// is def.
func intParam(r *http.Request, name string, def, lo, hi int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, problemBadRequest(fmt.Sprintf("%s=%q: give a whole number from %d to %d", name, v, lo, hi))
	}
	return n, nil
}
