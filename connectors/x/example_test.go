package x_test

import (
	"context"
	"fmt"
	"net/http/httptest"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
	"github.com/audiencesync/audiencesync/connectors/x"
	"github.com/audiencesync/audiencesync/sandbox"
)

// A connection with sandbox: true and an endpoint talks to a sandbox with
// the sandbox's own credentials and account. The engine normally makes
// these calls; identifiers arrive hashed by the x profile.
func Example() {
	srv := sandbox.New(sandbox.Options{})
	ts := httptest.NewServer(srv)
	defer ts.Close()

	d, err := x.New(&x.Settings{Settings: platformconn.Settings{Sandbox: true, Endpoint: ts.URL}}, connectors.Env{})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer d.Close()
	ctx := context.Background()
	aud, err := d.Ensure(ctx, connectors.AudienceSpec{Name: "Cart abandoners", Create: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	res, err := d.Apply(ctx, aud, connectors.Batch{Op: connectors.OpAdd, Seq: 1, Members: []connectors.Upload{{
		Identifiers: []audience.Identifier{
			// sha256("adsapi"), the handle in X's own normalisation example.
			{Kind: audience.Handle, Value: "49e0be2aeccfb51a8dee4c945c8a70a9ac500cf6f5cb08112575f74db9b1470d", Hashed: true},
			{Kind: audience.ExternalID, Value: "crm-7"},
		},
	}}})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println("created:", aud.Created, "rejected:", len(res.Rejected), "operations:", res.Platform["success_count"])
	fmt.Println(srv.Members("x", aud.ID))
	// Output:
	// created: true rejected: 0 operations: 1
	// [49e0be2aeccfb51a8dee4c945c8a70a9ac500cf6f5cb08112575f74db9b1470d partner_user_id:crm-7]
}
