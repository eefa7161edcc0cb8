// Package segment splits one source read into segments: each segment has
// a filter expression over the member's attributes (compiled with
// github.com/expr-lang/expr against the sync's typed attributes), may be
// a stage of an exclusive group (a member lands in the first stage of
// the group that matches), may keep a deterministic share of its members
// out of every destination (a holdout), and loses the members of the
// sync's suppression lists.
//
// A Placer places each member once per run: for every segment, whether
// the member belongs in it and, when not, why (a reason of package
// report, never a value). The engine calls it once per member read
// (engine.Job.Place) and sends each segment's members to its
// destinations.
package segment

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/report"
)

// Def is one segment of a sync, as configured.
type Def struct {
	Name string
	// Filter is the expression a member must satisfy.
	Filter string
	// Group, with Exclusive, makes the segment a stage: of the exclusive
	// segments of one group, in order, a member lands in the first that
	// matches only.
	Group     string
	Exclusive bool
	// Holdout is the share of the segment's members (0 to 1) kept out
	// of every destination.
	Holdout float64
}

// Spec is the segmentation of one sync.
type Spec struct {
	// Attributes are the source's attributes, in the order of
	// audience.Member.Attrs.
	Attributes []connectors.Attribute
	// Segments, in the order they are evaluated.
	Segments []Def
	// Suppress names the segments whose members are excluded from every
	// other segment of the sync.
	Suppress []string
	// Lists are suppression lists read from other sources.
	Lists []*List
	// HoldoutKey keys the hash that picks held-out members (see
	// HoldoutKeySize); required when a segment has a holdout.
	HoldoutKey []byte
}

// MaxSegments is how many segments a sync may define: placing tracks
// them in one 64-bit set per member.
const MaxSegments = 64

// HoldoutKeySize is the size of a holdout key.
const HoldoutKeySize = 32

// Check compiles every filter of spec, so a config can be refused before
// any run; the error names the segment.
func Check(spec Spec) error {
	_, err := New(spec, time.Time{})
	return err
}

// Placer places members into the segments of one run. It is safe for
// concurrent use.
type Placer struct {
	segs []compiled
	// order is the order segments are evaluated in: the suppressing
	// segments first, then the others as configured.
	order   []int
	lists   []*List
	listWhy []string
	pool    sync.Pool
}

type compiled struct {
	Def
	filter *Filter
	// earlier are the indexes of the exclusive segments of the same
	// group before this one.
	earlier []int
	// suppressBy are the indexes of the suppression segments that apply
	// to this one, and their reasons.
	suppressBy  []int
	suppressWhy []string
	earlierWhy  string
	// threshold: a member whose holdout hash is below it is held out.
	threshold uint64
}

// New compiles spec for a run whose clock reads now.
func New(spec Spec, now time.Time) (*Placer, error) {
	p := &Placer{lists: spec.Lists}
	if len(spec.Segments) > MaxSegments {
		return nil, fmt.Errorf("%d segments: a sync has at most %d", len(spec.Segments), MaxSegments)
	}
	byName := make(map[string]int, len(spec.Segments))
	for i, d := range spec.Segments {
		if _, dup := byName[d.Name]; dup {
			return nil, fmt.Errorf("segment %s is defined twice", d.Name)
		}
		byName[d.Name] = i
		f, err := CompileFilter(d.Filter, spec.Attributes, now)
		if err != nil {
			return nil, fmt.Errorf("segment %s filter: %w", d.Name, err)
		}
		c := compiled{Def: d, filter: f}
		if d.Holdout < 0 || d.Holdout >= 1 {
			return nil, fmt.Errorf("segment %s: holdout %v must be at least 0 and below 1", d.Name, d.Holdout)
		}
		if d.Holdout > 0 {
			if len(spec.HoldoutKey) == 0 {
				return nil, fmt.Errorf("segment %s has a holdout but no holdout key was given", d.Name)
			}
			c.threshold = uint64(d.Holdout * math.MaxUint64)
		}
		if d.Exclusive {
			for j := range i {
				if o := spec.Segments[j]; o.Exclusive && o.Group == d.Group {
					c.earlier = append(c.earlier, j)
				}
			}
			c.earlierWhy = report.ReasonEarlierStage
		}
		p.segs = append(p.segs, c)
	}
	suppressing := make([]bool, len(p.segs))
	for _, name := range spec.Suppress {
		j, ok := byName[name]
		if !ok {
			return nil, fmt.Errorf("suppression list %s: no segment of that name", name)
		}
		if !suppressing[j] {
			suppressing[j] = true
			p.order = append(p.order, j)
		}
		for i := range p.segs {
			if i != j {
				p.segs[i].suppressBy = append(p.segs[i].suppressBy, j)
				p.segs[i].suppressWhy = append(p.segs[i].suppressWhy, report.ReasonSuppressed+name)
			}
		}
	}
	for i := range p.segs {
		if !suppressing[i] {
			p.order = append(p.order, i)
		}
	}
	for _, l := range spec.Lists {
		p.listWhy = append(p.listWhy, report.ReasonSuppressed+l.Name)
	}
	key := append([]byte(nil), spec.HoldoutKey...)
	p.pool.New = func() any {
		return &evaluator{env: make(map[string]any, len(spec.Attributes)), mac: hmac.New(sha256.New, key)}
	}
	return p, nil
}

// Names lists the segments in order: reasons[i] of Place is about
// Names()[i].
func (p *Placer) Names() []string {
	out := make([]string, len(p.segs))
	for i, s := range p.segs {
		out[i] = s.Name
	}
	return out
}

// Place places one member: reasons[i] ("" when the member belongs in
// segment i) is set for every segment; len(reasons) is len(Names()).
// key is the member's source key (audience.KeyFromSource), zero when it
// has none: such a member is never held out, as no stable key picks it.
// A member suppressed or held out from a segment it matched carries the
// reason report.ReasonSuppressed… or report.ReasonHoldout.
func (p *Placer) Place(m *audience.Member, key audience.MemberKey, reasons []string) {
	e := p.pool.Get().(*evaluator)
	p.place(e, m, key, reasons)
	p.pool.Put(e)
}

// PlaceAll places n members at once, as Place does each: at(i) returns
// member i and its key, and reasons holds n × len(Names()) reasons,
// member by member. It is Place for a batch, without taking an
// evaluator per member.
func (p *Placer) PlaceAll(n int, at func(i int) (*audience.Member, audience.MemberKey), reasons []string) {
	e := p.pool.Get().(*evaluator)
	k := len(p.segs)
	for i := range n {
		m, key := at(i)
		p.place(e, m, key, reasons[i*k:(i+1)*k:(i+1)*k])
	}
	p.pool.Put(e)
}

func (p *Placer) place(e *evaluator, m *audience.Member, key audience.MemberKey, reasons []string) {
	// matched has bit i set when segment i's filter matched, whatever
	// else keeps the member out of it.
	var matched uint64
	listed := ""
	for i, l := range p.lists {
		if l.Has(m, key) {
			listed = p.listWhy[i]
			break
		}
	}
	for _, i := range p.order {
		s := &p.segs[i]
		if s.placedEarlier(matched) {
			// A stage after the one the member is in: its filter need
			// not be evaluated.
			reasons[i] = s.earlierWhy
			continue
		}
		ok, why := e.match(s.filter, m.Attrs)
		if ok {
			matched |= 1 << i
			why = p.exclude(e, s, matched, listed, key)
		}
		reasons[i] = why
	}
}

// placedEarlier reports whether the member matched an earlier stage of
// s's group.
func (s *compiled) placedEarlier(matched uint64) bool {
	for _, j := range s.earlier {
		if matched&(1<<j) != 0 {
			return true
		}
	}
	return false
}

// exclude says why a member that matched s stays out of it, or "".
func (p *Placer) exclude(e *evaluator, s *compiled, matched uint64, listed string, key audience.MemberKey) string {
	for k, j := range s.suppressBy {
		if matched&(1<<j) != 0 {
			return s.suppressWhy[k]
		}
	}
	if listed != "" {
		return listed
	}
	if s.threshold > 0 && key != (audience.MemberKey{}) && e.holdoutHash(s.Name, key) < s.threshold {
		return report.ReasonHoldout
	}
	return ""
}

// holdoutHash is the keyed hash that decides whether a member is held
// out of a segment: the same member, segment and key always give the
// same answer, across runs and processes; without the key nobody can
// tell who is held out from the member key alone.
func (e *evaluator) holdoutHash(segment string, key audience.MemberKey) uint64 {
	e.mac.Reset()
	e.mac.Write([]byte(segment))
	e.mac.Write([]byte{0})
	e.mac.Write(key[:])
	e.sum = e.mac.Sum(e.sum[:0])
	return binary.BigEndian.Uint64(e.sum)
}
