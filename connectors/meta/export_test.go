package meta

import (
	"time"

	"github.com/audiencesync/audiencesync/connectors"
)

// NewFast builds a destination whose retries, throttle waits and
// slow-downs take milliseconds, for tests against the sandbox; rows, when
// given, lowers the rows per request so multi-request paths run on small
// audiences.
func NewFast(s *Settings, env connectors.Env, rows ...int) (*Destination, error) {
	t := tuning{
		attempts: 5, minWait: time.Millisecond, maxWait: 5 * time.Millisecond,
		maxInClientWait: time.Second, throttleWait: 5 * time.Millisecond,
		slowdown: 2 * time.Millisecond, timeout: 30 * time.Second, rows: MaxRows,
	}
	if len(rows) > 0 {
		t.rows = rows[0]
	}
	d, err := New(s, env)
	if err != nil {
		return nil, err
	}
	d.tune = t // read only once the destination is used
	return d, nil
}
