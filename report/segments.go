package report

import (
	"fmt"
	"sort"
	"strings"
)

// Reasons a segment leaves a member out (package segment decides them).
// A destination of a segment counts them under excluded; the segment's
// own section sorts them into its fields.
const (
	// ReasonFiltered: the segment's filter is false for the member.
	ReasonFiltered = "segment.filtered"
	// ReasonMissing + attribute: the filter needed an attribute the
	// member has no valid value for; the filter counts as false.
	ReasonMissing = "attribute.missing:"
	// ReasonFilterError: the filter failed on the member for another
	// reason than a missing attribute; it counts as false.
	ReasonFilterError = "segment.error"
	// ReasonEarlierStage: the member matched an earlier stage of the
	// segment's exclusive group and is there instead.
	ReasonEarlierStage = "stage.earlier"
	// ReasonSuppressed + list: the member is on a suppression list.
	ReasonSuppressed = "suppressed:"
	// ReasonHoldout: the member is in the segment's holdout.
	ReasonHoldout = "holdout"
)

// Segment is one segment's part of a report, counted once per member
// read (not per destination): Matched + Filtered + the sum of Missing +
// Errors + EarlierStage = the source's valid records; a matched member
// is in the segment's destinations unless it is suppressed or held out.
type Segment struct {
	Name string `json:"name"`
	// Group is the segment's exclusive group, if it is a stage.
	Group string `json:"group,omitempty"`
	// Destinations names the segment's destinations as the report's
	// destinations name them.
	Destinations []string `json:"destinations,omitempty"`
	// Members is how many members the segment's destinations hold after
	// the run: Matched less Suppressed and HeldOut.
	Members int64 `json:"members"`
	// Matched counts the members whose filter is true (of a stage: among
	// those no earlier stage of its group took).
	Matched int64 `json:"matched"`
	// Filtered counts the members whose filter is false.
	Filtered int64 `json:"filtered"`
	// Missing counts, per attribute, the members left out because the
	// filter needed the attribute and they had no valid value.
	Missing map[string]int64 `json:"missing_attribute,omitempty"`
	// Errors counts the members whose filter failed otherwise.
	Errors int64 `json:"errors,omitempty"`
	// EarlierStage counts the members an earlier stage of the group
	// took: this stage's filter is not evaluated for them.
	EarlierStage int64 `json:"earlier_stage,omitempty"`
	// Suppressed counts matched members on a suppression list, by list.
	Suppressed map[string]int64 `json:"suppressed,omitempty"`
	// HeldOut counts matched members kept out as the holdout.
	HeldOut int64 `json:"held_out,omitempty"`
}

// Count adds n members left out of the segment for reason ("" counts
// them in the segment).
func (s *Segment) Count(reason string, n int64) {
	switch {
	case reason == "":
		s.Matched += n
		s.Members += n
	case reason == ReasonFiltered:
		s.Filtered += n
	case reason == ReasonFilterError:
		s.Errors += n
	case strings.HasPrefix(reason, ReasonMissing):
		if s.Missing == nil {
			s.Missing = map[string]int64{}
		}
		s.Missing[strings.TrimPrefix(reason, ReasonMissing)] += n
	case reason == ReasonEarlierStage:
		s.EarlierStage += n
	case strings.HasPrefix(reason, ReasonSuppressed):
		if s.Suppressed == nil {
			s.Suppressed = map[string]int64{}
		}
		s.Matched += n
		s.Suppressed[strings.TrimPrefix(reason, ReasonSuppressed)] += n
	case reason == ReasonHoldout:
		s.Matched += n
		s.HeldOut += n
	default:
		s.Errors += n
	}
}

// Move counts the members of one destination that moved from one stage
// of an exclusive group to another in this run: removed from the From
// stage's audience and added to the To stage's.
type Move struct {
	Group string `json:"group"`
	From  string `json:"from"`
	To    string `json:"to"`
	// Destination is the destination as the sync names it (without the
	// segment).
	Destination string `json:"destination"`
	Members     int64  `json:"members"`
}

// DestinationNamed returns the report's destination named name, or nil.
func (r *Report) DestinationNamed(name string) *Destination {
	for _, d := range r.Destinations {
		if d.Name == name {
			return d
		}
	}
	return nil
}

// SegmentNamed returns the report's segment named name, or nil.
func (r *Report) SegmentNamed(name string) *Segment {
	for _, s := range r.Segments {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// writeSegments writes the segments section for people.
func (r *Report) writeSegments(b *strings.Builder) {
	if len(r.Segments) == 0 {
		return
	}
	b.WriteString("segments, in members read:\n")
	for _, s := range r.Segments {
		name := s.Name
		if s.Group != "" {
			name += " (stage of " + s.Group + ")"
		}
		if len(s.Destinations) == 0 {
			// A segment sent nowhere: a suppression list, or a count.
			fmt.Fprintf(b, "  %s (no destination): %d matched, %d filtered out", name, s.Matched, s.Filtered)
		} else {
			fmt.Fprintf(b, "  %s: %d in its audiences, %d matched, %d filtered out", name, s.Members, s.Matched, s.Filtered)
		}
		if len(s.Missing) > 0 {
			fmt.Fprintf(b, ", %d missing an attribute%s", sum(s.Missing), reasons(s.Missing))
		}
		if s.Errors > 0 {
			fmt.Fprintf(b, ", %d filter errors", s.Errors)
		}
		if s.EarlierStage > 0 {
			fmt.Fprintf(b, ", %d in an earlier stage", s.EarlierStage)
		}
		if len(s.Suppressed) > 0 {
			fmt.Fprintf(b, ", %d suppressed%s", sum(s.Suppressed), reasons(s.Suppressed))
		}
		if s.HeldOut > 0 {
			fmt.Fprintf(b, ", %d held out", s.HeldOut)
		}
		b.WriteString("\n")
	}
	moves := append([]Move(nil), r.Moves...)
	sort.SliceStable(moves, func(i, j int) bool { return moves[i].Members > moves[j].Members })
	for _, m := range moves {
		fmt.Fprintf(b, "  moved %s → %s on %s: %s\n", m.From, m.To, m.Destination, count(m.Members, "member"))
	}
}
