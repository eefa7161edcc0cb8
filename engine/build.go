package engine

import (
	"errors"
	"fmt"

	"github.com/audiencesync/audiencesync/configs"
	"github.com/audiencesync/audiencesync/connectors"
)

// EnvFunc gives the Env for the named connection.
type EnvFunc func(connection string) connectors.Env

// Build turns a loaded sync into a Job: it builds the source and every
// destination from their connections (splitting destinations that serve
// several profiles) and looks up each destination's normalisation profile.
// On error nothing stays open.
func Build(cfg *configs.Config, s *configs.Sync, env EnvFunc) (job *Job, err error) {
	job = &Job{
		Sync:              s.Name,
		DefaultRegion:     s.Source.DefaultRegion,
		MaxRemoveFraction: s.Safety.MaxRemove(),
		AllowEmpty:        s.Safety.AllowEmpty,
		Request: connectors.ReadRequest{
			Audience: s.Source.Audience,
			Key:      s.Source.Key,
			Fields:   s.Source.Kinds,
			Consent:  s.Source.ConsentFields,
		},
	}
	defer func() {
		if err != nil {
			_ = job.Close()
			job = nil
		}
	}()
	srcConn, ok := cfg.Connections[s.Source.Connection]
	if !ok {
		return job, fmt.Errorf("sync %s: no connection %q", s.Name, s.Source.Connection)
	}
	if srcConn.Spec.NewSource == nil {
		return job, fmt.Errorf("sync %s: connection %s (%s) cannot be a source", s.Name, srcConn.Name, srcConn.Type)
	}
	job.Source, err = srcConn.Spec.NewSource(srcConn.Settings, env(srcConn.Name))
	if err != nil {
		return job, fmt.Errorf("sync %s: open source %s: %w", s.Name, srcConn.Name, err)
	}
	for _, d := range s.Destinations {
		conn, ok := cfg.Connections[d.Connection]
		if !ok {
			return job, fmt.Errorf("sync %s: no connection %q", s.Name, d.Connection)
		}
		if conn.Spec.NewDestination == nil {
			return job, fmt.Errorf("sync %s: connection %s (%s) cannot be a destination", s.Name, conn.Name, conn.Type)
		}
		dest, err := conn.Spec.NewDestination(conn.Settings, env(conn.Name))
		if err != nil {
			return job, fmt.Errorf("sync %s: open destination %s: %w", s.Name, d.Name, err)
		}
		targets, err := targetsFor(d, conn.Type, dest)
		if err != nil {
			_ = dest.Close()
			return job, fmt.Errorf("sync %s: destination %s: %w", s.Name, d.Name, err)
		}
		job.Targets = append(job.Targets, targets...)
	}
	if len(job.Targets) == 0 {
		return job, errors.New("sync " + s.Name + " has no destinations")
	}
	return job, nil
}

func targetsFor(d *configs.Destination, typ string, dest connectors.Destination) ([]*Target, error) {
	base := Target{
		Name:  d.Name,
		Type:  typ,
		Dest:  dest,
		owner: dest,
		Audience: connectors.AudienceSpec{
			ID:             d.Audience.ID,
			Name:           d.Audience.Name,
			Description:    d.Audience.Description,
			MembershipDays: d.Audience.MembershipDays,
			Create:         d.Audience.CreateAllowed(),
		},
		DefaultConsent: d.DefaultConsent,
		RefreshMargin:  d.RefreshMargin(),
		BatchSize:      d.BatchSize,
		Concurrency:    d.Concurrency,
	}
	if base.Audience.Name == "" && base.Audience.ID == "" {
		base.Audience.Name = d.Name
	}
	split, ok := dest.(connectors.ProfileSplitter)
	if !ok {
		t := base
		if err := t.resolve(); err != nil {
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
		t.Name = d.Name + "/" + prof
		t.Dest = sub
		if err := t.resolve(); err != nil {
			return nil, err
		}
		out = append(out, &t)
	}
	return out, nil
}

func (t *Target) resolve() error {
	t.Info = t.Dest.Info()
	if t.Info.Platform == nil || t.Info.Platform.Profile == nil {
		return fmt.Errorf("destination %s names no platform: its Info must set Platform", t.Name)
	}
	t.Profile = t.Info.Platform.Profile
	return nil
}
