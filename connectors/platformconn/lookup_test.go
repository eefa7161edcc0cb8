package platformconn_test

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
)

// TestLookup drives Lookup over a made-up platform holding audiences 1
// ("one") and 2 ("two"), recording the calls it makes.
func TestLookup(t *testing.T) {
	t.Parallel()
	names := map[string]string{"1": "one", "2": "two"}
	boom := errors.New("boom")
	for _, tc := range []struct {
		name    string
		spec    connectors.AudienceSpec
		failOn  string // a call that fails
		want    string // the audience found
		calls   []string
		wantErr string
		fatal   bool
	}{
		{name: "by id", spec: connectors.AudienceSpec{ID: "1", KnownID: "2", Name: "two"}, want: "1", calls: []string{"id 1"}},
		{name: "no such id, no fall-back", spec: connectors.AudienceSpec{ID: "9", Name: "one", Create: true},
			calls: []string{"id 9"}, wantErr: "no audience 9", fatal: true},
		{name: "known id", spec: connectors.AudienceSpec{KnownID: "2", Name: "one"}, want: "2", calls: []string{"id 2"}},
		{name: "known id gone, by name", spec: connectors.AudienceSpec{KnownID: "9", Name: "one"}, want: "1",
			calls: []string{"id 9", "gone 9", "name one"}},
		{name: "by name", spec: connectors.AudienceSpec{Name: "two"}, want: "2", calls: []string{"name two"}},
		{name: "created", spec: connectors.AudienceSpec{Name: "new", Create: true}, want: "3",
			calls: []string{"name new", "create new"}},
		{name: "not found, not allowed", spec: connectors.AudienceSpec{Name: "new"}, calls: []string{"name new"},
			wantErr: `no audience named "new"`, fatal: true},
		{name: "unnamed", spec: connectors.AudienceSpec{}, wantErr: "neither an id nor a name", fatal: true},
		{name: "a read failing stops", spec: connectors.AudienceSpec{KnownID: "2", Name: "one"}, failOn: "id 2",
			calls: []string{"id 2"}, wantErr: "boom"},
		{name: "a name search failing stops", spec: connectors.AudienceSpec{Name: "new", Create: true}, failOn: "name new",
			calls: []string{"name new"}, wantErr: "boom"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var calls []string
			call := func(c string) error {
				calls = append(calls, c)
				if c == tc.failOn {
					return boom
				}
				return nil
			}
			l := platformconn.Lookup[string]{
				ByID: func(_ context.Context, id string) (string, bool, error) {
					err := call("id " + id)
					_, ok := names[id]
					return id, ok && err == nil, err
				},
				ByName: func(_ context.Context, name string) (string, bool, error) {
					err := call("name " + name)
					for id, n := range names {
						if n == name && err == nil {
							return id, true, nil
						}
					}
					return "", false, err
				},
				Create: func(_ context.Context, spec connectors.AudienceSpec) (string, error) {
					return "3", call("create " + spec.Name)
				},
				NoSuchID:   func(id string) error { return fmt.Errorf("no audience %s", id) },
				Unnamed:    errors.New("neither an id nor a name"),
				NoSuchName: func(name string) error { return fmt.Errorf("no audience named %q", name) },
				Gone:       func(id string) { calls = append(calls, "gone "+id) },
			}
			got, err := l.Find(t.Context(), tc.spec)
			require.Equal(t, tc.calls, calls)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				action, _ := connectors.Classify(err)
				require.Equal(t, tc.fatal, action == connectors.ActionStop, "fatal")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
		})
	}
}

// TestLookupWords checks the errors Words say, word for word.
func TestLookupWords(t *testing.T) {
	t.Parallel()
	l := platformconn.Lookup[string]{
		ByID:   func(context.Context, string) (string, bool, error) { return "", false, nil },
		ByName: func(context.Context, string) (string, bool, error) { return "", false, nil },
		Words:  platformconn.Words{Type: "acme", Noun: "crowd", Short: "crowd", Account: "account 7", Where: " in Acme Ads"},
	}
	for _, tc := range []struct {
		spec connectors.AudienceSpec
		want string
	}{
		{connectors.AudienceSpec{ID: "9"}, "acme: crowd 9 does not exist in account 7 (or was deleted): fix the audience id in the sync, or remove it to find the crowd by name"},
		{connectors.AudienceSpec{}, "acme: the audience has neither an id nor a name: give the sync's audience a name or an id"},
		{connectors.AudienceSpec{Name: "fans"}, `acme: account 7 has no crowd named "fans": create it in Acme Ads, give its id in the sync, or allow audiencesync to create it`},
	} {
		_, err := l.Find(t.Context(), tc.spec)
		require.ErrorIs(t, err, connectors.ErrFatal)
		require.ErrorContains(t, err, tc.want)
	}
}

// TestSize reads sizes of a made-up platform's audiences: a known figure,
// one without figures, one that is gone (fatal, worded) and a failed read
// (passed on as it is).
func TestSize(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	sizes := map[string]int64{"1": 40, "2": -1}
	byID := func(_ context.Context, id string) (int64, bool, error) {
		if id == "9" {
			return 0, false, boom
		}
		n, ok := sizes[id]
		return n, ok, nil
	}
	size := func(n int64) connectors.AudienceSize {
		if n < 0 {
			return connectors.AudienceSize{}
		}
		return connectors.AudienceSize{Known: true, Members: n}
	}
	words := platformconn.Words{Type: "acme", Noun: "crowd", Account: "account 5"}
	for _, tc := range []struct {
		id      string
		want    connectors.AudienceSize
		wantErr string
		fatal   bool
	}{
		{id: "1", want: connectors.AudienceSize{Known: true, Members: 40}},
		{id: "2", want: connectors.AudienceSize{}},
		{id: "3", wantErr: "acme: crowd 3 is gone from account 5", fatal: true},
		{id: "9", wantErr: "boom"},
	} {
		t.Run(tc.id, func(t *testing.T) {
			t.Parallel()
			got, err := platformconn.Size(context.Background(), words, tc.id, byID, size)
			if tc.wantErr == "" {
				require.NoError(t, err)
				require.Equal(t, tc.want, got)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
			action, _ := connectors.Classify(err)
			require.Equal(t, tc.fatal, action == connectors.ActionStop, "fatal")
		})
	}
}
