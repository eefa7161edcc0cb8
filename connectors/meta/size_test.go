package meta_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/connectors"
)

// TestAudienceSize reads Meta's approximate count bounds as the replica
// serves them: 0 for a new audience, then the members it holds.
func TestAudienceSize(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	d := b.dest()
	aud := b.ensure(d, "Sized")
	size, err := d.AudienceSize(t.Context(), aud)
	require.NoError(t, err)
	require.Equal(t, connectors.AudienceSize{Known: true, Approximate: true}, size)

	_, err = d.Apply(t.Context(), aud, connectors.Batch{Op: connectors.OpAdd, Seq: 1, Members: uploads(0, 40)})
	require.NoError(t, err)
	size, err = d.AudienceSize(t.Context(), aud)
	require.NoError(t, err)
	require.Equal(t, connectors.AudienceSize{Known: true, Members: 40, Upper: 40, Approximate: true}, size)
}

// uploads are members from..to-1, one e-mail address each.
func uploads(from, to int) []connectors.Upload {
	var out []connectors.Upload
	for i := from; i < to; i++ {
		out = append(out, emailMember(fmt.Sprintf("sized-%04d@example.com", i)))
	}
	return out
}
