package syncs

import (
	"path/filepath"
	"testing"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/configs"
)

// TestSpillDirBesideState: runs spill beside the SQLite state, wherever
// the config puts it, and in the system's temporary directory for a
// state on a server.
func TestSpillDirBesideState(t *testing.T) {
	t.Parallel()
	base := filepath.Join("srv", "audiencesync")
	tests := []struct {
		name  string
		state configs.State
		want  string
	}{
		{"default path", configs.State{}, base},
		{"relative path", configs.State{Path: filepath.Join(base, "data", "state.db")}, filepath.Join(base, "data")},
		{"PostgreSQL", configs.State{DSN: auth.NewSecret("postgres://localhost/audiencesync")}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := spillDir(&configs.Config{BaseDir: base, State: tt.state}); got != tt.want {
				t.Fatalf("spillDir = %q, want %q", got, tt.want)
			}
		})
	}
}
