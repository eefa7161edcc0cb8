package googleads_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/sandbox"
)

// TestAudienceSize reads the list's sizeInfo as the replica serves it: a
// known estimate of 0 for a new list, then as many as it holds.
func TestAudienceSize(t *testing.T) {
	t.Parallel()
	rm := newRemote(t, sandbox.Options{})
	d, _ := newDest(t, rm, settings())
	aud, err := d.Ensure(t.Context(), connectors.AudienceSpec{Name: "Sized", Create: true})
	require.NoError(t, err)
	size, err := d.AudienceSize(t.Context(), aud)
	require.NoError(t, err)
	require.Equal(t, connectors.AudienceSize{Known: true, Approximate: true}, size)

	var b connectors.Batch
	b.Op, b.Seq = connectors.OpAdd, 1
	for i := range 120 {
		b.Members = append(b.Members, upload(i))
	}
	_, err = d.Apply(t.Context(), aud, b)
	require.NoError(t, err)
	size, err = d.AudienceSize(t.Context(), aud)
	require.NoError(t, err)
	require.True(t, size.Known)
	require.Equal(t, int64(len(rm.srv.Members("google", aud.ID))), size.Members)
	require.Positive(t, size.Members)
}
