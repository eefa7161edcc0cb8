package engine_test

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/connectors/fake"
	"github.com/audiencesync/audiencesync/engine"
	"github.com/audiencesync/audiencesync/report"
)

// TestDeclaredCountGuardsShortReads: a source that declares how many
// records its audience holds and then yields fewer fails the read, and the
// run removes nothing; as many or more (a list that grew while read) is a
// normal read.
func TestDeclaredCountGuardsShortReads(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		declared int64
		members  int
		rejects  []string
		short    bool
	}{
		{name: "exact", declared: 100, members: 100},
		{name: "rejected rows count as read", declared: 100, members: 98, rejects: []string{"row.malformed", "row.missing_key"}},
		{name: "grew while read", declared: 90, members: 100},
		{name: "one short", declared: 101, members: 100, short: true},
		{name: "most lost", declared: 1000, members: 100, short: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t)
			_, err := b.run(members(0, 110), engine.Options{})
			require.NoError(t, err)
			b.dest.ResetCalls()

			src := &fake.Source{Members: members(0, tc.members), Declared: tc.declared, Rejects: tc.rejects}
			rep, err := b.eng.Run(context.Background(), b.job(src), engine.Options{})
			require.Equal(t, tc.declared, rep.Source.Declared)
			if !tc.short {
				require.NoError(t, err)
				require.NotEqual(t, report.StatusFailed, rep.Status)
				require.Equal(t, int64(tc.members), b.count())
				return
			}
			require.ErrorIs(t, err, engine.ErrSourceFailed)
			var short *engine.ShortReadError
			require.True(t, errors.As(err, &short), "error %v is not a ShortReadError", err)
			require.Equal(t, tc.declared, short.Declared)
			require.Equal(t, int64(tc.members), short.Read)
			require.Contains(t, err.Error(), "nothing was uploaded or removed")
			require.Equal(t, report.StatusFailed, rep.Status)
			require.Empty(t, b.dest.Calls(), "a short read sent something")
			require.Equal(t, int64(110), b.count(), "a short read changed state")
		})
	}
}
