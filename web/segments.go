package web

import (
	"fmt"
	"sort"
	"strings"

	"github.com/audiencesync/audiencesync/configs"
	"github.com/audiencesync/audiencesync/report"
)

// segmentView is one segment on the run page: how the members read
// split over it, and its destinations' planned and applied counts.
type segmentView struct {
	*report.Segment
	// Missing and Suppressed are the report's maps, most frequent first.
	Missing    []counted
	Suppressed []counted
	// MissingTotal and SuppressedTotal sum them.
	MissingTotal    int64
	SuppressedTotal int64
	Dests           []destView
}

// moveRow is one from → to pair of stages, with its members per
// destination (the sync's destination names, without the segment).
type moveRow struct {
	Group, From, To string
	Total           int64
	Per             []report.Move
}

// segmentsOf groups a report's destinations under their segments.
func segmentsOf(rep *report.Report, dests []destView) []segmentView {
	out := make([]segmentView, 0, len(rep.Segments))
	for _, s := range rep.Segments {
		sv := segmentView{Segment: s, Missing: byCount(s.Missing, nil), Suppressed: byCount(s.Suppressed, nil), MissingTotal: total(s.Missing), SuppressedTotal: total(s.Suppressed)}
		for _, d := range dests {
			if d.Segment == s.Name {
				sv.Dests = append(sv.Dests, d)
			}
		}
		out = append(out, sv)
	}
	return out
}

// movesOf groups a report's moves by pair of stages, in the order the
// report first names each pair.
func movesOf(moves []report.Move) []moveRow {
	var out []moveRow
	at := map[[3]string]int{}
	for _, m := range moves {
		k := [3]string{m.Group, m.From, m.To}
		i, ok := at[k]
		if !ok {
			i = len(out)
			at[k] = i
			out = append(out, moveRow{Group: m.Group, From: m.From, To: m.To})
		}
		out[i].Per = append(out[i].Per, m)
		out[i].Total += m.Members
	}
	for i := range out {
		sort.SliceStable(out[i].Per, func(a, b int) bool { return out[i].Per[a].Destination < out[i].Per[b].Destination })
	}
	return out
}

// movesSentence: "161 moved from abandoned-0-3d to abandoned-4-14d (on
// google and meta)", one clause per pair; "" without moves.
func movesSentence(rows []moveRow, dry bool) string {
	verb := "moved"
	if dry {
		verb = "would move"
	}
	var parts []string
	for _, r := range rows {
		same := true
		var where []string
		for _, m := range r.Per {
			same = same && m.Members == r.Per[0].Members
			where = append(where, m.Destination)
		}
		if same {
			parts = append(parts, fmt.Sprintf("%s %s from %s to %s (on %s)", num(r.Per[0].Members), verb, r.From, r.To, andList(where)))
			continue
		}
		var each []string
		for _, m := range r.Per {
			each = append(each, num(m.Members)+" on "+m.Destination)
		}
		parts = append(parts, fmt.Sprintf("%s from %s to %s: %s", verb, r.From, r.To, strings.Join(each, ", ")))
	}
	if len(parts) == 0 {
		return ""
	}
	return capital(strings.Join(parts, "; ")) + "."
}

// suppressionSentence: "Suppression kept 215 segment matches out of
// the audiences: buyers 178, shop 37." A member on a list is counted
// once per segment it matched, so the figure counts matches, not people.
func suppressionSentence(segs []segmentView) string {
	by := map[string]int64{}
	for _, s := range segs {
		if len(s.Destinations) == 0 {
			continue // a segment sent nowhere suppresses no one from anything
		}
		for list, n := range s.Segment.Suppressed {
			by[list] += n
		}
	}
	all := total(by)
	if all == 0 {
		return ""
	}
	var each []string
	for _, c := range byCount(by, nil) {
		each = append(each, c.Reason+" "+num(c.Count))
	}
	return fmt.Sprintf("Suppression lists kept %s segment %s out of the audiences: %s.", num(all), plural(all, "match", "matches"), strings.Join(each, ", "))
}

// andList: "a", "a and b", "a, b and c".
func andList(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

func capital(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// segmentConf is a segment as the sync page shows its config.
type segmentConf struct {
	Name      string
	Filter    string
	Group     string
	Exclusive bool
	Holdout   string
	// Dests are the segment's destinations' names in state.
	Dests []string
}

// suppressionConf is one suppression list of a sync, in words.
type suppressionConf struct {
	Name string
	// From says where the list comes from: "segment buyers of this
	// sync's source", "source shop_orders (csv)".
	From string
}

// segmentConfsOf lists sc's segments and suppression lists for its page.
func segmentConfsOf(cfg *configs.Config, sc *configs.Sync) ([]segmentConf, []suppressionConf) {
	var segs []segmentConf
	for _, s := range sc.Segments {
		if s == nil {
			continue
		}
		sg := segmentConf{Name: s.Name, Filter: s.Filter, Group: s.Group, Exclusive: s.Exclusive, Holdout: s.Holdout}
		for _, d := range s.Destinations {
			if d != nil {
				sg.Dests = append(sg.Dests, s.Name+"/"+d.Name)
			}
		}
		segs = append(segs, sg)
	}
	var sups []suppressionConf
	for _, sp := range sc.Suppress {
		if sp == nil {
			continue
		}
		c := suppressionConf{Name: sp.Name}
		switch {
		case sp.Segment != "":
			c.From = "the members of segment " + sp.Segment + " (this sync's source)"
		case sp.Source != nil:
			c.From = "source " + sp.Source.Connection
			if t := connTypeOf(cfg, sp.Source.Connection); t != "" {
				c.From += " (" + t + ")"
			}
			c.From += ", matched by key and by hashed e-mail and phone"
		}
		if c.Name == "" {
			c.Name = sp.Segment
		}
		sups = append(sups, c)
	}
	return segs, sups
}

func connTypeOf(cfg *configs.Config, name string) string {
	if c := cfg.Connections[name]; c != nil {
		return c.Type
	}
	return ""
}

// segmentOf returns sc's segment named name, or nil.
func segmentOf(sc *configs.Sync, name string) *configs.Segment {
	for _, s := range sc.Segments {
		if s != nil && s.Name == name {
			return s
		}
	}
	return nil
}

// segmentNote words what kind of segment s is: "stage of cart · 10%
// held out"; "" for a plain one.
func segmentNote(s *configs.Segment) string {
	if s == nil {
		return ""
	}
	var parts []string
	if s.Group != "" {
		if s.Exclusive {
			parts = append(parts, "stage of "+s.Group)
		} else {
			parts = append(parts, "group "+s.Group)
		}
	}
	if s.Holdout != "" {
		parts = append(parts, s.Holdout+" held out")
	}
	return strings.Join(parts, " · ")
}
