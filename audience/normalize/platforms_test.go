package normalize_test

import (
	"github.com/audiencesync/audiencesync/audience/normalize"
	"github.com/audiencesync/audiencesync/platform/builtin"
)

// The profiles under test are the platforms' own, declared in the platform
// packages.
func init() { normalize.LookupForTest = lookup }

// lookup returns the profile of a built-in platform.
func lookup(name string) (*normalize.Profile, error) {
	p, err := builtin.Registry().Lookup(name)
	if err != nil {
		return nil, err
	}
	return p.Profile, nil
}
