package daemon

import (
	"fmt"
	"hash/fnv"
	"time"

	"github.com/go-co-op/gocron/v2"
	"github.com/robfig/cron/v3"

	"github.com/audiencesync/audiencesync/configs"
)

// Schedule is one sync's cron schedule in its time zone, shifted by the
// sync's jitter. It is the gocron.Cron the scheduler asks for ticks (and
// the periodic schedule a Queue enqueues runs on), so that NextRun,
// catch-up and whatever starts the runs agree on every tick.
type Schedule struct {
	expr   string
	loc    *time.Location
	base   cron.Schedule
	jitter time.Duration
}

var _ gocron.Cron = (*Schedule)(nil)

// newSchedule parses the sync's schedule (five fields or a descriptor such
// as @hourly or @every 10m, read in the sync's timezone) and fixes its
// jitter: a fraction of bound, derived from the sync's name, never more
// than a tenth of the time between two ticks, so that syncs due at the
// same moment start spread out, each always at the same offset.
func newSchedule(sc *configs.Sync, bound time.Duration, now time.Time) (*Schedule, error) {
	loc, err := sc.Location()
	if err != nil {
		return nil, fmt.Errorf("sync %s timezone %q: %w", sc.Name, sc.Timezone, err)
	}
	base, err := cron.ParseStandard(sc.Schedule)
	if err != nil {
		return nil, fmt.Errorf("sync %s schedule %q: %w", sc.Name, sc.Schedule, err)
	}
	s := &Schedule{expr: sc.Schedule, loc: loc, base: base}
	first := base.Next(now.In(loc))
	if first.IsZero() {
		return nil, fmt.Errorf("sync %s schedule %q never fires", sc.Name, sc.Schedule)
	}
	if gap := base.Next(first).Sub(first); bound > gap/10 {
		bound = gap / 10
	}
	if bound > 0 {
		h := fnv.New64a()
		_, _ = h.Write([]byte(sc.Name))
		s.jitter = time.Duration(h.Sum64() % uint64(bound))
	}
	return s, nil
}

// IsValid is part of gocron.Cron: the schedule was parsed already.
func (s *Schedule) IsValid(string, *time.Location, time.Time) error { return nil }

// Next returns the first jittered tick after t.
func (s *Schedule) Next(t time.Time) time.Time {
	n := s.base.Next(t.Add(-s.jitter).In(s.loc))
	if n.IsZero() {
		return n
	}
	return n.Add(s.jitter)
}

// missed reports whether a tick fell in (since, now]: a tick the daemon
// was not running for.
func (s *Schedule) missed(since, now time.Time) bool {
	n := s.Next(since)
	return !n.IsZero() && !n.After(now)
}
