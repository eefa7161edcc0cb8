package syncs

import (
	"context"
	"path/filepath"
	"strings"
	"sync"

	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/configs"
	"github.com/audiencesync/audiencesync/sandbox"
)

// sandboxHost runs the in-process replica of the platform APIs that
// `sandbox: true` connections talk to. It starts on first use and stops
// when the last run (or check) that might use it ends, writing its state
// file then: its audiences persist beside the state file, and a process
// that takes a sync's lock after this one starts from what this one left.
type sandboxHost struct {
	statePath string
	log       *zap.Logger

	mu     sync.Mutex
	users  int
	url    string
	stop   func() error // nil while not started
	closed bool
}

// use registers a user of the sandbox until done is called; the last done
// stops a started sandbox and returns what stopping it returned.
func (h *sandboxHost) use() (done func() error) {
	h.mu.Lock()
	h.users++
	h.mu.Unlock()
	return sync.OnceValue(func() error {
		h.mu.Lock()
		defer h.mu.Unlock()
		h.users--
		if h.users > 0 {
			return nil
		}
		return h.stopLocked()
	})
}

// baseURL returns the sandbox's URL, starting it if needed; it is what
// connectors.Env.Sandbox calls.
func (h *sandboxHost) baseURL(ctx context.Context) (string, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return "", ErrClosed
	}
	if h.stop != nil {
		return h.url, nil
	}
	url, stop, err := sandbox.StartInProcess(ctx, sandbox.Options{StatePath: h.statePath})
	if err != nil {
		return "", err
	}
	h.url, h.stop = url, stop
	h.log.Info("in-process sandbox started", zap.String("url", url), zap.String("state", h.statePath))
	return url, nil
}

func (h *sandboxHost) stopLocked() error {
	if h.stop == nil {
		return nil
	}
	err := h.stop()
	h.url, h.stop = "", nil
	return err
}

// close stops the sandbox whoever still uses it; later uses fail.
func (h *sandboxHost) close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	return h.stopLocked()
}

// sandboxStatePath puts the sandbox's audiences beside the state database:
// audiencesync.db → audiencesync.sandbox.json.
func sandboxStatePath(cfg *configs.Config) string {
	p := cfg.State.Path
	if p == "" {
		p = filepath.Join(cfg.BaseDir, configs.DefaultStatePath)
	}
	return strings.TrimSuffix(p, filepath.Ext(p)) + ".sandbox.json"
}
