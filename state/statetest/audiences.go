package statetest

import (
	"testing"

	"github.com/audiencesync/audiencesync/state"
)

// AudienceIDs runs the conformance suite of state.AudienceIDs. open is
// called once per subtest, possibly from parallel subtests, and must
// return an empty store that it closes in a t.Cleanup.
func AudienceIDs(t *testing.T, open func(t *testing.T) state.AudienceIDs) {
	t.Helper()
	runSuite(t, audienceTests, func(t *testing.T) *bundle { return &bundle{aud: open(t), ctx: t.Context()} })
}

var audienceTests = []suiteTest{
	{"AudienceID", testAudienceID},
}

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
