// Package builtin is the one place platforms are registered: Registry
// lists every platform audiencesync ships (the ad platforms, then Mailchimp).
package builtin

import (
	"github.com/audiencesync/audiencesync/audience/normalize"
	"github.com/audiencesync/audiencesync/platform"
	"github.com/audiencesync/audiencesync/platform/google"
	"github.com/audiencesync/audiencesync/platform/linkedin"
	"github.com/audiencesync/audiencesync/platform/mailchimp"
	"github.com/audiencesync/audiencesync/platform/meta"
	"github.com/audiencesync/audiencesync/platform/x"
)

// Registry returns a new registry holding every built-in platform. Each
// call builds a fresh value, so callers (and tests) may add to it freely.
func Registry() *platform.Registry {
	r := &platform.Registry{}
	for _, p := range []*platform.Platform{
		google.Platform(),
		meta.Platform(),
		x.Platform(),
		linkedin.Platform(),
		mailchimp.Platform(),
	} {
		r.Register(p)
	}
	return r
}

// Profile returns the normalisation profile of the built-in platform named
// name.
func Profile(name string) (*normalize.Profile, error) {
	p, err := Registry().Lookup(name)
	if err != nil {
		return nil, err
	}
	return p.Profile, nil
}
