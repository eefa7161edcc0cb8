package syncs

import (
	"context"
	"errors"
	"fmt"

	"github.com/audiencesync/audiencesync/configs"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/engine"
)

// env is what every connector of the named connection is built with.
func (s *Service) env(connection string) connectors.Env {
	return connectors.Env{
		Logger:  s.log.Named(connection),
		BaseDir: s.cfg.BaseDir,
		Now:     s.clock,
		// One in-process sandbox serves every platform's replica.
		Endpoint: func(ctx context.Context, _ string) (string, error) { return s.sandbox.baseURL(ctx) },
	}
}

// build translates a configured sync into the engine's job description:
// it builds the source and every destination from their connections. On
// error nothing stays open.
func (s *Service) build(sc *configs.Sync) (job *engine.Job, err error) {
	job = &engine.Job{
		Sync:              sc.Name,
		DefaultRegion:     sc.Source.DefaultRegion,
		MaxRemoveFraction: sc.Safety.MaxRemove(),
		AllowEmpty:        sc.Safety.AllowEmpty,
		Request:           readRequest(sc),
	}
	defer func() {
		if err != nil {
			_ = job.Close()
			job = nil
		}
	}()
	srcConn, ok := s.cfg.Connections[sc.Source.Connection]
	if !ok {
		return job, fmt.Errorf("sync %s: no connection %q", sc.Name, sc.Source.Connection)
	}
	if srcConn.Spec.NewSource == nil {
		return job, fmt.Errorf("sync %s: connection %s (%s) cannot be a source", sc.Name, srcConn.Name, srcConn.Type)
	}
	job.Source, err = srcConn.Spec.NewSource(srcConn.Settings, s.env(srcConn.Name))
	if err != nil {
		return job, fmt.Errorf("sync %s: open source %s: %w", sc.Name, srcConn.Name, err)
	}
	for _, d := range sc.Targets() {
		conn, ok := s.cfg.Connections[d.Connection]
		if !ok {
			return job, fmt.Errorf("sync %s: no connection %q", sc.Name, d.Connection)
		}
		if conn.Spec.NewDestination == nil {
			return job, fmt.Errorf("sync %s: connection %s (%s) cannot be a destination", sc.Name, conn.Name, conn.Type)
		}
		dest, err := conn.Spec.NewDestination(conn.Settings, s.env(conn.Name))
		if err != nil {
			return job, fmt.Errorf("sync %s: open destination %s: %w", sc.Name, d.Name, err)
		}
		err = job.AddDestination(engine.Target{
			Name:    d.Name,
			Segment: d.Segment,
			Type:    conn.Type,
			Dest:    dest,
			Audience: connectors.AudienceSpec{
				ID:             d.Audience.ID,
				Name:           d.Audience.Name,
				Description:    d.Audience.Description,
				MembershipDays: d.Audience.MembershipDays,
				Create:         d.Audience.CreateAllowed(),
				List:           d.Audience.ListID,
				Tag:            d.Audience.Tag,
			},
			DefaultConsent: d.DefaultConsent,
			RefreshMargin:  d.RefreshMargin(),
			BatchSize:      d.BatchSize,
			Concurrency:    d.Concurrency,
		})
		if err != nil {
			return job, fmt.Errorf("sync %s: %w", sc.Name, err)
		}
	}
	s.segment(sc, job)
	if len(job.Targets) == 0 {
		return job, errors.New("sync " + sc.Name + " has no destinations")
	}
	return job, nil
}

// Check builds the named connection and, if its connector can, verifies
// its credentials and access (connectors.Checker) and that the audience
// each sync reading it names exists (connectors.AudienceChecker),
// changing nothing. The message says what was verified.
func (s *Service) Check(ctx context.Context, connection string) (msg string, err error) {
	c, ok := s.cfg.Connections[connection]
	if !ok {
		return "", notFound(fmt.Sprintf("no connection named %q in %s", connection, s.cfg.Path))
	}
	done := s.sandbox.use()
	defer func() { err = errors.Join(err, done()) }()
	var (
		target any
		closer interface{ Close() error }
	)
	switch c.Spec.Role {
	case connectors.RoleSource:
		src, err := c.Spec.NewSource(c.Settings, s.env(c.Name))
		if err != nil {
			return "", err
		}
		target, closer = src, src
	default:
		d, err := c.Spec.NewDestination(c.Settings, s.env(c.Name))
		if err != nil {
			return "", err
		}
		target, closer = d, d
	}
	defer closer.Close()
	ch, ok := target.(connectors.Checker)
	if !ok {
		return "built (this connector has no remote check)", nil
	}
	if err := ch.Check(ctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return "", fmt.Errorf("no answer within the timeout: %w", err)
		}
		return "", err
	}
	msg = "credentials and access verified"
	if ac, ok := target.(connectors.AudienceChecker); ok {
		found, err := s.checkAudiences(ctx, connection, ac)
		if err != nil {
			return "", err
		}
		for _, f := range found {
			msg += "; " + f
		}
	}
	return msg, nil
}
