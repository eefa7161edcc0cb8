package connectortest_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/connectortest"
	"github.com/audiencesync/audiencesync/platform/meta"
)

// memSource is the simplest correct source: it serves a slice.
type memSource struct {
	members []audience.Member
	failAt  int // -1: never
}

// memAudience is the one audience a memSource holds.
const memAudience = "mem"

func (s *memSource) CheckAudience(_ context.Context, name string) (string, error) {
	if name != memAudience {
		return "", fmt.Errorf("mem source: no audience %q: check source.audience", name)
	}
	return fmt.Sprintf("%d members", len(s.members)), nil
}

func (s *memSource) Read(ctx context.Context, req connectors.ReadRequest, out connectors.Emitter) error {
	if _, err := s.CheckAudience(ctx, req.Audience); err != nil {
		return err
	}
	connectors.DeclareCount(out, int64(len(s.members)))
	for i := range s.members {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("mem source: %w", err)
		}
		if i == s.failAt {
			return errors.New("mem source: connection reset")
		}
		m := s.members[i]
		m.Line = int64(i + 1)
		if err := out.Emit(&m); err != nil {
			return err
		}
	}
	if s.failAt >= len(s.members) {
		return errors.New("mem source: connection reset")
	}
	return nil
}

func (s *memSource) Close() error { return nil }

func TestSourceSuite(t *testing.T) {
	t.Parallel()
	req := connectors.ReadRequest{Audience: memAudience, Attributes: connectortest.SyntheticAttributes}
	connectortest.Source(t, connectortest.SourceHarness{
		New: func(t *testing.T, members []audience.Member) (connectors.Source, connectors.ReadRequest) {
			return &memSource{members: members, failAt: -1}, req
		},
		Failing: func(t *testing.T, members []audience.Member, after int) (connectors.Source, connectors.ReadRequest) {
			return &memSource{members: members, failAt: after}, req
		},
		CancelWithin:    1,
		PageSize:        50,
		Attributes:      true,
		Declares:        true,
		MissingAudience: "nope",
		MissingAdvice:   "check source.audience",
	})
}

// memDestination holds an audience in a map, refuses identifiers whose
// value is "refused", and records request sizes.
type memDestination struct {
	mu       sync.Mutex
	held     map[string]bool
	requests []int
}

func (d *memDestination) Info() connectors.DestinationInfo {
	return connectors.DestinationInfo{Platform: meta.Platform(), Kinds: []audience.Kind{audience.Email, audience.Phone}, MaxBatch: 100, Concurrency: 3}
}

func (d *memDestination) Ensure(_ context.Context, spec connectors.AudienceSpec) (connectors.Audience, error) {
	return connectors.Audience{ID: "mem:" + spec.Name, Name: spec.Name}, nil
}

func (d *memDestination) Apply(_ context.Context, _ connectors.Audience, b connectors.Batch) (connectors.BatchResult, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.requests = append(d.requests, len(b.Members))
	var res connectors.BatchResult
	for i, m := range b.Members {
		if len(m.Identifiers) == 1 && m.Identifiers[0].Value == "refused" {
			res.Rejected = append(res.Rejected, connectors.MemberRejection{Index: i, Reason: "email.invalid"})
			continue
		}
		id := connectortest.IdentityOf(m.Identifiers)
		if b.Op == connectors.OpAdd {
			d.held[id] = true
		} else {
			delete(d.held, id)
		}
	}
	return res, nil
}

func (d *memDestination) Close() error { return nil }

func TestDestinationSuite(t *testing.T) {
	t.Parallel()
	connectortest.Destination(t, connectortest.DestinationHarness{
		New: func(t *testing.T) (connectors.Destination, connectortest.Remote) {
			d := &memDestination{held: map[string]bool{}}
			return d, connectortest.Remote{
				Members: func(*testing.T) map[string]bool {
					d.mu.Lock()
					defer d.mu.Unlock()
					out := make(map[string]bool, len(d.held))
					for k := range d.held {
						out[k] = true
					}
					return out
				},
				RequestSizes: func(*testing.T) []int {
					d.mu.Lock()
					defer d.mu.Unlock()
					return append([]int(nil), d.requests...)
				},
			}
		},
		RejectingMember: func() connectors.Upload {
			return connectors.Upload{Identifiers: []audience.Identifier{{Kind: audience.Email, Value: "refused", Hashed: true}}}
		},
	})
}

func TestIdentity(t *testing.T) {
	t.Parallel()
	a := connectortest.Identity("b", "a")
	b := connectortest.IdentityOf([]audience.Identifier{{Kind: audience.Phone, Value: "a"}, {Kind: audience.Email, Value: "b"}})
	if a != "a|b" || b != a {
		t.Fatalf("Identity = %q, IdentityOf = %q, want a|b", a, b)
	}
}

func TestSyntheticMembers(t *testing.T) {
	t.Parallel()
	ms := connectortest.SyntheticMembers(9, connectortest.DefaultKinds)
	seen := map[string]bool{}
	consents := map[audience.Consent]bool{}
	for _, m := range ms {
		if seen[m.Key] || m.Fields[audience.Email] == "" || m.Fields[audience.City] != "" {
			t.Fatalf("bad synthetic member %+v", m)
		}
		seen[m.Key] = true
		consents[m.Consent] = true
	}
	if len(consents) != 9 {
		t.Fatalf("consent combinations = %d, want all 9", len(consents))
	}
}
