package hubspot_test

import (
	"testing"

	"github.com/audiencesync/audiencesync/connectors/hubspot"
)

// FuzzDecode feeds arbitrary bytes to every decoder of HubSpot answers
// (lists, search, id mapping, memberships, batch reads, errors): none may
// panic, and what they accept must hold together (no member without a
// record id, no contact without an id).
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{"list":{"listId":"1","name":"A","processingType":"MANUAL","size":3,"objectTypeId":"0-1"}}`,
		`{"listId":7,"name":"B","size":"12"}`,
		`{"lists":[{"listId":"1","additionalProperties":{"hs_list_size":"25"}}],"hasMore":true,"offset":1,"total":3}`,
		`{"legacyListId":"1","listId":"3"}`,
		`{"results":[{"recordId":"202","membershipTimestamp":"2023-11-07T16:46:04.122Z"}],"paging":{"next":{"after":"AoJ"}},"total":2}`,
		`{"results":[{"recordId":null}]}`,
		`{"results":[],"paging":{"next":{}}}`,
		`{"status":"COMPLETE","results":[{"id":"1","properties":{"email":"user0001@example.com","phone":null,"n":5,"b":true}}]}`,
		`{"status":"COMPLETE","results":[],"errors":[{"status":"error","category":"OBJECT_NOT_FOUND","context":{"ids":["9"]}}]}`,
		`{"status":"error","errorType":"RATE_LIMIT","policyName":"DAILY","correlationId":"x"}`,
		`[1,2`, `null`, `{"list":null}`, `{"results":[{"id":{}}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		hubspot.DecodeAll(data)
	})
}
