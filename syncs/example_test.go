package syncs_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/audiencesync/audiencesync/syncs"
)

// Open a service on a config and list its syncs. Open reads only the
// file: the state store is opened, and the sandbox started, by the first
// call that needs them (Run, Plan, Runs, Report, Check).
func ExampleOpen() {
	ctx := context.Background()
	svc, err := syncs.Open(ctx, syncs.Options{ConfigPath: "../configs/quickstart.yaml", SkipSecrets: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer svc.Close()
	for _, s := range svc.Syncs() {
		fmt.Printf("%s: %s -> %s\n", s.Name, s.Source, strings.Join(s.Destinations, ", "))
	}
	// A run would be:
	//
	//	rep, err := svc.Run(ctx, "cart-abandoners", syncs.RunOptions{Wait: 10 * time.Minute})
	//
	// which waits up to ten minutes for a run of the same sync elsewhere
	// to end, and fails with a *syncs.BusyError naming it after that.

	// Output:
	// cart-abandoners: crm_export -> google, meta, x, linkedin, mailchimp, exports
	// newsletter-subscribers: hubspot -> google, meta, x
}
