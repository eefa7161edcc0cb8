package engine

import (
	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/state"
)

// summaries are the typed figures of rep, one per destination, for the run
// log (state.Summary): what run history and size-over-time charts read
// instead of decoding reports.
func summaries(rep *report.Report) []state.Summary {
	out := make([]state.Summary, 0, len(rep.Destinations))
	for _, d := range rep.Destinations {
		s := state.Summary{
			Destination: d.Name,
			Status:      string(d.Status),
			Planned:     state.Planned(d.Planned),
			Applied:     state.Applied(d.Applied),
			Members:     d.Members,
			Started:     rep.StartedAt,
			Finished:    rep.FinishedAt,
		}
		if p := d.Platform; p != nil {
			s.Platform = &state.PlatformFigures{Status: p.Status, MatchRate: p.MatchRate, Size: p.Size}
		}
		out = append(out, s)
	}
	return out
}
