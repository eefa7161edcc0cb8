package statetest

import (
	"testing"

	"github.com/audiencesync/audiencesync/state"
)

func testAudienceID(t *testing.T, b *bundle) {
	_, err := b.aud.AudienceID(b.ctx, scopeA)
	errorIs(t, err, state.ErrNotFound)

	noError(t, b.aud.SetAudienceID(b.ctx, scopeA, "customers/123/userLists/456"))
	id, err := b.aud.AudienceID(b.ctx, scopeA)
	noError(t, err)
	requireSame(t, "customers/123/userLists/456", id)

	noError(t, b.aud.SetAudienceID(b.ctx, scopeA, "customers/123/userLists/789"))
	id, err = b.aud.AudienceID(b.ctx, scopeA)
	noError(t, err)
	requireSame(t, "customers/123/userLists/789", id)

	_, err = b.aud.AudienceID(b.ctx, scopeB)
	errorIs(t, err, state.ErrNotFound)
}
