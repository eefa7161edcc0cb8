package wire

import "testing"

func TestDescriptionLayout(t *testing.T) {
	t.Parallel()
	d := Description{
		API: "Example API", Base: "http://127.0.0.1:1", Call: "/v1/...",
		Credentials: [][2]string{{"access_token", "tok"}, {"consumer_secret", "sec"}},
		Notes:       []string{"(always expired: old)"},
	}
	want := "Example API               endpoint: http://127.0.0.1:1/  (call /v1/...)\n" +
		"  access_token:    tok\n" +
		"  consumer_secret: sec\n" +
		"  (always expired: old)\n"
	if got := d.String(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if got := (Description{API: "Bare", Base: "http://h"}).String(); got != "Bare                      endpoint: http://h/\n" {
		t.Errorf("without call or credentials: %q", got)
	}
}
