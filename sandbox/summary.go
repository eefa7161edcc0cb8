package sandbox

import (
	"fmt"
	"strings"
)

// Summary is a printable description of the sandbox at baseURL: its
// endpoints, the credentials it accepts, and the fault spec in force.
func (s *Server) Summary(baseURL string) string {
	base := strings.TrimSuffix(baseURL, "/")
	var b strings.Builder
	fmt.Fprintf(&b, "audiencesync sandbox listening on %s (local replicas; no real audience is touched)\n\n", base)
	for _, r := range s.replicas {
		if d, ok := r.(Describer); ok {
			b.WriteString(d.Describe(base))
			b.WriteByte('\n')
		}
	}
	fmt.Fprintf(&b, "Inspect: GET %s/_sandbox/state[?members=1]   Reset: POST %s/_sandbox/reset\n", base, base)
	spec := s.faults.String()
	if spec == "" {
		spec = "none"
	}
	fmt.Fprintf(&b, "Faults:  %s   (change: POST %s/_sandbox/faults)\n", spec, base)
	if s.opts.Latency > 0 {
		fmt.Fprintf(&b, "Latency: +%s per request\n", s.opts.Latency)
	}
	return b.String()
}
