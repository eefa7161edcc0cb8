package engine

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/platform/google"
	"github.com/audiencesync/audiencesync/platform/meta"
)

// The built-in platforms' match semantics: Google matches an address as a
// whole, Meta matches records.
var (
	googleMatch = &google.Platform().Match
	metaMatch   = &meta.Platform().Match
)

func ids(pairs ...any) []audience.Identifier {
	var out []audience.Identifier
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, audience.Identifier{Kind: pairs[i].(audience.Kind), Value: pairs[i+1].(string), Hashed: true})
	}
	audience.SortIdentifiers(out)
	return out
}

func TestAttributeGroupIsKeptOrDroppedWhole(t *testing.T) {
	t.Parallel()
	ava := ids(audience.Email, "e1", audience.FirstName, "ava", audience.LastName, "archer", audience.Country, "US", audience.Zip, "10001")
	ben := ids(audience.Email, "e2", audience.FirstName, "ben", audience.LastName, "archer", audience.Country, "US", audience.Zip, "10001")
	twin := ids(audience.Email, "e3", audience.FirstName, "ava", audience.LastName, "archer", audience.Country, "US", audience.Zip, "10001")

	p := &plan{t: &Target{Info: connectors.DestinationInfo{Platform: google.Platform()}}, desiredIDs: map[audience.IdentifierID]struct{}{}}
	matchKeys(ben, googleMatch, func(k audience.IdentifierID) { p.desiredIDs[k] = struct{}{} })
	// Ava leaves while Ben, who shares surname, country and zip, stays:
	// Ava's whole address goes, never a part of it.
	got := p.undesired(slices.Clone(ava))
	require.Equal(t, ava, got)

	// Her twin with the same address stays: only the e-mail goes.
	matchKeys(twin, googleMatch, func(k audience.IdentifierID) { p.desiredIDs[k] = struct{}{} })
	got = p.undesired(slices.Clone(ava))
	require.Equal(t, ids(audience.Email, "e1"), got)
}

func TestMatchKeysCountsAttributesOnce(t *testing.T) {
	t.Parallel()
	var keys []audience.IdentifierID
	matchKeys(ids(audience.Email, "e1", audience.Phone, "p1", audience.FirstName, "ava", audience.Zip, "1"), googleMatch, func(k audience.IdentifierID) {
		keys = append(keys, k)
	})
	require.Len(t, keys, 3, "e-mail, phone, and one key for the attribute group")
	keys = nil
	matchKeys(ids(audience.Email, "e1"), googleMatch, func(k audience.IdentifierID) { keys = append(keys, k) })
	require.Len(t, keys, 1)
}

func TestRecordMatchingAttributes(t *testing.T) {
	t.Parallel()
	withEmail := ids(audience.Email, "e1", audience.FirstName, "ava", audience.LastName, "archer", audience.Zip, "10001")
	nameOnly := ids(audience.FirstName, "ava", audience.LastName, "archer", audience.Zip, "10001")

	var keys []audience.IdentifierID
	matchKeys(withEmail, metaMatch, func(k audience.IdentifierID) { keys = append(keys, k) })
	require.Len(t, keys, 1, "beside an e-mail, attributes are no key of their own")
	keys = nil
	matchKeys(nameOnly, metaMatch, func(k audience.IdentifierID) { keys = append(keys, k) })
	require.Len(t, keys, 1, "alone, they are one key")

	p := &plan{t: &Target{Info: connectors.DestinationInfo{Platform: meta.Platform()}}, desiredIDs: map[audience.IdentifierID]struct{}{}}
	// The e-mail stays with someone else: nothing of the record is sent,
	// since the name and zip alone would match that person too.
	matchKeys(ids(audience.Email, "e1"), metaMatch, func(k audience.IdentifierID) { p.desiredIDs[k] = struct{}{} })
	require.Empty(t, p.undesired(slices.Clone(withEmail)))
	// The same person under a new e-mail: only the old e-mail goes, never
	// the name and zip that would match the new record too.
	p.desiredIDs = map[audience.IdentifierID]struct{}{}
	matchKeys(ids(audience.Email, "e2", audience.FirstName, "ava", audience.LastName, "archer", audience.Zip, "10001"), metaMatch,
		func(k audience.IdentifierID) { p.desiredIDs[k] = struct{}{} })
	require.Equal(t, ids(audience.Email, "e1"), p.undesired(slices.Clone(withEmail)))
	// A name-only record whose twin with an e-mail stays is still removed.
	require.Equal(t, nameOnly, p.undesired(slices.Clone(nameOnly)))
}
