package configs

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/audiencesync/audiencesync/segment"
)

// Segment is one segment of a sync: the members its filter selects,
// with destinations of their own.
type Segment struct {
	// Name identifies the segment in reports and state (its
	// destinations are recorded as segment/destination).
	Name string `yaml:"name"`
	// Filter is an expression over source.attributes, such as
	// 'days_since(last_cart_at) <= 3 && purchased_at == nil'.
	Filter string `yaml:"filter"`
	// Group and Exclusive make the segment a stage: of the exclusive
	// segments of a group, in file order, a member lands in the first
	// that matches only.
	Group     string `yaml:"group"`
	Exclusive bool   `yaml:"exclusive"`
	// Holdout keeps this share of the segment's members out of every
	// destination, the same members from run to run: "10%".
	Holdout      string         `yaml:"holdout"`
	Destinations []*Destination `yaml:"destinations"`
	Line         int            `yaml:"-"`

	// HoldoutShare is Holdout parsed: 0.1 for "10%".
	HoldoutShare float64 `yaml:"-"`
}

// Suppression is one suppression list of a sync: a segment of the same
// source, or another source read whole before the run plans.
type Suppression struct {
	// Name names the list in reports; it defaults to the segment's name
	// or the source's connection.
	Name    string     `yaml:"name"`
	Segment string     `yaml:"segment"`
	Source  *SourceRef `yaml:"source"`
	Line    int        `yaml:"-"`
}

// Target is one destination of a sync as it runs: a destination of the
// sync, or of one of its segments.
type Target struct {
	// Name is the destination's name in state and reports:
	// segment/destination for a segment's.
	Name string
	// Segment is the segment's name, "" for a sync without segments.
	Segment string
	*Destination
}

// Targets lists the sync's destinations as they run, in file order.
func (s *Sync) Targets() []Target {
	var out []Target
	for _, d := range s.Destinations {
		out = append(out, Target{Name: d.Name, Destination: d})
	}
	for _, seg := range s.Segments {
		if seg == nil {
			continue
		}
		for _, d := range seg.Destinations {
			if d != nil {
				out = append(out, Target{Name: seg.Name + "/" + d.Name, Segment: seg.Name, Destination: d})
			}
		}
	}
	return out
}

// SegmentSpec is the sync's segmentation for package segment, without
// the suppression sources (which only a run reads) or a holdout key.
func (s *Sync) SegmentSpec() segment.Spec {
	spec := segment.Spec{Attributes: s.Source.Attrs}
	for _, seg := range s.Segments {
		spec.Segments = append(spec.Segments, segment.Def{Name: seg.Name, Filter: seg.Filter,
			Group: seg.Group, Exclusive: seg.Exclusive, Holdout: seg.HoldoutShare})
	}
	for _, sup := range s.Suppress {
		if sup.Segment != "" {
			spec.Suppress = append(spec.Suppress, sup.Segment)
		}
	}
	return spec
}

// segments checks the segments of sync s (node n) and their filters,
// then its suppression lists.
func (l *loader) segments(s *Sync, n *yaml.Node, where string) {
	if len(s.Destinations) > 0 {
		l.ps.addf(lineAt(n, "destinations"), "%s has both destinations and segments: move the destinations under the segments that should receive them", where)
	}
	if len(s.Segments) == 0 {
		l.ps.addf(lineAt(n, "segments"), "%s segments: is empty: add at least one segment, or remove the key", where)
		return
	}
	if len(s.Segments) > segment.MaxSegments {
		l.ps.addf(lineAt(n, "segments"), "%s has %d segments: a sync has at most %d; split it into several syncs", where, len(s.Segments), segment.MaxSegments)
	}
	list := child(n, "segments")
	first := make(map[string]int)
	groups := make(map[string]bool) // group name → exclusive
	for i, seg := range s.Segments {
		sn := deref(list.Content[i])
		if seg == nil {
			l.ps.addf(sn.Line, "%s segments[%d] is empty", where, i)
			continue
		}
		seg.Line = sn.Line
		sw := join(where, elemLabel("segments", i, sn))
		switch {
		case seg.Name == "":
			l.ps.addf(seg.Line, "%s: a segment has no name: add name: (lower-case letters, digits, '.', '_' or '-')", sw)
		case !syncName.MatchString(seg.Name):
			l.ps.addf(lineAt(sn, "name"), "%s: segment name %q is not a safe identifier: use lower-case letters, digits, '.', '_' or '-', starting with a letter or digit (the name keys state and reports)", sw, seg.Name)
		default:
			if at, dup := first[seg.Name]; dup {
				l.ps.addf(lineAt(sn, "name"), "%s: segment name %q is used twice in this sync (first at line %d): segment names must be unique", sw, seg.Name, at)
			}
			first[seg.Name] = seg.Line
		}
		l.filter(s, seg, sn, sw)
		if seg.Exclusive && seg.Group == "" {
			l.ps.addf(lineAt(sn, "exclusive"), "%s: exclusive: true needs a group: name the group of stages this segment is one of (group: cart)", sw)
		}
		if seg.Group != "" {
			if excl, seen := groups[seg.Group]; seen && excl != seg.Exclusive {
				l.ps.addf(lineAt(sn, "group"), "%s: group %q mixes exclusive and non-exclusive segments: set exclusive: true on every stage of the group", sw, seg.Group)
			}
			groups[seg.Group] = seg.Exclusive
		}
		if seg.Holdout != "" {
			share, err := parseShare(seg.Holdout)
			if err != nil {
				l.ps.addf(lineAt(sn, "holdout"), "%s holdout %q: %v", sw, seg.Holdout, err)
			}
			seg.HoldoutShare = share
		}
		if len(seg.Destinations) > 0 || !isEmpty(sn, "destinations") {
			l.destinations(s, seg.Destinations, sn, sw)
		}
	}
	if len(s.Targets()) == 0 {
		l.ps.addf(lineAt(n, "segments"), "%s: no segment has destinations: add destinations: to the segments that should be sent", where)
	}
	l.suppressions(s, n, where, first)
}

// filter compiles a segment's filter against the sync's attributes: an
// unknown attribute, a wrong type or a syntax error is reported at the
// filter's line in the file, with the offending part.
func (l *loader) filter(s *Sync, seg *Segment, sn *yaml.Node, where string) {
	fn := child(sn, "filter")
	if strings.TrimSpace(seg.Filter) == "" {
		l.ps.addf(lineAt(sn, "filter"), "%s has no filter: add filter: with an expression over source.attributes, such as 'visits >= 5'", where)
		return
	}
	_, err := segment.CompileFilter(seg.Filter, s.Source.Attrs, time.Time{})
	var ce *segment.CompileError
	if !errors.As(err, &ce) {
		return
	}
	line := fn.Line
	if fn.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		line += ce.Line // a block scalar starts on the line after its key
	}
	hint := ""
	if strings.HasPrefix(ce.Msg, "unknown name") {
		names := make([]string, len(s.Source.Attrs))
		for i, a := range s.Source.Attrs {
			names[i] = a.Name + " (" + a.Type.String() + ")"
		}
		if len(names) == 0 {
			hint = ": the source has no attributes: declare them under source.attributes"
		} else {
			hint = ": the attributes are " + strings.Join(names, ", ") + " (declared under source.attributes); functions: now(), days_since(t), hours_since(t)"
		}
	}
	l.ps.addf(line, "%s filter: %s%s", where, ce.Error(), hint)
}

// parseShare reads a share written as a percentage ("10%") or a
// fraction ("0.1"), at least 0 and below 1.
func parseShare(s string) (float64, error) {
	t := strings.TrimSpace(s)
	pct, isPct := strings.CutSuffix(t, "%")
	f, err := strconv.ParseFloat(strings.TrimSpace(pct), 64)
	if err != nil {
		return 0, errors.New("write a percentage such as 10%")
	}
	if isPct {
		f /= 100
	}
	if !(f >= 0 && f < 0.5) {
		return 0, errors.New("must be at least 0% and below 50% (a holdout is the smaller part of a segment)")
	}
	return f, nil
}

// suppressions checks the sync's suppression lists; segments maps the
// sync's segment names to their lines.
func (l *loader) suppressions(s *Sync, n *yaml.Node, where string, segments map[string]int) {
	list := child(n, "suppress")
	names := make(map[string]int)
	for i, sup := range s.Suppress {
		sn := deref(list.Content[i])
		sw := join(where, elemLabel("suppress", i, sn))
		if sup == nil {
			l.ps.addf(sn.Line, "%s is empty: name a segment (segment: buyers) or a source (source: {connection: shop, fields: {email: email}})", sw)
			continue
		}
		sup.Line = sn.Line
		switch {
		case sup.Segment != "" && sup.Source != nil:
			l.ps.addf(sup.Line, "%s names both a segment and a source: keep one (one list each)", sw)
		case sup.Segment != "":
			if _, ok := segments[sup.Segment]; !ok {
				l.ps.addf(lineAt(sn, "segment"), "%s: segment %q is not a segment of this sync: name one defined under segments:", sw, sup.Segment)
			}
			if sup.Name == "" {
				sup.Name = sup.Segment
			}
		case sup.Source != nil:
			l.source(sup.Source, sn, join(sw, "source"))
			if len(sup.Source.Attrs) > 0 {
				l.ps.addf(lineAt(sn, "source", "attributes"), "%s source: a suppression list matches on key, e-mail and phone only: remove its attributes", sw)
			}
			if sup.Name == "" {
				sup.Name = sup.Source.Connection
			}
		default:
			l.ps.addf(sup.Line, "%s: name a segment (segment: buyers) or a source (source: {connection: shop, fields: {email: email}})", sw)
			continue
		}
		if at, dup := names[sup.Name]; dup {
			l.ps.addf(sup.Line, "%s: suppression list name %q is used twice (first at line %d): set name: on one of them", sw, sup.Name, at)
		}
		names[sup.Name] = sup.Line
	}
}
