package meta_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/engine"
)

// TestReplaceHonoursBatchSize: a full refresh's usersreplace session cuts
// its requests at the sync's batch_size, like the adds and removes, and
// at Meta's row limit when that is lower; without a batch_size, at the
// row limit. The replica counts the rows of every request.
func TestReplaceHonoursBatchSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		batch    int // the sync's batch_size; 0 for none
		rows     int // the connector's row limit
		contacts int
		want     []int // rows per usersreplace request
	}{
		{"batch_size 500", 500, 10000, 5060, []int{500, 500, 500, 500, 500, 500, 500, 500, 500, 500, 60}},
		{"row limit below batch_size", 500, 300, 700, []int{300, 300, 100}},
		{"no batch_size", 0, 2000, 5060, []int{2000, 2000, 1060}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := newSyncRows(t, "", tt.rows)
			s.batch = tt.batch
			ms := members(0, tt.contacts)
			_, err := s.run(ms, engine.Options{})
			require.NoError(t, err)
			_, err = s.run(ms, engine.Options{FullRefresh: true})
			require.NoError(t, err)
			var got []int
			for _, r := range s.calls("usersreplace") {
				got = append(got, rowCount(t, r))
			}
			require.Equal(t, tt.want, got)
			s.requireAudience(ms)
		})
	}
}
