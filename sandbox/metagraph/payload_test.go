package metagraph

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// The quick path for text rows and the strict path agree on what they
// accept and refuse.
func TestParsePayloadPaths(t *testing.T) {
	t.Parallel()
	h := strings.Repeat("ab", 32)
	tests := []struct {
		name    string
		payload string
		err     string // part of the error; "" when accepted
		ids     int
		invalid int
	}{
		{name: "text rows", payload: `{"schema":["EMAIL","PHONE"],"data":[["` + h + `",""],["","` + h + `"]]}`, ids: 2},
		{name: "malformed cell", payload: `{"schema":["EMAIL"],"data":[["x"],["` + h + `"]]}`, ids: 1, invalid: 1},
		{name: "null cell", payload: `{"schema":["EMAIL","PHONE"],"data":[["` + h + `",null]]}`, invalid: 1},
		{name: "number cell", payload: `{"schema":["EMAIL","PHONE"],"data":[["` + h + `",5]]}`, invalid: 1},
		{name: "single key", payload: `{"schema":"EMAIL_SHA256","data":["` + h + `"]}`, ids: 1},
		{name: "wrong width", payload: `{"schema":["EMAIL","PHONE"],"data":[["` + h + `"]]}`, err: "has 1 values"},
		{name: "unknown field", payload: `{"schema":["EMAIL"],"data":[["` + h + `"]],"extra":1}`, err: "payload is not valid"},
		{name: "field in another case", payload: `{"Schema":["EMAIL"],"data":[["` + h + `"]]}`, err: "payload is not valid"},
		{name: "no data", payload: `{"schema":["EMAIL"],"data":[]}`, err: "must not be empty"},
		{name: "app ids", payload: `{"schema":["EMAIL"],"data":[["` + h + `"]],"app_ids":["1"]}`, err: "app_ids"},
		{name: "not JSON", payload: `{"schema":`, err: "payload is not valid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			up, gerr := parsePayload(tt.payload)
			if tt.err != "" {
				require.NotNil(t, gerr)
				require.Contains(t, gerr.Message, tt.err)
				return
			}
			require.Nil(t, gerr)
			require.Len(t, up.ids, tt.ids)
			require.Equal(t, tt.invalid, up.invalid)
		})
	}
}
