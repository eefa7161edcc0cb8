// Package deploy holds the deployment examples of docs/deploy.md — systemd
// units (systemd/), a Dockerfile and a compose file with PostgreSQL and two
// workers (docker/), Prometheus alert rules (prometheus/) — and the tests
// that keep them true to the CLI: every command and flag they pass exists,
// every secret they mount is declared, the config they mount validates,
// the backup unit's commands copy a state that opens, the alert rules name
// only exported metrics, and the static build needs no cgo.
package deploy
