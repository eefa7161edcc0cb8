package fake_test

import (
	"sync"
	"testing"
	"time"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/connectortest"
	"github.com/audiencesync/audiencesync/connectors/fake"
)

// refused is an identifier value the fake is told to refuse.
const refused = "refused-value"

// faults drives the fake's own fault knobs for the suite.
type faults struct{ d *fake.Destination }

func (f faults) ExpiredToken(*testing.T) { f.d.Inject(fake.ExpiredToken, -1, 0) }
func (f faults) RateLimit(_ *testing.T, n int, wait time.Duration) {
	f.d.Inject(fake.RateLimit, n, wait)
}
func (f faults) ServerError(_ *testing.T, n int) { f.d.Inject(fake.ServerError, n, 0) }
func (f faults) Lost(_ *testing.T, n int)        { f.d.Inject(fake.LostAnswer, n, 0) }
func (f faults) Clear(*testing.T)                { f.d.Inject(fake.NoFault, 0, 0) }
func (f faults) Fired(*testing.T) int            { return f.d.Injected() }

// owners maps each identifier value the suite's members carry to the
// identity of its member, to read the fake's flat identifier set back as
// members.
type owners struct {
	mu sync.Mutex
	of map[string]string
}

func (o *owners) upload(i int) connectors.Upload {
	u := connectortest.SyntheticUpload([]audience.Kind{audience.Email, audience.Phone}, i)
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, id := range u.Identifiers {
		o.of[id.Kind.String()+":"+id.Value] = connectortest.IdentityOf(u.Identifiers)
	}
	return u
}

// members groups held identifiers by member; one no member owns stands
// for itself, so the suite sees it as unexpected.
func (o *owners) members(held []string) map[string]bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	out := map[string]bool{}
	for _, v := range held {
		if identity, ok := o.of[v]; ok {
			out[identity] = true
		} else {
			out["unknown:"+v] = true
		}
	}
	return out
}

func TestDestinationConformance(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		new  func() (connectors.Destination, *fake.Destination)
	}{
		{"Destination", func() (connectors.Destination, *fake.Destination) {
			d := fake.NewDestination("meta")
			return d, d
		}},
		// One poll answers PROCESSING, so Feedback's pending path runs.
		{"Capable", func() (connectors.Destination, *fake.Destination) {
			c := fake.NewCapable("meta")
			c.PollsBeforeDone = 1
			return c, c.Destination
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := &owners{of: map[string]string{}}
			connectortest.Destination(t, connectortest.DestinationHarness{
				New: func(t *testing.T) (connectors.Destination, connectortest.Remote) {
					dest, d := tt.new()
					d.Reject = map[string]string{refused: "email.invalid"}
					return dest, connectortest.Remote{
						Members: func(*testing.T) map[string]bool {
							id, _ := d.AudienceID("audiencesync conformance")
							return o.members(d.Held(id))
						},
						RequestSizes: func(*testing.T) []int {
							var sizes []int
							for _, c := range d.Calls() {
								sizes = append(sizes, len(c.Members))
							}
							return sizes
						},
						Faults: faults{d},
					}
				},
				Upload: o.upload,
				RejectingMember: func() connectors.Upload {
					return connectors.Upload{Identifiers: []audience.Identifier{{Kind: audience.Email, Value: refused, Hashed: true}}}
				},
			})
		})
	}
}
