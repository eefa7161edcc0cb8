package engine_test

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/fake"
	"github.com/audiencesync/audiencesync/engine"
)

// closeCounter counts Close calls on a destination.
type closeCounter struct {
	*fake.Destination
	closed *int
}

func (c closeCounter) Close() error { *c.closed++; return nil }

// noPlatform is a destination whose Info names no platform.
type noPlatform struct{ closeCounter }

func (n noPlatform) Info() connectors.DestinationInfo {
	info := n.closeCounter.Info()
	info.Platform = nil
	return info
}

// splitter serves one fake destination per profile it was given.
type splitter struct {
	closeCounter
	profiles []string
}

func (s *splitter) Profiles() []string { return s.profiles }

func (s *splitter) ForProfile(p string) (connectors.Destination, error) {
	if p == "broken" {
		return nil, errors.New("no such layout")
	}
	return closeCounter{Destination: fake.NewDestination(p), closed: new(int)}, nil
}

func TestAddDestination(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		dest      func(closed *int) connectors.Destination
		audience  connectors.AudienceSpec
		wantNames []string
		wantProfs []string
		wantAud   string
		wantErr   string
	}{
		{
			name:      "one profile, audience named after the destination",
			dest:      func(c *int) connectors.Destination { return closeCounter{fake.NewDestination("google"), c} },
			wantNames: []string{"dest"}, wantProfs: []string{"google"}, wantAud: "dest",
		},
		{
			name:      "audience named by the sync",
			dest:      func(c *int) connectors.Destination { return closeCounter{fake.NewDestination("meta"), c} },
			audience:  connectors.AudienceSpec{Name: "Buyers"},
			wantNames: []string{"dest"}, wantProfs: []string{"meta"}, wantAud: "Buyers",
		},
		{
			name:      "audience given by id keeps no name",
			dest:      func(c *int) connectors.Destination { return closeCounter{fake.NewDestination("x"), c} },
			audience:  connectors.AudienceSpec{ID: "aud-7"},
			wantNames: []string{"dest"}, wantProfs: []string{"x"}, wantAud: "",
		},
		{
			name: "one target per profile",
			dest: func(c *int) connectors.Destination {
				return &splitter{closeCounter{fake.NewDestination("google"), c}, []string{"google", "meta", "x"}}
			},
			wantNames: []string{"dest/google", "dest/meta", "dest/x"}, wantProfs: []string{"google", "meta", "x"}, wantAud: "dest",
		},
		{
			name:    "no platform",
			dest:    func(c *int) connectors.Destination { return noPlatform{closeCounter{fake.NewDestination("x"), c}} },
			wantErr: "destination dest names no platform",
		},
		{
			name: "a profile that cannot be served",
			dest: func(c *int) connectors.Destination {
				return &splitter{closeCounter{fake.NewDestination("google"), c}, []string{"google", "broken"}}
			},
			wantErr: "no such layout",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			closed := 0
			job := &engine.Job{Sync: "s"}
			err := job.AddDestination(engine.Target{
				Name: "dest", Type: "fake", Dest: tt.dest(&closed), Audience: tt.audience,
				RefreshMargin: time.Hour, BatchSize: 7,
			})
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.Empty(t, job.Targets, "nothing is added")
				require.Equal(t, 1, closed, "the destination is closed on error")
				return
			}
			require.NoError(t, err)
			var names, profs []string
			for _, tg := range job.Targets {
				names = append(names, tg.Name)
				profs = append(profs, tg.Info.Platform.Name)
				require.NotNil(t, tg.Profile)
				require.Equal(t, tg.Info.Platform.Name, tg.Profile.Name())
				require.Equal(t, tt.wantAud, tg.Audience.Name)
				require.Equal(t, time.Hour, tg.RefreshMargin)
				require.Equal(t, 7, tg.BatchSize)
			}
			require.Equal(t, tt.wantNames, names)
			require.Equal(t, tt.wantProfs, profs)
			require.Zero(t, closed)
			require.NoError(t, job.Close())
			require.Equal(t, 1, closed, "the destination is closed once, however many targets it serves")
		})
	}
}
