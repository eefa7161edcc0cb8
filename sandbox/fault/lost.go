package fault

import (
	"context"
	"net/http"
)

// A lost fault serves the request — the platform does the work — and then
// drops the connection instead of answering, as when a connection resets
// after the platform committed a change: the client cannot tell whether
// its request was applied. It needs the request to come through Serve (or
// Handler), which sandbox.Server does for every replica; a replica served
// on its own without it drops the request unserved, as reset does.

// lossKey keys the *loss of a request in its context.
type lossKey struct{}

// loss is one request's answer, discarded once Intercept decides it is
// lost.
type loss struct {
	http.ResponseWriter
	lost    bool
	scratch http.Header
}

// Header returns the real header until the answer is lost, then a scratch
// one.
func (l *loss) Header() http.Header {
	if l.lost {
		if l.scratch == nil {
			l.scratch = http.Header{}
		}
		return l.scratch
	}
	return l.ResponseWriter.Header()
}

// WriteHeader passes the status on unless the answer is lost.
func (l *loss) WriteHeader(code int) {
	if !l.lost {
		l.ResponseWriter.WriteHeader(code)
	}
}

// Write passes the body on unless the answer is lost.
func (l *loss) Write(b []byte) (int, error) {
	if l.lost {
		return len(b), nil
	}
	return l.ResponseWriter.Write(b)
}

// Unwrap gives http.ResponseController the connection (for reset faults).
func (l *loss) Unwrap() http.ResponseWriter { return l.ResponseWriter }

// Serve serves r with h so that a lost fault Intercept decides for it is
// applied: h runs to the end, its answer is discarded and the connection
// dropped.
func Serve(w http.ResponseWriter, r *http.Request, h http.Handler) {
	l := &loss{ResponseWriter: w}
	h.ServeHTTP(l, r.WithContext(context.WithValue(r.Context(), lossKey{}, l)))
	if l.lost {
		DropConnection(w)
	}
}

// Handler is h served through Serve.
func Handler(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { Serve(w, r, h) })
}

// markLost marks r's answer lost and reports whether Serve will drop it.
func markLost(r *http.Request) bool {
	l, ok := r.Context().Value(lossKey{}).(*loss)
	if ok {
		l.lost = true
	}
	return ok
}
