package uploadfile_test

import (
	"fmt"
	"os"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors/uploadfile"
	"github.com/audiencesync/audiencesync/platform/google"
)

// A Google Customer Match file with hashed e-mail and phone, and the
// country and postal code in clear. The hashes are of made-up values.
func ExampleNewWriter() {
	w, err := uploadfile.NewWriter(os.Stdout, google.Platform(), []audience.Kind{audience.Email, audience.Phone, audience.Country, audience.Zip})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = w.Write([]audience.Identifier{
		{Kind: audience.Email, Value: "b5fc85e55755f9e0d030a10ab4429b6b2944855f9a0d60077fe832becbc41d72", Hashed: true},
		{Kind: audience.Country, Value: "US"},
		{Kind: audience.Zip, Value: "62701"},
	})
	if err := w.Flush(); err != nil {
		fmt.Println(err)
	}
	// Output:
	// Email,Phone,Country,Zip
	// b5fc85e55755f9e0d030a10ab4429b6b2944855f9a0d60077fe832becbc41d72,,US,62701
}
