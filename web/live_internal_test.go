package web

import "testing"

// starterText words each of state.Run.StartedBy's forms; an unknown one
// is shown as recorded, and "" stays "" (the page says "not recorded").
func TestStarterText(t *testing.T) {
	t.Parallel()
	for by, want := range map[string]string{
		"schedule":      "schedule",
		"catch-up":      "catch-up at start",
		"cli":           "command line",
		"api":           "API",
		"api:ci-deploy": "ci-deploy (API)",
		"web":           "web (loopback, no tokens)",
		"web:ops":       "ops (web)",
		"web:":          "web:",
		"later-word":    "later-word",
		"":              "",
	} {
		if got := starterText(by); got != want {
			t.Errorf("starterText(%q) = %q, want %q", by, got, want)
		}
	}
}
