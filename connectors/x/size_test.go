package x

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
)

// TestAudienceSize reads audience_size as the replica serves it: X gives
// no figure below 100 matched users (unknown), a figure from there on.
func TestAudienceSize(t *testing.T) {
	t.Parallel()
	r := newReplica(t, "", 0, nil)
	d := r.dest(t, nil)
	aud, err := d.Ensure(t.Context(), connectors.AudienceSpec{Name: "Sized", Create: true})
	require.NoError(t, err)
	add := func(from, to int) {
		t.Helper()
		b := connectors.Batch{Op: connectors.OpAdd, Seq: from + 1}
		for i := from; i < to; i++ {
			b.Members = append(b.Members, connectors.Upload{Identifiers: []audience.Identifier{
				{Kind: audience.Email, Value: sha(fmt.Sprintf("sized-%04d@example.com", i)), Hashed: true}}})
		}
		_, err := d.Apply(t.Context(), aud, b)
		require.NoError(t, err)
	}
	add(0, 60)
	size, err := d.AudienceSize(t.Context(), aud)
	require.NoError(t, err)
	require.Equal(t, connectors.AudienceSize{}, size, "below 100 matched users X gives no size")
	add(60, 150)
	size, err = d.AudienceSize(t.Context(), aud)
	require.NoError(t, err)
	require.Equal(t, connectors.AudienceSize{Known: true, Members: 150, Approximate: true}, size)
}
