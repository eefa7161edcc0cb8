package engine

import (
	"fmt"
	"slices"

	"github.com/audiencesync/audiencesync/connectors"
)

// A Job is a neutral description of one sync: built connectors and plain
// values, whatever the sync was defined in (a config file today; a
// database or the web UI later). The caller builds the source and sets the
// job's fields, then adds each built destination with AddDestination.

// AddDestination adds a built destination to the job. t carries the
// destination and what the sync asks of it (Name, Type, Dest, Audience,
// DefaultConsent, RefreshMargin, BatchSize, Concurrency); AddDestination
// fills Info and Profile from the destination, names the remote audience
// after the destination when t names no audience, and adds one target per
// profile for a destination that serves several
// (connectors.ProfileSplitter), each with its own state. The job closes
// the destination with the others (Job.Close); on error it is closed
// already and nothing was added.
func (j *Job) AddDestination(t Target) error {
	targets, err := splitTargets(t, j.Request.Attributes)
	if err != nil {
		_ = t.Dest.Close()
		return fmt.Errorf("destination %s: %w", t.Name, err)
	}
	j.Targets = append(j.Targets, targets...)
	return nil
}

func splitTargets(base Target, attrs []connectors.Attribute) ([]*Target, error) {
	base.owner = base.Dest
	if base.Audience.Name == "" && base.Audience.ID == "" {
		base.Audience.Name = base.Name
	}
	split, ok := base.Dest.(connectors.ProfileSplitter)
	if !ok {
		t := base
		if err := t.resolve(attrs); err != nil {
			return nil, err
		}
		return []*Target{&t}, nil
	}
	var out []*Target
	for _, prof := range split.Profiles() {
		sub, err := split.ForProfile(prof)
		if err != nil {
			return nil, err
		}
		t := base
		t.Name = base.Name + "/" + prof
		t.Dest = sub
		if err := t.resolve(attrs); err != nil {
			return nil, err
		}
		out = append(out, &t)
	}
	return out, nil
}

func (t *Target) resolve(attrs []connectors.Attribute) error {
	t.Info = t.Dest.Info()
	if t.Info.Platform == nil || t.Info.Platform.Profile == nil {
		return fmt.Errorf("destination %s names no platform: its Info must set Platform", t.Name)
	}
	t.Profile = t.Info.Platform.Profile
	t.attrs = nil
	for _, name := range t.Info.Attributes {
		i := slices.IndexFunc(attrs, func(a connectors.Attribute) bool { return a.Name == name })
		if i < 0 {
			return fmt.Errorf("destination %s is sent attribute %s, which the source does not read: add it under the sync's source.attributes", t.Name, name)
		}
		t.attrs = append(t.attrs, i)
	}
	return nil
}
