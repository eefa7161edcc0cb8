package engine

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
)

func ids(pairs ...any) []audience.Identifier {
	var out []audience.Identifier
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, audience.Identifier{Kind: pairs[i].(audience.Kind), Value: pairs[i+1].(string), Hashed: true})
	}
	slices.SortFunc(out, compareIdentifiers)
	return out
}

func TestAttributeGroupIsKeptOrDroppedWhole(t *testing.T) {
	t.Parallel()
	ava := ids(audience.Email, "e1", audience.FirstName, "ava", audience.LastName, "archer", audience.Country, "US", audience.Zip, "10001")
	ben := ids(audience.Email, "e2", audience.FirstName, "ben", audience.LastName, "archer", audience.Country, "US", audience.Zip, "10001")
	twin := ids(audience.Email, "e3", audience.FirstName, "ava", audience.LastName, "archer", audience.Country, "US", audience.Zip, "10001")

	p := &plan{desiredIDs: map[audience.IdentifierID]struct{}{}}
	matchKeys(ben, func(k audience.IdentifierID) { p.desiredIDs[k] = struct{}{} })
	// Ava leaves while Ben, who shares surname, country and zip, stays:
	// Ava's whole address goes, never a part of it.
	got := p.undesired(slices.Clone(ava))
	require.Equal(t, ava, got)

	// Her twin with the same address stays: only the e-mail goes.
	matchKeys(twin, func(k audience.IdentifierID) { p.desiredIDs[k] = struct{}{} })
	got = p.undesired(slices.Clone(ava))
	require.Equal(t, ids(audience.Email, "e1"), got)
}

func TestMatchKeysCountsAttributesOnce(t *testing.T) {
	t.Parallel()
	var keys []audience.IdentifierID
	matchKeys(ids(audience.Email, "e1", audience.Phone, "p1", audience.FirstName, "ava", audience.Zip, "1"), func(k audience.IdentifierID) {
		keys = append(keys, k)
	})
	require.Len(t, keys, 3, "e-mail, phone, and one key for the attribute group")
	keys = nil
	matchKeys(ids(audience.Email, "e1"), func(k audience.IdentifierID) { keys = append(keys, k) })
	require.Len(t, keys, 1)
}
