package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"
)

// shutdownTimeout bounds how long a stopping sandbox waits for requests in
// flight.
const shutdownTimeout = 5 * time.Second

// ListenAndServe runs a sandbox on addr until ctx ends. It writes the
// accepted credentials and endpoints to logw when it starts, then one line
// per request. With opts.StatePath set it loads the state file first (see
// Open) and writes it last. A cancelled ctx is a clean stop and returns
// nil.
func ListenAndServe(ctx context.Context, addr string, opts Options, logw io.Writer) error {
	if logw == nil {
		logw = io.Discard
	}
	if opts.Log == nil {
		opts.Log = logw
	}
	s, err := Open(opts)
	if err != nil {
		return err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return errors.Join(fmt.Errorf("sandbox: listen on %s: %w", addr, err), s.Close())
	}
	fmt.Fprint(logw, s.Summary("http://"+ln.Addr().String()))
	if opts.StatePath != "" {
		fmt.Fprintf(logw, "State:   %s (saved after every change; delete it to start empty)\n", opts.StatePath)
	}
	hs := serve(s, ln)
	select {
	case <-hs.exited:
	case <-ctx.Done():
	}
	return hs.stop(context.WithoutCancel(ctx))
}

// StartInProcess starts a sandbox on a free port of 127.0.0.1 and returns
// its base URL (http://127.0.0.1:PORT, no trailing slash) for connections
// with `sandbox: true`. ctx bounds the start only: the sandbox serves until
// stop is called, which shuts it down gracefully and writes the state file
// (opts.StatePath). stop may be called more than once.
func StartInProcess(ctx context.Context, opts Options) (baseURL string, stop func() error, err error) {
	s, err := Open(opts)
	if err != nil {
		return "", nil, err
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, errors.Join(fmt.Errorf("sandbox: listen on 127.0.0.1: %w", err), s.Close())
	}
	hs := serve(s, ln)
	stop = sync.OnceValue(func() error { return hs.stop(context.WithoutCancel(ctx)) })
	return "http://" + ln.Addr().String(), stop, nil
}

// httpSandbox is a sandbox served by a net/http server.
type httpSandbox struct {
	sb     *Server
	srv    *http.Server
	exited chan struct{} // closed when Serve returns
	err    error         // what Serve returned; read after exited
}

func serve(s *Server, ln net.Listener) *httpSandbox {
	hs := &httpSandbox{sb: s, srv: &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}, exited: make(chan struct{})}
	go func() {
		defer close(hs.exited)
		hs.err = hs.srv.Serve(ln)
	}()
	return hs
}

// stop shuts the server down, waiting up to shutdownTimeout for requests in
// flight, then writes the state file. ctx carries values only.
func (hs *httpSandbox) stop(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, shutdownTimeout)
	defer cancel()
	var errs []error
	if err := hs.srv.Shutdown(ctx); err != nil {
		errs = append(errs, fmt.Errorf("sandbox: shut down: %w", err))
		_ = hs.srv.Close()
	}
	<-hs.exited
	if !errors.Is(hs.err, http.ErrServerClosed) {
		errs = append(errs, fmt.Errorf("sandbox: serve: %w", hs.err))
	}
	// Close after the last request: a change made later would not be saved.
	errs = append(errs, hs.sb.Close())
	return errors.Join(errs...)
}
