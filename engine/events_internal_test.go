package engine

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"
	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/report"
)

// TestSourceEventsCostNoAllocationPerRecord reads records into a collector
// with and without an observer: neither allocates per record (an event
// every ProgressEvery records is all an observer costs). Not parallel:
// AllocsPerRun counts the whole process's allocations.
func TestSourceEventsCostNoAllocationPerRecord(t *testing.T) {
	tests := []struct {
		name string
		obs  Observer
	}{
		{"no observer", nil},
		{"observer", ObserverFunc(func(Event) {})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var src report.Source
			src.Rejected = map[string]int64{"row.malformed": 0}
			c := &collector{ctx: context.Background(), src: &src, keys: map[uint64]uint64{},
				chunk: make([]sourced, 0, chunkSize), ev: &events{obs: tt.obs}, log: zap.NewNop()}
			var m audience.Member // no source key: nothing to remember per record
			m.Fields[audience.Email] = "someone@example.com"
			allocs := testing.AllocsPerRun(4*ProgressEvery, func() {
				if err := c.Emit(&m); err != nil {
					t.Fatal(err)
				}
				c.Reject("row.malformed", 0)
			})
			require.Zero(t, allocs, "allocations per record")
			require.GreaterOrEqual(t, src.Read, int64(8*ProgressEvery), "enough records for several events")
		})
	}
}
