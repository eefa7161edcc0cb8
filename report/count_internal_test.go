package report

import "testing"

func TestCountSaysOneInTheSingular(t *testing.T) {
	t.Parallel()
	for n, want := range map[int64]string{0: "0 members", 1: "1 member", 2: "2 members", 1917: "1917 members"} {
		if got := count(n, "member"); got != want {
			t.Errorf("count(%d) = %q, want %q", n, got, want)
		}
	}
}
