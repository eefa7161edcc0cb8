package segment_test

import (
	"testing"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/segment"
)

// FuzzFilter compiles arbitrary filters: a filter either compiles or
// says why with a CompileError, and one that compiles evaluates on
// members with and without their attributes without panicking, to a
// reason the report knows.
func FuzzFilter(f *testing.F) {
	for _, s := range []string{
		"visits >= 5", `crm_country in ["IT", "FR"] && vip`, "days_since(last_cart_at) <= 3 && purchased_at == nil",
		"hours_since(now()) > 1", `crm_country matches "^(I"`, "(visits ?? 0) / 0 > 1", "visits >=", "foo(",
	} {
		f.Add(s)
	}
	full := member("a", "IT", 7.0, now, now)
	empty := member("b", nil, nil, nil, nil)
	f.Fuzz(func(t *testing.T, src string) {
		_, err := segment.CompileFilter(src, attrs, now)
		if err != nil {
			return
		}
		p, err := segment.New(segment.Spec{Attributes: attrs, Segments: []segment.Def{{Name: "s", Filter: src}}}, now)
		if err != nil {
			t.Fatalf("a filter that compiles is refused by New: %v", err)
		}
		reasons := make([]string, 1)
		for _, m := range []audience.Member{full, empty} {
			p.Place(&m, audience.KeyFromSource(m.Key), reasons)
		}
	})
}
