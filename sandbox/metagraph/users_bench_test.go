package metagraph

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	fb "github.com/huandu/facebook/v2"

	"github.com/audiencesync/audiencesync/platform/meta"
)

// usersBody is a users request as the connector sends it through
// huandu/facebook: a form body whose payload holds rows of six hashed keys.
// Every cell is a synthetic digest.
func usersBody(tb testing.TB, rows int) []byte {
	tb.Helper()
	keys := []string{"EMAIL", "PHONE", "FN", "LN", "ZIP", "COUNTRY"}
	data := make([][]string, rows)
	for i := range data {
		data[i] = make([]string, len(keys))
		for j, k := range keys {
			data[i][j] = sha(fmt.Sprintf("member-%d-%s", i, k))
		}
	}
	payload, err := json.Marshal(struct {
		Schema []string   `json:"schema"`
		Data   [][]string `json:"data"`
	}{keys, data})
	if err != nil {
		tb.Fatal(err)
	}
	var body bytes.Buffer
	params := fb.Params{"payload": string(payload), "access_token": meta.ReplicaToken, "appsecret_proof": AppsecretProof(meta.ReplicaToken)}
	if _, err := params.Encode(&body); err != nil {
		tb.Fatal(err)
	}
	return body.Bytes()
}

// BenchmarkParseUsersRequest reads one full users request: the form body,
// the payload and every row's identifiers. It is most of what the replica
// spends on an upload.
func BenchmarkParseUsersRequest(b *testing.B) {
	body := usersBody(b, MaxRowsPerRequest)
	r := httptest.NewRequest(http.MethodPost, "/"+meta.ReplicaVersion+"/23850000000000001/users", nil)
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	r.ContentLength = int64(len(body))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		r.Body = io.NopCloser(bytes.NewReader(body))
		params, gerr := readParams(r)
		if gerr != nil {
			b.Fatal(gerr)
		}
		up, gerr := parsePayload(params.Get("payload"))
		if gerr != nil {
			b.Fatal(gerr)
		}
		if up.total != MaxRowsPerRequest || up.invalid != 0 {
			b.Fatalf("read %d rows, %d invalid", up.total, up.invalid)
		}
	}
}
