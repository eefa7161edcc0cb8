package configs_test

import (
	"errors"
	"fmt"

	"github.com/audiencesync/audiencesync/configs"
)

func ExampleLoad() {
	// A real caller passes the registry of built-in connectors and leaves
	// LookupEnv nil to read the process environment.
	cfg, err := configs.Load("testdata/example.yaml", testRegistry(), configs.LoadOptions{
		LookupEnv: env(map[string]string{"ADS_TOKEN": "t0ken"}),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, s := range cfg.Syncs {
		fmt.Printf("sync %s at %q from %s (region %s)\n", s.Name, s.Schedule, s.Source.Connection, s.Source.DefaultRegion)
		for _, d := range s.Destinations {
			fmt.Printf("  to %s: audience %q, %d days, consent %v/%v, stop above %.0f%% removed\n",
				d.Name, d.Audience.Name, d.Audience.MembershipDays,
				d.DefaultConsent.AdUserData, d.DefaultConsent.AdPersonalization, s.Safety.MaxRemove()*100)
		}
	}
	fmt.Println("token:", cfg.Connections["ads"].Settings.(*fakeDestination).Token)
	// Output:
	// sync cart-abandoners at "0 */6 * * *" from crm_export (region US)
	//   to ads: audience "Cart abandoners", 540 days, consent granted/granted, stop above 20% removed
	// token: [redacted]
}

func ExampleError() {
	data := []byte(`connections:
  crm: {type: fakesrc, path: in.csv}
syncs:
  - name: Weekly Digest
    source: {connection: crm, fieldz: {email: email}}
    destinations: [{connection: crm}]
`)
	_, err := configs.Parse(data, "audiencesync.yaml", "", testRegistry(), configs.LoadOptions{SkipSecrets: true})
	var cerr *configs.Error
	if errors.As(err, &cerr) {
		for _, p := range cerr.Problems {
			fmt.Println(p)
		}
	}
	// Output:
	// audiencesync.yaml:4: sync name "Weekly Digest" is not a safe identifier: use lower-case letters, digits, '.', '_' or '-', starting with a letter or digit (the name keys state and reports)
	// audiencesync.yaml:5: unknown key "fieldz" in sync "Weekly Digest" source (known: connection, audience, key, default_region, fields, consent, attributes); did you mean "fields"?
	// audiencesync.yaml:6: sync "Weekly Digest" destination "crm": connection "crm" is a source (type fakesrc), not a destination
}
