package syncs

import (
	"path/filepath"

	"github.com/audiencesync/audiencesync/configs"
)

// spillDir is where runs put their spill files (engine.Engine.SpillDir):
// beside the SQLite state, on the disk sized for it, rather than in a
// temporary directory that may be a small RAM disk. A state on a server
// (state.dsn) has no directory here: the system's temporary directory.
func spillDir(cfg *configs.Config) string {
	if !cfg.State.DSN.IsZero() {
		return ""
	}
	p := cfg.State.Path
	if p == "" {
		p = filepath.Join(cfg.BaseDir, configs.DefaultStatePath)
	}
	return filepath.Dir(p)
}
