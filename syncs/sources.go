package syncs

import (
	"context"
	"errors"
	"fmt"

	"github.com/audiencesync/audiencesync/configs"
	"github.com/audiencesync/audiencesync/connectors"
)

// ErrCannotList is returned by ListAudiences for a connection whose
// connector cannot list what it holds (connectors.AudienceLister).
var ErrCannotList = errors.New("this connector cannot list its audiences")

// SourceConnection returns the source connection of the named sync.
func (s *Service) SourceConnection(sync string) (string, error) {
	sc, err := s.sync(sync)
	if err != nil {
		return "", err
	}
	return sc.Source.Connection, nil
}

// ListAudiences builds the named source connection and lists the
// audiences it offers (a CRM's lists with their sizes and ids), changing
// nothing.
func (s *Service) ListAudiences(ctx context.Context, connection string) (list []connectors.AudienceInfo, err error) {
	c, ok := s.cfg.Connections[connection]
	if !ok {
		return nil, notFound(fmt.Sprintf("no connection named %q in %s", connection, s.cfg.Path))
	}
	if c.Spec.Role != connectors.RoleSource {
		return nil, fmt.Errorf("connection %s (%s) is a destination: name a source connection: %w", connection, c.Type, ErrCannotList)
	}
	done := s.sandbox.use()
	defer func() { err = errors.Join(err, done()) }()
	src, err := c.Spec.NewSource(c.Settings, s.env(c.Name))
	if err != nil {
		return nil, err
	}
	defer src.Close()
	lister, ok := src.(connectors.AudienceLister)
	if !ok {
		return nil, fmt.Errorf("connection %s (%s) holds one audience: %w", connection, c.Type, ErrCannotList)
	}
	return lister.ListAudiences(ctx)
}

// checkAudiences checks the audience of every sync that reads connection,
// and says what each found.
func (s *Service) checkAudiences(ctx context.Context, connection string, ac connectors.AudienceChecker) ([]string, error) {
	var (
		found []string
		errs  []error
	)
	for _, sc := range s.cfg.Syncs {
		if sc.Source.Connection != connection {
			continue
		}
		var (
			what string
			err  error
		)
		if rc, ok := ac.(connectors.ReadChecker); ok {
			what, err = rc.CheckRead(ctx, readRequest(sc))
		} else {
			what, err = ac.CheckAudience(ctx, sc.Source.Audience)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("sync %s: %w", sc.Name, err))
			continue
		}
		found = append(found, "sync "+sc.Name+": "+what)
	}
	return found, errors.Join(errs...)
}

// readRequest is what a sync asks of its source.
func readRequest(sc *configs.Sync) connectors.ReadRequest {
	return connectors.ReadRequest{
		Audience:   sc.Source.Audience,
		Key:        sc.Source.Key,
		Fields:     sc.Source.Kinds,
		Consent:    sc.Source.ConsentFields,
		Attributes: sc.Source.Attrs,
	}
}
