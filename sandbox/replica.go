package sandbox

import (
	"encoding/json"
	"fmt"
	"net/http"

	"github.com/audiencesync/audiencesync/sandbox/fault"
	"github.com/audiencesync/audiencesync/sandbox/googledm"
	"github.com/audiencesync/audiencesync/sandbox/hubspot"
	"github.com/audiencesync/audiencesync/sandbox/linkedindmp"
	"github.com/audiencesync/audiencesync/sandbox/mailchimp"
	"github.com/audiencesync/audiencesync/sandbox/metagraph"
	"github.com/audiencesync/audiencesync/sandbox/salesforce"
	"github.com/audiencesync/audiencesync/sandbox/xads"
)

// Replica is one platform's API replica mounted on a sandbox. The sandbox
// routes a request to the first replica that owns it, and lists, resets,
// saves and restores every replica through this interface; nothing in it
// is specific to ad platforms, so CRM replicas fit it as well.
type Replica interface {
	// ServeHTTP serves a request the replica owns.
	http.Handler
	// Platform names the platform (platform.Platform.Name): the key of
	// the replica's part of GET /_sandbox/state and of the state file,
	// the name Env.Endpoint is asked for, and the target of its faults.
	Platform() string
	// Owns reports whether r is a call to the replica's API.
	Owns(r *http.Request) bool
	// Reset forgets every audience, member, session and window.
	Reset()
	// Inspect is the replica's part of GET /_sandbox/state: its
	// audiences with member counts, and identifiers when withMembers.
	Inspect(withMembers bool) any
	// Members returns the identifiers stored in audience id, sorted; nil
	// when there is no such audience.
	Members(id string) []string
	// Save returns the replica's durable state; Load replaces the state
	// with what Save returned, changing nothing when it fails.
	Save() (json.RawMessage, error)
	Load(state json.RawMessage) error
}

// Optional capabilities of a Replica, found by type assertion.
type (
	// ChangeReporter is a replica some of whose GET or HEAD requests
	// change state (a status poll that counts polls), so the state file
	// must be saved after them.
	ChangeReporter interface {
		MayChange(r *http.Request) bool
	}
	// Describer is a replica that tells a user where it is served and
	// which fixed credentials it accepts, for the sandbox's summary.
	Describer interface {
		Describe(baseURL string) string
	}
	// FaultTarget is a replica whose endpoints fault rules may name
	// (platform.endpoint); without it rules may target the platform as a
	// whole only.
	FaultTarget interface {
		FaultEndpoints() []string
	}
)

// NewReplica builds a replica for a sandbox with opts whose faults come
// from in.
type NewReplica func(opts Options, in *fault.Injector) Replica

// Builtin lists the replicas of the built-in platforms (the ad platforms,
// then the HubSpot and Salesforce CRMs), in the order the
// sandbox asks them whether they own a request. This is the one place a
// platform's replica is wired in.
func Builtin() []NewReplica {
	return []NewReplica{
		func(o Options, in *fault.Injector) Replica {
			return googledm.New(googledm.Options{Faults: in, PollsBeforeDone: o.GooglePollsBeforeDone, Now: o.Now})
		},
		func(o Options, in *fault.Injector) Replica {
			return metagraph.New(metagraph.Options{Faults: in, Now: o.Now})
		},
		func(o Options, in *fault.Injector) Replica {
			return xads.New(xads.Options{Faults: in, RateLimit: o.XRateLimit, Now: o.Now})
		},
		func(o Options, in *fault.Injector) Replica {
			return linkedindmp.New(linkedindmp.Options{Faults: in, Now: o.Now})
		},
		func(o Options, in *fault.Injector) Replica {
			return mailchimp.New(mailchimp.Options{Faults: in, Now: o.Now})
		},
		func(o Options, in *fault.Injector) Replica {
			return hubspot.New(hubspot.Options{Faults: in, Now: o.Now})
		},
		func(o Options, in *fault.Injector) Replica {
			return salesforce.New(salesforce.Options{Faults: in, Now: o.Now})
		},
	}
}

// FaultTargets are the platforms and endpoints fault rules may name in a
// sandbox with opts, for checking a spec before the sandbox starts.
func FaultTargets(opts Options) fault.Targets {
	return targetsOf(buildReplicas(opts, nil))
}

func buildReplicas(opts Options, in *fault.Injector) []Replica {
	news := opts.Replicas
	if news == nil {
		news = Builtin()
	}
	out := make([]Replica, 0, len(news))
	seen := map[string]bool{}
	for _, n := range news {
		r := n(opts, in)
		if name := r.Platform(); name == "" || seen[name] || name == "faults" || name == "version" {
			panic("sandbox: replica with an empty, duplicate or reserved platform name " + `"` + name + `"`)
		}
		seen[r.Platform()] = true
		out = append(out, r)
	}
	return out
}

func targetsOf(replicas []Replica) fault.Targets {
	t := fault.Targets{}
	for _, r := range replicas {
		var eps []string
		if ft, ok := r.(FaultTarget); ok {
			eps = ft.FaultEndpoints()
		}
		t[r.Platform()] = eps
	}
	return t
}

// ReplicaOf returns the sandbox's replica of type T, for tests that reach
// into one (to create an audience without going through its API).
func ReplicaOf[T Replica](s *Server) T {
	for _, r := range s.replicas {
		if t, ok := r.(T); ok {
			return t
		}
	}
	var zero T
	panic(fmt.Sprintf("sandbox: no replica of type %T", zero))
}
