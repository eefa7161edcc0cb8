package configs_test

import (
	"errors"
	"os"
	"testing"

	"github.com/audiencesync/audiencesync/configs"
)

// FuzzParse checks that Parse never panics and always returns either a
// config that keeps the rules or an *Error whose problems are located.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"testdata/full.yaml", "testdata/example.yaml"} {
		data, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(minimal))
	f.Add([]byte("x-a: &a {<<: [*a]}\n"))
	f.Add([]byte("syncs: [~, {name: a, destinations: [~]}]\n"))
	f.Add([]byte("a: &a [x, x]\nb: &b [*a, *a]\nc: [*b, *b]\n"))
	f.Add([]byte("connections: {c: {type: fakedst, <<: {account: 1}, oauth: {client_secret: x}}}\n"))
	f.Add([]byte("syncs:\n  - name: s\n    schedule: \"*/0 * * * *\"\n"))
	reg := testRegistry()
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := configs.Parse(data, "fuzz.yaml", "/fuzz", reg, configs.LoadOptions{SkipSecrets: true})
		if err != nil {
			var cerr *configs.Error
			if !errors.As(err, &cerr) || len(cerr.Problems) == 0 {
				t.Fatalf("error %v is not an *Error with problems", err)
			}
			if cfg != nil {
				t.Fatal("config returned with an error")
			}
			for _, p := range cerr.Problems {
				if p.File != "fuzz.yaml" || p.Line < 0 || p.Msg == "" {
					t.Fatalf("badly located problem %+v", p)
				}
			}
			return
		}
		if len(cfg.Syncs) == 0 {
			t.Fatal("config without syncs")
		}
		for _, s := range cfg.Syncs {
			if s.Name == "" || len(s.Destinations) == 0 || len(s.Source.Kinds) == 0 {
				t.Fatalf("sync breaks the rules: %+v", s)
			}
			if c := cfg.Connections[s.Source.Connection]; c == nil || c.Settings == nil {
				t.Fatalf("sync %s reads from a missing connection", s.Name)
			}
		}
	})
}
