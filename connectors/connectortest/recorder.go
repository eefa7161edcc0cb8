package connectortest

import (
	"fmt"
	"slices"

	"github.com/audiencesync/audiencesync/audience"
)

// KeyedRecorder is the engine's side of a source read, for a source's own
// tests: members by key, rejections by reason, the lines seen and the
// count the source declared (connectors.DeclareCount). It refuses a line
// or a key handed over twice.
type KeyedRecorder struct {
	Members  map[string]audience.Member
	Rejected map[string]int
	Lines    map[int64]bool
	// Declared is the last declared count; -1 when none was.
	Declared int64
}

// NewKeyedRecorder returns an empty KeyedRecorder.
func NewKeyedRecorder() *KeyedRecorder {
	return &KeyedRecorder{Members: map[string]audience.Member{}, Rejected: map[string]int{}, Lines: map[int64]bool{}, Declared: -1}
}

// Emit records m.
func (r *KeyedRecorder) Emit(m *audience.Member) error {
	if r.Lines[m.Line] {
		return fmt.Errorf("line %d emitted twice", m.Line)
	}
	r.Lines[m.Line] = true
	if _, dup := r.Members[m.Key]; dup {
		return fmt.Errorf("key %s emitted twice", m.Key)
	}
	kept := *m
	kept.Attrs = slices.Clone(m.Attrs) // the source may reuse them, as the engine allows
	r.Members[m.Key] = kept
	return nil
}

// Reject records a rejection.
func (r *KeyedRecorder) Reject(reason string, line int64) {
	r.Lines[line] = true
	r.Rejected[reason]++
}

// Declare records the declared count.
func (r *KeyedRecorder) Declare(n int64) { r.Declared = n }

// Records is how many records were handed over, emitted or rejected.
func (r *KeyedRecorder) Records() int64 { return int64(len(r.Lines)) }

// ByField returns the members by the value of their field of kind k.
func (r *KeyedRecorder) ByField(k audience.Kind) map[string]audience.Member {
	out := map[string]audience.Member{}
	for _, m := range r.Members {
		out[m.Fields[k]] = m
	}
	return out
}
