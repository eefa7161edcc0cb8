package syncs

import (
	"context"
	"crypto/rand"
	"fmt"
	"time"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/audience/normalize"
	"github.com/audiencesync/audiencesync/configs"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/engine"
	platformbuiltin "github.com/audiencesync/audiencesync/platform/builtin"
	"github.com/audiencesync/audiencesync/segment"
)

// segment gives the job of a sync with segments its segments and the
// function that places members into them for a run: it reads each
// suppression source whole, then compiles the filters for the run's
// clock.
func (s *Service) segment(sc *configs.Sync, job *engine.Job) {
	if len(sc.Segments) == 0 {
		return
	}
	for _, seg := range sc.Segments {
		job.Segments = append(job.Segments, engine.SegmentInfo{Name: seg.Name, Group: seg.Group, Holdout: seg.HoldoutShare > 0})
	}
	job.Place = func(ctx context.Context, now time.Time) (engine.Placer, error) {
		spec := sc.SegmentSpec()
		for _, sup := range sc.Suppress {
			if sup.Source == nil {
				continue
			}
			list, err := s.readList(ctx, sc, sup)
			if err != nil {
				return nil, fmt.Errorf("read suppression list %s: %w", sup.Name, err)
			}
			spec.Lists = append(spec.Lists, list)
		}
		if needsHoldoutKey(spec) {
			key, err := s.holdoutKey(ctx, sc.Name)
			if err != nil {
				return nil, err
			}
			spec.HoldoutKey = key
		}
		p, err := segment.New(spec, now)
		if err != nil {
			return nil, fmt.Errorf("sync %s: %w", sc.Name, err)
		}
		return p.PlaceAll, nil
	}
}

func needsHoldoutKey(spec segment.Spec) bool {
	for _, d := range spec.Segments {
		if d.Holdout > 0 {
			return true
		}
	}
	return false
}

// listProfile is the profile that normalises the e-mail addresses and
// phone numbers of suppression lists and of the members checked against
// them: Meta's rules, which change an address least (no Gmail dot
// folding), so a match means the same address.
const listProfile = "meta"

// readList reads a suppression source whole into a list of member keys
// and e-mail and phone hashes.
func (s *Service) readList(ctx context.Context, sc *configs.Sync, sup *configs.Suppression) (*segment.List, error) {
	conn, ok := s.cfg.Connections[sup.Source.Connection]
	if !ok || conn.Spec.NewSource == nil {
		return nil, fmt.Errorf("connection %s is not a source", sup.Source.Connection)
	}
	src, err := conn.Spec.NewSource(conn.Settings, s.env(conn.Name))
	if err != nil {
		return nil, fmt.Errorf("open source %s: %w", conn.Name, err)
	}
	defer src.Close()
	region := sup.Source.DefaultRegion
	if region == "" {
		region = sc.Source.DefaultRegion
	}
	prof, err := platformbuiltin.Profile(listProfile)
	if err != nil {
		return nil, err
	}
	list := segment.NewList(sup.Name, prof, normalize.Options{DefaultRegion: region})
	req := connectors.ReadRequest{Audience: sup.Source.Audience, Key: sup.Source.Key, Fields: sup.Source.Kinds, Consent: sup.Source.ConsentFields}
	if err := src.Read(ctx, req, listEmitter{list}); err != nil {
		return nil, err
	}
	return list, nil
}

// listEmitter adds every member a suppression source yields to a list;
// records the source rejects are not on it.
type listEmitter struct{ list *segment.List }

func (e listEmitter) Emit(m *audience.Member) error { e.list.Add(m); return nil }
func (e listEmitter) Reject(string, int64)          {}

// holdoutKey returns the sync's holdout key from the state store,
// created there on first use: every process sharing the state holds out
// the same members, run after run.
func (s *Service) holdoutKey(ctx context.Context, sync string) ([]byte, error) {
	st, _, err := s.stores(ctx)
	if err != nil {
		return nil, err
	}
	fresh := make([]byte, segment.HoldoutKeySize)
	if _, err := rand.Read(fresh); err != nil {
		return nil, fmt.Errorf("make a holdout key: %w", err)
	}
	return st.HoldoutKey(ctx, sync, fresh)
}
