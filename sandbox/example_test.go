package sandbox_test

import (
	"fmt"
	"net/http/httptest"

	"github.com/audiencesync/audiencesync/platform/google"
	"github.com/audiencesync/audiencesync/sandbox"
	"github.com/audiencesync/audiencesync/sandbox/fault"
	"github.com/audiencesync/audiencesync/sandbox/googledm"
)

// A test points its connectors at an httptest server running the sandbox,
// with faults scripted so retry paths run deterministically, and then
// checks what each platform holds.
func ExampleNew() {
	srv := sandbox.New(sandbox.Options{
		Faults: fault.MustParse("google.ingest:429*1,meta.users:613*1,x.users:500@0.1,seed=7"),
	})
	ts := httptest.NewServer(srv)
	defer ts.Close()

	list := sandbox.ReplicaOf[*googledm.Server](srv).CreateList("1234567890", "Cart abandoners")
	// ... run a sync with endpoint ts.URL and creds ...
	fmt.Println(google.ReplicaToken, len(srv.Members("google", list)))
	// Output: sandbox-google-token 0
}
