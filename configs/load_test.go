package configs_test

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/configs"
	"github.com/audiencesync/audiencesync/connectors"
)

func TestLoadFull(t *testing.T) {
	t.Parallel()
	cfg, err := configs.Load("testdata/full.yaml", testRegistry(), configs.LoadOptions{
		LookupEnv: env(map[string]string{"FAKE_API_KEY": "key-from-env", "FAKE_TOKEN": "token-from-env"}),
	})
	if err != nil {
		t.Fatal(err)
	}
	base, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Path != filepath.Join(base, "full.yaml") || cfg.BaseDir != base {
		t.Errorf("Path, BaseDir = %q, %q; want the absolute file and its directory", cfg.Path, cfg.BaseDir)
	}
	if want := filepath.Join(base, "state", "sync.db"); cfg.State.Path != want {
		t.Errorf("State.Path = %q, want %q (relative to the config)", cfg.State.Path, want)
	}

	crm := cfg.Connections["crm"]
	if crm == nil || crm.Name != "crm" || crm.Type != "fakesrc" || crm.Line != 8 || crm.Spec.Role != connectors.RoleSource || crm.Node == nil {
		t.Fatalf("connection crm = %+v", crm)
	}
	src, ok := crm.Settings.(*fakeSource)
	if !ok {
		t.Fatalf("crm settings are %T, want *fakeSource", crm.Settings)
	}
	if src.Path != "contacts.csv" || src.Timeout != 30*time.Second || src.Auth == nil || src.Auth.User != "sync-bot" {
		t.Errorf("crm settings = %+v", src)
	}
	if got := src.APIKey.Reveal(); got != "key-from-env" {
		t.Errorf("crm api_key = %q, want the value of FAKE_API_KEY", got)
	}
	if got := src.Auth.Token.Reveal(); got != "tok-from-file" {
		t.Errorf("crm auth token = %q, want the content of secrets/token.txt", got)
	}
	ads := cfg.Connections["ads"].Settings.(*fakeDestination)
	if ads.Token.Reveal() != "token-from-env" || ads.Account != "1234567890" || !cmp.Equal(ads.Scopes, []string{"audiences", "reports"}) {
		t.Errorf("ads settings = %+v", ads)
	}
	sandbox := cfg.Connections["sandbox_ads"].Settings.(*fakeDestination)
	if !sandbox.Sandbox || sandbox.Endpoint != "http://127.0.0.1:8089" || sandbox.OAuth.ClientID != "abc" {
		t.Errorf("sandbox_ads settings = %+v (inline and nested keys)", sandbox)
	}

	fraction, margin, no := 0.5, 14, false
	want := []*configs.Sync{
		{
			Name:     "cart-abandoners",
			Schedule: "0 */6 * * *",
			Line:     29,
			Source: configs.SourceRef{
				Connection:    "crm",
				Audience:      "abandoned carts",
				Key:           "contact_id",
				DefaultRegion: "US",
				Fields:        map[string]string{"email": "email", "PH": "phone", "given_name": "first_name", "last_name": "last_name"},
				Consent:       map[string]string{"ad_user_data": "consent_data", "ad_personalization": "consent_ads"},
				Kinds: map[audience.Kind]string{
					audience.Email: "email", audience.Phone: "phone",
					audience.FirstName: "first_name", audience.LastName: "last_name",
				},
				ConsentFields: connectors.ConsentFields{AdUserData: "consent_data", AdPersonalization: "consent_ads"},
			},
			Destinations: []*configs.Destination{
				{
					Name:              "ads",
					Connection:        "ads",
					Audience:          configs.AudienceSpec{Name: "Cart abandoners", MembershipDays: 540, Create: &no},
					Consent:           configs.ConsentDefault{AdUserData: "granted", AdPersonalization: "denied"},
					DefaultConsent:    audience.Consent{AdUserData: audience.ConsentGranted, AdPersonalization: audience.ConsentDenied},
					RefreshMarginDays: &margin,
					BatchSize:         5000,
					Concurrency:       2,
					Line:              39,
				},
				{Name: "sandbox-copy", Connection: "sandbox_ads", Audience: configs.AudienceSpec{ID: "42"}, Line: 47},
			},
			Safety: configs.Safety{MaxRemoveFraction: &fraction, AllowEmpty: true},
		},
		{
			Name:     "nightly.vip_list",
			Schedule: "@every 6h",
			Line:     53,
			Source: configs.SourceRef{
				Connection: "crm",
				Fields:     map[string]string{"email": "email"},
				Kinds:      map[audience.Kind]string{audience.Email: "email"},
			},
			Destinations: []*configs.Destination{{Name: "ads", Connection: "ads", Line: 59}},
		},
	}
	if diff := cmp.Diff(want, cfg.Syncs); diff != "" {
		t.Errorf("syncs (-want +got):\n%s", diff)
	}

	// Defaults the engine reads through methods.
	vip := cfg.Sync("nightly.vip_list")
	if vip == nil {
		t.Fatal(`Sync("nightly.vip_list") = nil`)
	}
	if vip.Safety.MaxRemove() != configs.DefaultMaxRemoveFraction || vip.Destinations[0].RefreshMargin() != configs.DefaultRefreshMarginDays*24*time.Hour || !vip.Destinations[0].Audience.CreateAllowed() {
		t.Errorf("defaults not applied: %+v", vip)
	}
	if got := cfg.Syncs[0].Destinations[0].RefreshMargin(); got != 14*24*time.Hour {
		t.Errorf("RefreshMargin = %v, want 14 days", got)
	}
}

// minimal is the smallest valid config; cases below change one thing.
const minimal = `connections:
  crm:
    type: fakesrc
    path: in.csv
  ads:
    type: fakedst
    account: "123"
    sandbox: true
syncs:
  - name: s1
    source:
      connection: crm
      fields: {email: email}
    destinations:
      - connection: ads
`

// TestDefaultRegionUK checks that UK, as CRMs write it, is read as GB.
func TestDefaultRegionUK(t *testing.T) {
	t.Parallel()
	yaml := strings.Replace(minimal, "      connection: crm", "      connection: crm\n      default_region: uk", 1)
	cfg, err := configs.Parse([]byte(yaml), "test.yaml", "/cfg", testRegistry(), configs.LoadOptions{SkipSecrets: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Syncs[0].Source.DefaultRegion; got != "GB" {
		t.Errorf("DefaultRegion = %q, want GB", got)
	}
}

func TestParseDefaults(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg, err := configs.Parse([]byte(minimal), "minimal.yaml", dir, testRegistry(), configs.LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Path != "minimal.yaml" || cfg.BaseDir != dir {
		t.Errorf("Path, BaseDir = %q, %q", cfg.Path, cfg.BaseDir)
	}
	if want := filepath.Join(dir, configs.DefaultStatePath); cfg.State.Path != want {
		t.Errorf("State.Path = %q, want %q", cfg.State.Path, want)
	}
	d := cfg.Syncs[0].Destinations[0]
	if d.Name != "ads" || d.DefaultConsent != (audience.Consent{}) || d.Line != 15 || cfg.Syncs[0].Line != 10 {
		t.Errorf("destination = %+v", d)
	}
}

func TestParseProblems(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		yaml string
		want []string // each problem, in order, as printed
	}{
		{
			name: "unknown key in sync source",
			yaml: strings.Replace(minimal, "fields:", "fieldz:", 1),
			want: []string{
				`test.yaml:13: unknown key "fieldz" in sync "s1" source (known: connection, audience, key, default_region, fields, consent, attributes); did you mean "fields"?`,
			},
		},
		{
			name: "unknown top-level key",
			yaml: minimal + "sync: {}\n",
			want: []string{`test.yaml:16: unknown key "sync" at the top level (known: state, connections, syncs, serve, alerts); did you mean "syncs"?`},
		},
		{
			name: "unknown key in connection lists settings keys",
			yaml: strings.Replace(minimal, "    sandbox: true", "    sandbox: true\n    acount: x", 1),
			want: []string{`test.yaml:9: unknown key "acount" in connection "ads" (known: type, sandbox, endpoint, account, token, oauth, scopes, max_batch); did you mean "account"?`},
		},
		{
			name: "unknown key in nested settings struct",
			yaml: strings.Replace(minimal, "    path: in.csv", "    path: in.csv\n    auth:\n      usr: bot", 1),
			want: []string{`test.yaml:6: unknown key "usr" in connection "crm" auth (known: user, token); did you mean "user"?`},
		},
		{
			name: "unknown key in destination audience",
			yaml: minimal + "        audience: {name: A, days: 3}\n",
			want: []string{`test.yaml:16: unknown key "days" in sync "s1" destination "ads" audience (known: id, name, description, membership_days, create, list_id, tag)`},
		},
		{
			name: "unknown key in sync safety",
			yaml: minimal + "    safety: {max_remove: 0.1}\n",
			want: []string{`test.yaml:16: unknown key "max_remove" in sync "s1" safety (known: max_remove_fraction, allow_empty, max_run_duration)`},
		},
		{
			name: "wrong scalar type",
			yaml: minimal + "        batch_size: lots\n",
			want: []string{`test.yaml:16: sync "s1" destination "ads" batch_size: must be a whole number, not "lots"`},
		},
		{
			name: "wrong type in settings",
			yaml: strings.Replace(minimal, "    path: in.csv", "    path: in.csv\n    timeout: 5", 1),
			want: []string{`test.yaml:5: connection "crm" timeout: must be a duration such as 90s or 6h, not "5"`},
		},
		{
			name: "list where a mapping belongs",
			yaml: strings.Replace(minimal, "fields: {email: email}", "fields: [email]", 1),
			want: []string{`test.yaml:13: sync "s1" source fields: must be a mapping, not a list`},
		},
		{
			name: "secret written as a mapping",
			yaml: strings.Replace(minimal, "    sandbox: true", "    sandbox: true\n    token: {env: TOKEN}", 1),
			want: []string{`test.yaml:9: connection "ads" token: a secret must be a string such as ${env:NAME} or ${file:PATH}`},
		},
		{
			name: "duplicate key",
			yaml: strings.Replace(minimal, "  - name: s1", "  - name: s1\n    name: s2", 1),
			want: []string{`test.yaml:11: duplicate key "name" in sync "s1" (first at line 10)`},
		},
		{
			name: "duplicate connection",
			yaml: strings.Replace(minimal, "syncs:", "  crm:\n    type: fakesrc\nsyncs:", 1),
			want: []string{`test.yaml:9: duplicate key "crm" in connections (first at line 2)`},
		},
		{
			name: "unknown connection type",
			yaml: strings.Replace(minimal, "type: fakedst", "type: fakedest", 1),
			want: []string{`test.yaml:6: connection "ads": unknown connection type "fakedest" (known: [fakedst fakesrc])`},
		},
		{
			name: "connection without type",
			yaml: strings.Replace(minimal, "    type: fakesrc\n", "", 1),
			want: []string{`test.yaml:2: connection "crm" has no type: add type: with one of fakedst, fakesrc`},
		},
		{
			name: "connection settings fail validation",
			yaml: strings.Replace(strings.Replace(minimal, "    path: in.csv\n", "", 1), `    account: "123"`+"\n    sandbox: true\n", "", 1),
			want: []string{
				`test.yaml:2: connection "crm": path is required: name the file to read`,
				`test.yaml:4: connection "ads": account is required`,
				`test.yaml:4: connection "ads": set token or oauth, or sandbox: true`,
			},
		},
		{
			name: "no syncs",
			yaml: strings.SplitAfter(minimal, "sandbox: true\n")[0] + "syncs: []\n",
			want: []string{`test.yaml:9: no syncs: add at least one under syncs:`},
		},
		{
			name: "empty file",
			yaml: "# nothing yet\n",
			want: []string{`test.yaml: the file is empty: it needs connections and at least one sync`},
		},
		{
			name: "syntax error",
			yaml: "syncs:\n\t- name: a\n",
			want: []string{`test.yaml:2: invalid YAML: found character that cannot start any token`},
		},
		{
			name: "top level not a mapping",
			yaml: "- a\n- b\n",
			want: []string{`test.yaml:1: the top level must be a mapping with state, connections and syncs, not a list`},
		},
		{
			name: "second document",
			yaml: minimal + "---\nsyncs: []\n",
			want: []string{`test.yaml:16: a second YAML document starts here: keep the whole config in one document`},
		},
		{
			name: "sync name not an identifier",
			yaml: strings.Replace(minimal, "name: s1", "name: Cart Abandoners", 1),
			want: []string{`test.yaml:10: sync name "Cart Abandoners" is not a safe identifier: use lower-case letters, digits, '.', '_' or '-', starting with a letter or digit (the name keys state and reports)`},
		},
		{
			name: "sync without name",
			yaml: strings.Replace(minimal, "  - name: s1\n    source:", "  - source:", 1),
			want: []string{`test.yaml:10: a sync has no name: add name: (lower-case letters, digits, '.', '_' or '-')`},
		},
		{
			name: "duplicate sync names",
			yaml: minimal + strings.SplitAfter(minimal, "syncs:\n")[1],
			want: []string{`test.yaml:16: sync name "s1" is used twice (first at line 10): sync names must be unique`},
		},
		{
			name: "bad schedule",
			yaml: strings.Replace(minimal, "    source:", "    schedule: every hour\n    source:", 1),
			want: []string{`test.yaml:11: sync "s1" schedule "every hour": expected exactly 5 fields, found 2: [every hour]: use five fields (minute hour day-of-month month day-of-week) or a descriptor such as @hourly, @daily or @every 6h`},
		},
		{
			name: "source connection unknown",
			yaml: strings.Replace(minimal, "connection: crm", "connection: crn", 1),
			want: []string{`test.yaml:12: sync "s1" source: unknown connection "crn" (source connections: crm)`},
		},
		{
			name: "source connection missing",
			yaml: strings.Replace(minimal, "      connection: crm\n", "", 1),
			want: []string{`test.yaml:11: sync "s1" source: connection is required: name a source connection (crm)`},
		},
		{
			name: "roles swapped",
			yaml: strings.Replace(strings.Replace(minimal, "connection: crm", "connection: ads", 1), "- connection: ads", "- connection: crm", 1),
			want: []string{
				`test.yaml:12: sync "s1" source: connection "ads" is a destination (type fakedst), not a source`,
				`test.yaml:15: sync "s1" destination "crm": connection "crm" is a source (type fakesrc), not a destination`,
			},
		},
		{
			name: "no destinations",
			yaml: strings.SplitAfter(minimal, "    destinations:")[0] + " []\n",
			want: []string{`test.yaml:14: sync "s1" has no destinations: add at least one under destinations:`},
		},
		{
			name: "duplicate destination names",
			yaml: minimal + "      - connection: ads\n",
			want: []string{`test.yaml:16: sync "s1" destination "ads": destination name "ads" is used twice in this sync (first at line 15): set name: on one of them`},
		},
		{
			name: "empty fields",
			yaml: strings.Replace(minimal, "fields: {email: email}", "fields: {}", 1),
			want: []string{`test.yaml:13: sync "s1" source: fields must map at least one identifier kind (such as email or phone) to a source field`},
		},
		{
			name: "bad fields",
			yaml: strings.Replace(minimal, "fields: {email: email}", "fields:\n        email: email\n        em: mail2\n        fax: fax\n        phone: \"\"", 1),
			want: []string{
				`test.yaml:15: sync "s1" source fields: "email" and "em" both name email: keep one`,
				`test.yaml:16: sync "s1" source fields: unknown identifier kind "fax" (known: `,
				`test.yaml:17: sync "s1" source fields: phone has no source field: name the field that holds it`,
			},
		},
		{
			name: "bad consent mapping",
			yaml: strings.Replace(minimal, "fields: {email: email}", "fields: {email: email}\n      consent: {ad_user_data: c1, ads: c2}", 1),
			want: []string{`test.yaml:14: unknown key "ads" in sync "s1" source consent (known: ad_user_data, ad_personalization)`},
		},
		{
			name: "bad default consent",
			yaml: minimal + "        consent: {ad_user_data: maybe}\n",
			want: []string{`test.yaml:16: sync "s1" destination "ads" consent ad_user_data "maybe": use granted or denied, or leave it out to send no consent`},
		},
		{
			name: "bad default region",
			yaml: strings.Replace(minimal, "      connection: crm", "      connection: crm\n      default_region: USA", 1),
			want: []string{`test.yaml:13: sync "s1" source default_region "USA": use a two-letter ISO 3166 country code such as US or GB`},
		},
		{
			name: "run deadline too short",
			yaml: minimal + "    safety: {max_run_duration: 10ms}\n",
			want: []string{`test.yaml:16: sync "s1" safety max_run_duration 10ms: must be at least 1s (default 2h0m0s), such as 90m or 6h`},
		},
		{
			name: "unassigned default region",
			yaml: strings.Replace(minimal, "      connection: crm", "      connection: crm\n      default_region: XX", 1),
			want: []string{`test.yaml:13: sync "s1" source default_region "XX" is not an assigned ISO 3166 country code: use one such as US, GB or FR`},
		},

		{
			name: "numbers out of range",
			yaml: minimal + "        audience: {membership_days: 600}\n        refresh_margin_days: -1\n        batch_size: -1\n        concurrency: -2\n    safety: {max_remove_fraction: 1.5}\n",
			want: []string{
				`test.yaml:16: sync "s1" destination "ads" audience membership_days 600: must be between 1 and 540, or 0 for the platform's default`,
				`test.yaml:17: sync "s1" destination "ads" refresh_margin_days -1: must be 0 or more (default 30)`,
				`test.yaml:18: sync "s1" destination "ads" batch_size -1: must be 0 (the connector's default) or more`,
				`test.yaml:19: sync "s1" destination "ads" concurrency -2: must be 0 (the connector's default) or more`,
				`test.yaml:20: sync "s1" safety max_remove_fraction 1.5: must be between 0 and 1 (0.2 stops a run that would remove more than 20% of the audience)`,
			},
		},
		{
			name: "state path and dsn",
			yaml: "state:\n  path: a.db\n  dsn: ${env:DSN}\n" + minimal,
			want: []string{`test.yaml:3: state: set path (SQLite) or dsn (Postgres), not both`},
		},
		{
			name: "broken connection is reported once",
			yaml: strings.Replace(minimal, "    path: in.csv", "    path: in.csv\n    extra: 1", 1),
			want: []string{`test.yaml:5: unknown key "extra" in connection "crm" (known: type, path, api_key, timeout, auth)`},
		},
		{
			name: "misspelt sync keys are reported once",
			yaml: strings.NewReplacer("name: s1", "nme: s1", "      connection: crm", "      conection: crm", "      - connection: ads", "      - connections: ads").Replace(minimal),
			want: []string{
				`test.yaml:10: unknown key "nme" in syncs[0] (known: name, schedule, timezone, alerts, source, destinations, segments, suppress, safety); did you mean "name"?`,
				`test.yaml:12: unknown key "conection" in syncs[0] source (known: connection, audience, key, default_region, fields, consent, attributes); did you mean "connection"?`,
				`test.yaml:15: unknown key "connections" in syncs[0] destinations[0] (known: name, connection, audience, consent, refresh_margin_days, batch_size, concurrency); did you mean "connection"?`,
			},
		},
		{
			name: "misspelt source key",
			yaml: strings.Replace(minimal, "    source:", "    sources:", 1),
			want: []string{`test.yaml:11: unknown key "sources" in sync "s1" (known: name, schedule, timezone, alerts, source, destinations, segments, suppress, safety); did you mean "source"?`},
		},
		{
			name: "key in another case and style",
			yaml: strings.Replace(minimal, "      connection: crm", "      connection: crm\n      defaultRegion: US", 1),
			want: []string{`test.yaml:13: unknown key "defaultRegion" in sync "s1" source (known: connection, audience, key, default_region, fields, consent, attributes); did you mean "default_region"?`},
		},
		{
			name: "empty values of required keys",
			yaml: strings.NewReplacer("name: s1", "name:", "connection: crm", `connection: ""`, "- connection: ads", "- connection: ~").Replace(minimal),
			want: []string{
				`test.yaml:10: a sync has no name`,
				`test.yaml:12: syncs[0] source: connection is required: name a source connection (crm)`,
				`test.yaml:15: syncs[0] destinations[0]: connection is required: name a destination connection (ads)`,
			},
		},
		{
			name: "null list entries",
			yaml: minimal + "      - ~\n  - ~\n",
			want: []string{
				`test.yaml:16: sync "s1" destinations[1] is empty`,
				`test.yaml:17: syncs[1] is empty`,
			},
		},
		{
			name: "connection not a mapping",
			yaml: strings.Replace(minimal, "syncs:", "  other: fakesrc\nsyncs:", 1),
			want: []string{`test.yaml:9: connection "other": must be a mapping with a type and its settings, not "fakesrc"`},
		},
		{
			name: "connections not a mapping",
			yaml: "connections: [a]\n" + strings.SplitAfter(minimal, "sandbox: true\n")[1],
			want: []string{`test.yaml:1: connections: must be a mapping of connection names to settings, not a list`},
		},
		{
			name: "empty connection name",
			yaml: strings.Replace(minimal, "syncs:", `  "": {type: fakesrc}`+"\nsyncs:", 1),
			want: []string{`test.yaml:9: connections: a connection has an empty name`},
		},
		{
			name: "key that is not a string",
			yaml: minimal + "    safety: {[a]: 1}\n",
			want: []string{`test.yaml:16: sync "s1" safety: keys must be plain strings, not a list`},
		},
		{
			name: "merge of a scalar",
			yaml: minimal + "    safety: {<<: 1}\n",
			want: []string{`test.yaml:16: sync "s1" safety: << must merge a mapping or a list of mappings, not "1"`},
		},
		{
			name: "mapping merging itself",
			yaml: minimal + "    safety: &s {<<: [*s]}\n",
			want: []string{`test.yaml:16: sync "s1" safety: a merge (<<) includes the mapping it is in`},
		},
		{
			name: "alias explosion",
			// 90,000 destinations from four kilobytes.
			yaml: strings.SplitAfter(minimal, "sandbox: true\n")[0] +
				"syncs: [&sync {name: s1, source: {connection: crm, fields: {email: email}}, destinations: [&dst {connection: ads}" +
				strings.Repeat(", *dst", 299) + "]}" + strings.Repeat(", *sync", 299) + "]\n",
			want: []string{`test.yaml:9: the document expands to too many values (aliases nested too deeply?)`},
		},
		{
			name: "all problems together, in file order",
			yaml: strings.NewReplacer("type: fakedst", "type: nope", "name: s1", "name: S1", "fields: {email: email}", "fields: {e: email}").Replace(minimal),
			want: []string{
				`test.yaml:6: connection "ads": unknown connection type "nope"`,
				`test.yaml:10: sync name "S1" is not a safe identifier`,
				`test.yaml:13: sync "S1" source fields: unknown identifier kind "e"`,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			cfg, err := configs.Parse([]byte(tt.yaml), "test.yaml", "/cfg", testRegistry(), configs.LoadOptions{SkipSecrets: true})
			var cerr *configs.Error
			if !errors.As(err, &cerr) {
				t.Fatalf("Parse error = %v, want *configs.Error", err)
			}
			if cfg != nil {
				t.Errorf("Parse returned a config with its error")
			}
			got := make([]string, len(cerr.Problems))
			for i, p := range cerr.Problems {
				got[i] = p.String()
				if p.File != "test.yaml" {
					t.Errorf("problem %d file = %q", i, p.File)
				}
			}
			if len(got) != len(tt.want) {
				t.Fatalf("problems:\n%s\nwant %d:\n%s", strings.Join(got, "\n"), len(tt.want), strings.Join(tt.want, "\n"))
			}
			for i := range got {
				if !strings.HasPrefix(got[i], tt.want[i]) {
					t.Errorf("problem %d:\n got %s\nwant %s", i, got[i], tt.want[i])
				}
			}
			if err.Error() != strings.Join(got, "\n") {
				t.Errorf("Error() = %q, want the problems one per line", err.Error())
			}
		})
	}
}

// writeConfig writes files (name -> content) into a new directory and
// returns the path of config.yaml in it.
func writeConfig(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return filepath.Join(dir, "config.yaml")
}

func TestLoadSecrets(t *testing.T) {
	t.Parallel()
	withSecrets := strings.NewReplacer(
		`    account: "123"`, `    account: "123"`+"\n    token: ${env:ADS_TOKEN}",
		"    path: in.csv", "    path: in.csv\n    auth:\n      token: ${file:secrets/crm.txt}",
	).Replace("state:\n  dsn: ${env:STATE_DSN}\n" + minimal)
	allEnv := map[string]string{"ADS_TOKEN": "ads-token", "STATE_DSN": "postgres://db"}

	tests := []struct {
		name    string
		files   map[string]string
		env     map[string]string
		skip    bool
		wantErr []string
	}{
		{
			name:  "env and file resolve",
			files: map[string]string{"secrets/crm.txt": "crm-token\n"},
			env:   allEnv,
		},
		{
			name:    "missing env var",
			files:   map[string]string{"secrets/crm.txt": "crm-token"},
			env:     map[string]string{"STATE_DSN": "postgres://db"},
			wantErr: []string{`config.yaml:12: connection "ads" token: environment variable ADS_TOKEN is not set: export it, or point the secret at a file with ${file:PATH}`},
		},
		{
			name: "missing file and dsn",
			env:  map[string]string{"ADS_TOKEN": "ads-token"},
			wantErr: []string{
				`config.yaml:2: state dsn: environment variable STATE_DSN is not set`,
				`config.yaml:8: connection "crm" auth token: read secret file `,
			},
		},
		{
			name: "skip secrets",
			env:  map[string]string{},
			skip: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			files := map[string]string{"config.yaml": withSecrets}
			for k, v := range tt.files {
				files[k] = v
			}
			path := writeConfig(t, files)
			cfg, err := configs.Load(path, testRegistry(), configs.LoadOptions{LookupEnv: env(tt.env), SkipSecrets: tt.skip})
			if len(tt.wantErr) > 0 {
				var cerr *configs.Error
				if !errors.As(err, &cerr) || len(cerr.Problems) != len(tt.wantErr) {
					t.Fatalf("Load error = %v, want %d problems", err, len(tt.wantErr))
				}
				for i, p := range cerr.Problems {
					if got := strings.TrimPrefix(p.String(), filepath.Dir(path)+string(filepath.Separator)); !strings.HasPrefix(got, tt.wantErr[i]) {
						t.Errorf("problem %d:\n got %s\nwant %s", i, got, tt.wantErr[i])
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			ads := cfg.Connections["ads"].Settings.(*fakeDestination)
			crm := cfg.Connections["crm"].Settings.(*fakeSource)
			if tt.skip {
				if ads.Token.Resolved() || crm.Auth.Token.Resolved() || cfg.State.DSN.Resolved() {
					t.Error("SkipSecrets resolved a secret")
				}
				if ads.Token.Ref() != "${env:ADS_TOKEN}" {
					t.Errorf("unresolved token ref = %q", ads.Token.Ref())
				}
				return
			}
			if ads.Token.Reveal() != "ads-token" || crm.Auth.Token.Reveal() != "crm-token" || cfg.State.DSN.Reveal() != "postgres://db" {
				t.Errorf("secrets = %q, %q, %q", ads.Token.Reveal(), crm.Auth.Token.Reveal(), cfg.State.DSN.Reveal())
			}
			if cfg.State.Path != "" {
				t.Errorf("State.Path = %q with a dsn, want empty", cfg.State.Path)
			}
		})
	}
}

func TestLoadPaths(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		state string
		want  func(dir string) string
	}{
		{"default", "", func(dir string) string { return filepath.Join(dir, configs.DefaultStatePath) }},
		{"relative", "state: {path: data/x.db}\n", func(dir string) string { return filepath.Join(dir, "data", "x.db") }},
		{"absolute", "state: {path: /var/lib/x.db}\n", func(string) string { return "/var/lib/x.db" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			path := writeConfig(t, map[string]string{"config.yaml": tt.state + minimal})
			cfg, err := configs.Load(path, testRegistry(), configs.LoadOptions{})
			if err != nil {
				t.Fatal(err)
			}
			dir := filepath.Dir(path)
			if cfg.BaseDir != dir || cfg.Path != path {
				t.Errorf("BaseDir, Path = %q, %q; want %q, %q", cfg.BaseDir, cfg.Path, dir, path)
			}
			if want := tt.want(dir); cfg.State.Path != want {
				t.Errorf("State.Path = %q, want %q", cfg.State.Path, want)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	t.Parallel()
	_, err := configs.Load(filepath.Join(t.TempDir(), "nope.yaml"), testRegistry(), configs.LoadOptions{})
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Load error = %v, want one that wraps fs.ErrNotExist", err)
	}
}

// TestRequiredConsent checks that a destination whose platform refuses
// members without consent must answer both questions, by a default or a
// source column, and that a destination of another type need not.
func TestRequiredConsent(t *testing.T) {
	t.Parallel()
	reg := testRegistry()
	reg.Register(connectors.Spec{
		Type:            "fakeconsent",
		Role:            connectors.RoleDestination,
		Settings:        func() any { return &fakeDestination{} },
		RequiresConsent: true,
		NewDestination: func(any, connectors.Env) (connectors.Destination, error) {
			return nil, errors.New("fake destination: not built in config tests")
		},
	})
	consentful := strings.Replace(minimal, "type: fakedst", "type: fakeconsent", 1)
	tests := []struct {
		name string
		yaml string
		want string // "" for a valid config
	}{
		{name: "another type needs none", yaml: minimal},
		{
			name: "no consent at all",
			yaml: consentful,
			want: `test.yaml:15: sync "s1" destination "ads": ads (type fakeconsent) refuses members without consent, and this destination would send no ad_user_data or ad_personalization: if your members agreed, set consent: {ad_user_data: granted, ad_personalization: granted} on the destination, or map per-member columns under the source's consent:`,
		},
		{
			name: "one question answered by default",
			yaml: consentful + "        consent: {ad_user_data: granted}\n",
			want: `test.yaml:16: sync "s1" destination "ads": ads (type fakeconsent) refuses members without consent, and this destination would send no ad_personalization:`,
		},
		{name: "both defaults", yaml: consentful + "        consent: {ad_user_data: granted, ad_personalization: denied}\n"},
		{
			name: "columns and a default together",
			yaml: strings.Replace(consentful, "fields: {email: email}", "fields: {email: email}\n      consent: {ad_user_data: c1}", 1) +
				"        consent: {ad_personalization: granted}\n",
		},
		{
			name: "both columns",
			yaml: strings.Replace(consentful, "fields: {email: email}", "fields: {email: email}\n      consent: {ad_user_data: c1, ad_personalization: c2}", 1),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := configs.Parse([]byte(tt.yaml), "test.yaml", "/cfg", reg, configs.LoadOptions{SkipSecrets: true})
			switch {
			case tt.want == "" && err != nil:
				t.Fatalf("Parse: %v, want a valid config", err)
			case tt.want != "" && (err == nil || !strings.HasPrefix(err.Error(), tt.want)):
				t.Fatalf("Parse error = %v\nwant prefix %s", err, tt.want)
			}
		})
	}
}

// TestTaggedAudienceKeys checks that list_id and tag are taken only by a
// destination type whose audiences are tags of a list, and reach the
// destination's audience there.
func TestTaggedAudienceKeys(t *testing.T) {
	t.Parallel()
	reg := testRegistry()
	reg.Register(connectors.Spec{
		Type:           "faketagged",
		Role:           connectors.RoleDestination,
		Settings:       func() any { return &fakeDestination{} },
		TaggedAudience: true,
		NewDestination: func(any, connectors.Env) (connectors.Destination, error) {
			return nil, errors.New("fake destination: not built in config tests")
		},
	})
	withTag := minimal + "        audience: {list_id: a1b2c3d4e5, tag: cart-abandoner}\n"
	_, err := configs.Parse([]byte(withTag), "test.yaml", "/cfg", reg, configs.LoadOptions{SkipSecrets: true})
	const want = `test.yaml:16: sync "s1" destination "ads": ads (type fakedst) has no lists and tags: its audience takes id or name, not list_id or tag`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Parse error = %v, want %s", err, want)
	}
	cfg, err := configs.Parse([]byte(strings.Replace(withTag, "type: fakedst", "type: faketagged", 1)), "test.yaml", "/cfg", reg, configs.LoadOptions{SkipSecrets: true})
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if a := cfg.Syncs[0].Destinations[0].Audience; a.ListID != "a1b2c3d4e5" || a.Tag != "cart-abandoner" {
		t.Fatalf("audience = %+v, want list_id and tag", a)
	}
}

// senderSettings are a destination's settings that send attributes.
type senderSettings struct {
	fakeDestination `yaml:",inline"`
	Sends           []string `yaml:"sends"`
}

func (s *senderSettings) SentAttributes() []string { return s.Sends }

// TestSentAttributesMustBeRead checks that a destination sent attributes
// (connectors.AttributeSender) needs a source that reads them.
func TestSentAttributesMustBeRead(t *testing.T) {
	t.Parallel()
	reg := testRegistry()
	reg.Register(connectors.Spec{
		Type: "fakesender", Role: connectors.RoleDestination,
		Settings: func() any { return &senderSettings{} },
		NewDestination: func(any, connectors.Env) (connectors.Destination, error) {
			return nil, errors.New("fake destination: not built in config tests")
		},
	})
	yaml := strings.Replace(minimal, "type: fakedst", "type: fakesender\n    sends: [cart_value]", 1)
	_, err := configs.Parse([]byte(yaml), "test.yaml", "/cfg", reg, configs.LoadOptions{SkipSecrets: true})
	const want = `is sent attribute cart_value with each member, which the source does not read: add it under the sync's source.attributes`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("Parse error = %v, want %s", err, want)
	}
	read := strings.Replace(yaml, "fields: {email: email}", "fields: {email: email}\n      attributes: {cart_value: {type: number}}", 1)
	if _, err := configs.Parse([]byte(read), "test.yaml", "/cfg", reg, configs.LoadOptions{SkipSecrets: true}); err != nil {
		t.Fatalf("Parse: %v", err)
	}
}
