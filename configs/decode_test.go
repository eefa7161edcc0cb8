package configs_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"go.yaml.in/yaml/v3"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/configs"
	"github.com/audiencesync/audiencesync/connectors"
)

// richSettings has the shapes of settings connectors may use beyond the
// fakes': an inline struct pointer, text-unmarshalled values, untyped
// values, and secrets in lists and maps.
type richSettings struct {
	*RichCommon `yaml:",inline"`
	Level       level                  `yaml:"level"`
	Extra       any                    `yaml:"extra"`
	Keys        []auth.Secret          `yaml:"keys"`
	ByName      map[string]auth.Secret `yaml:"by_name"`
	Enabled     bool                   `yaml:"enabled"`
	Ratio       float64                `yaml:"ratio"`
	Count       uint                   `yaml:"count"`
	Untagged    string
	Skipped     string `yaml:"-"`
}

// RichCommon is inlined through a pointer.
type RichCommon struct {
	Endpoint string      `yaml:"endpoint"`
	Token    auth.Secret `yaml:"token"`
}

// level is read from text: low or high.
type level int

func (l *level) UnmarshalText(b []byte) error {
	switch string(b) {
	case "low":
		*l = 1
	case "high":
		*l = 2
	default:
		return fmt.Errorf("unknown level %q", b)
	}
	return nil
}

// rawSettings decodes itself.
type rawSettings struct{ Got map[string]string }

func (r *rawSettings) UnmarshalYAML(n *yaml.Node) error {
	if err := n.Decode(&r.Got); err != nil {
		return errors.New("raw settings must be a mapping of strings")
	}
	return nil
}

func richRegistry() *connectors.Registry {
	reg := testRegistry().Clone()
	for typ, settings := range map[string]func() any{
		"rich": func() any { return &richSettings{} },
		"raw":  func() any { return &rawSettings{} },
	} {
		reg.Register(connectors.Spec{
			Type:     typ,
			Role:     connectors.RoleDestination,
			Settings: settings,
			NewDestination: func(any, connectors.Env) (connectors.Destination, error) {
				return nil, errors.New("not built in config tests")
			},
		})
	}
	return reg
}

// withConnection returns minimal with one more connection, written at
// line 9.
func withConnection(conn string) string {
	return strings.Replace(minimal, "syncs:", conn+"syncs:", 1)
}

func TestParseSettingsShapes(t *testing.T) {
	t.Parallel()
	data := withConnection(`  other:
    type: rich
    endpoint: http://localhost
    token: ${env:T0}
    level: high
    extra: {a: [1, 2]}
    keys:
      - ${env:T1}
      - ${env:T2}
    by_name:
      x: ${env:T3}
    enabled: true
    ratio: 0.5
    count: 3
    untagged: yes
  raw:
    type: raw
    anything: goes
`)
	vars := map[string]string{"T0": "t0", "T1": "t1", "T2": "t2", "T3": "t3"}
	cfg, err := configs.Parse([]byte(data), "test.yaml", "/cfg", richRegistry(), configs.LoadOptions{LookupEnv: env(vars)})
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.Connections["other"].Settings.(*richSettings)
	if got.RichCommon == nil || got.Endpoint != "http://localhost" || got.Token.Reveal() != "t0" {
		t.Errorf("inline pointer struct = %+v", got.RichCommon)
	}
	if got.Level != 2 || !cmp.Equal(got.Extra, map[string]any{"a": []any{1, 2}}) || !got.Enabled || got.Ratio != 0.5 || got.Count != 3 || got.Untagged != "yes" {
		t.Errorf("settings = %+v", got)
	}
	if len(got.Keys) != 2 || got.Keys[0].Reveal() != "t1" || got.Keys[1].Reveal() != "t2" || got.ByName["x"].Reveal() != "t3" {
		t.Errorf("secrets in lists and maps were not resolved")
	}
	if raw := cfg.Connections["raw"].Settings.(*rawSettings); !cmp.Equal(raw.Got, map[string]string{"anything": "goes"}) {
		t.Errorf("self-decoding settings got %v, want their keys without type", raw.Got)
	}
}

func TestParseSettingsProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		conn string
		env  map[string]string
		want []string
	}{
		{
			name: "wrong types",
			conn: "  other:\n    type: rich\n    enabled: maybe\n    ratio: half\n    count: -1\n    level: medium\n    keys: x\n",
			want: []string{
				`test.yaml:11: connection "other" enabled: must be true or false, not "maybe"`,
				`test.yaml:12: connection "other" ratio: must be a number, not "half"`,
				`test.yaml:13: connection "other" count: must be a whole number, 0 or more, not "-1"`,
				`test.yaml:14: connection "other" level: unknown level "medium"`,
				`test.yaml:15: connection "other" keys: must be a list, not "x"`,
			},
		},
		{
			name: "unknown keys list inline and untagged fields",
			conn: "  other:\n    type: rich\n    skipped: x\n",
			want: []string{`test.yaml:11: unknown key "skipped" in connection "other" (known: type, endpoint, token, level, extra, keys, by_name, enabled, ratio, count, untagged)`},
		},
		{
			name: "secrets in lists and maps",
			conn: "  other:\n    type: rich\n    keys:\n      - ${env:T1}\n    by_name:\n      x: ${env:T3}\n",
			want: []string{
				// Secrets in maps are reported at the connection's line.
				`test.yaml:9: connection "other" by_name x: environment variable T3 is not set`,
				`test.yaml:12: connection "other" keys[0]: environment variable T1 is not set`,
			},
		},
		{
			name: "self-decoding settings fail",
			conn: "  raw:\n    type: raw\n    a: [1]\n",
			want: []string{`test.yaml:10: connection "raw": raw settings must be a mapping of strings`},
		},
		{
			name: "long values are cut in messages",
			conn: "  other:\n    type: rich\n    ratio: " + strings.Repeat("x", 50) + "\n",
			want: []string{`test.yaml:11: connection "other" ratio: must be a number, not "` + strings.Repeat("x", 40) + `…"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := configs.Parse([]byte(withConnection(tt.conn)), "test.yaml", "/cfg", richRegistry(), configs.LoadOptions{LookupEnv: env(tt.env)})
			var cerr *configs.Error
			if !errors.As(err, &cerr) {
				t.Fatalf("Parse error = %v, want *configs.Error", err)
			}
			if len(cerr.Problems) != len(tt.want) {
				t.Fatalf("problems:\n%v\nwant %d", err, len(tt.want))
			}
			for i, p := range cerr.Problems {
				if !strings.HasPrefix(p.String(), tt.want[i]) {
					t.Errorf("problem %d:\n got %s\nwant %s", i, p, tt.want[i])
				}
			}
		})
	}
}
