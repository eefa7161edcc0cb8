package hubspot

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDecodeIsLenientWhereHubSpotIsLoose(t *testing.T) {
	t.Parallel()
	l, err := decodeList([]byte(`{"listId":7,"name":"B","size":"12"}`))
	require.NoError(t, err, "an unwrapped list, numeric id, size as a string")
	require.Equal(t, flexString("7"), l.ListID)
	require.Equal(t, int64(12), l.size())
	l, err = decodeList([]byte(`{"list":{"listId":"1","additionalProperties":{"hs_list_size":"25"}}}`))
	require.NoError(t, err)
	require.Equal(t, int64(25), l.size(), "the size among additional properties")
	l, err = decodeList([]byte(`{"list":{"listId":"1"}}`))
	require.NoError(t, err)
	require.Equal(t, int64(-1), l.size(), "no size: nothing is declared")

	found, missing, err := decodeBatch([]byte(`{"results":[{"id":5,"properties":{"email":"user0001@example.com","phone":null,"n":5}}]}`))
	require.NoError(t, err)
	require.Empty(t, missing)
	require.Equal(t, flexString("5"), found[0].Properties["n"])
	require.Equal(t, flexString(""), found[0].Properties["phone"])
}

func TestDecodeIsStrictWhereMembersCouldBeLost(t *testing.T) {
	t.Parallel()
	_, err := decodeMemberships([]byte(`{"results":[{"recordId":"1"}],"paging":{"next":{}}}`))
	require.ErrorContains(t, err, "no after cursor", "a next page that cannot be fetched")
	_, err = decodeMemberships([]byte(`{"results":[{"recordId":null}]}`))
	require.ErrorContains(t, err, "no recordId")
	_, _, err = decodeBatch([]byte(`{"results":[],"errors":[{"category":"VALIDATION_ERROR","message":"Property x does not exist"}]}`))
	require.ErrorContains(t, err, "VALIDATION_ERROR", "only OBJECT_NOT_FOUND is a per-contact answer")
	_, missing, err := decodeBatch([]byte(`{"results":[],"errors":[{"category":"OBJECT_NOT_FOUND","context":{"ids":["1","2"]}}]}`))
	require.NoError(t, err)
	require.Equal(t, []string{"1", "2"}, missing)
	_, err = decodeIDMapping([]byte(`{"legacyListId":"1"}`))
	require.Error(t, err)
	require.True(t, decodeError([]byte(`{"policyName":"daily"}`)).daily())
	require.False(t, decodeError([]byte(`{"policyName":"TEN_SECONDLY_ROLLING","message":"not the daily limit"}`)).daily())
	require.True(t, decodeError([]byte(`{"category":"RATE_LIMITS","message":"You have reached your daily limit."}`)).daily(), "a body without policyName")
	require.False(t, decodeError([]byte(`{"category":"RATE_LIMITS","message":"You have reached your secondly limit."}`)).daily())
}
