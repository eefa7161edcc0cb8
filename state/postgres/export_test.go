package postgres

import "github.com/audiencesync/audiencesync/internal/pgtest"

// PGServer is the throw-away server TestMain started (nil without
// PostgreSQL), for the external tests.
func PGServer() *pgtest.Server { return pg }
