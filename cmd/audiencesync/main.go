// Command audiencesync keeps ad platforms' customer-match audiences in step
// with a CRM. See the README for the commands.
package main

import (
	"os"

	"github.com/audiencesync/audiencesync/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }
