package configs_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/audiencesync/audiencesync/configs"
)

// segmentedHead is minimal with a second source, shop, and attributes,
// up to segments: at line 20; a test's body follows from line 21.
var segmentedHead = strings.NewReplacer(
	"  ads:\n", "  shop:\n    type: fakesrc\n    path: shop.csv\n  ads:\n",
	"      fields: {email: email}\n    destinations:\n      - connection: ads\n",
	"      fields: {email: email}\n      attributes:\n        visits: {type: number}\n        last_cart_at: {type: timestamp}\n    segments:\n",
).Replace(minimal)

func parseSegmented(t *testing.T, body string) (*configs.Config, []string) {
	t.Helper()
	cfg, err := configs.Parse([]byte(segmentedHead+body), "test.yaml", "/cfg", testRegistry(), configs.LoadOptions{SkipSecrets: true})
	if err == nil {
		return cfg, nil
	}
	var cerr *configs.Error
	if !errors.As(err, &cerr) {
		t.Fatalf("Parse error = %v, want *configs.Error", err)
	}
	var got []string
	for _, p := range cerr.Problems {
		got = append(got, p.String())
	}
	return nil, got
}

// TestSegments checks a valid segmented sync: its targets are named
// segment/destination, and its stages, holdout and suppression lists
// are read.
func TestSegments(t *testing.T) {
	t.Parallel()
	cfg, problems := parseSegmented(t, `      - name: buyers
        filter: visits > 100
      - name: cart-0-3d
        group: cart
        exclusive: true
        holdout: 10%
        filter: |
          days_since(last_cart_at) <= 3
        destinations:
          - connection: ads
      - name: cart-4-14d
        group: cart
        exclusive: true
        filter: 'days_since(last_cart_at) <= 14 && (visits ?? 0) >= 1'
        destinations:
          - connection: ads
    suppress:
      - segment: buyers
      - source: {connection: shop, key: id, fields: {email: mail}}
        name: shop-buyers
`)
	if problems != nil {
		t.Fatal(strings.Join(problems, "\n"))
	}
	s := cfg.Syncs[0]
	var names []string
	for _, tg := range s.Targets() {
		names = append(names, tg.Name)
	}
	if got := strings.Join(names, ","); got != "cart-0-3d/ads,cart-4-14d/ads" {
		t.Errorf("targets = %s", got)
	}
	if s.Segments[1].HoldoutShare != 0.1 {
		t.Errorf("holdout = %v, want 0.1", s.Segments[1].HoldoutShare)
	}
	if s.Suppress[0].Name != "buyers" || s.Suppress[1].Name != "shop-buyers" || s.Suppress[1].Source.Kinds == nil {
		t.Errorf("suppress = %+v, %+v", s.Suppress[0], s.Suppress[1])
	}
	spec := s.SegmentSpec()
	if len(spec.Segments) != 3 || len(spec.Suppress) != 1 || !spec.Segments[2].Exclusive {
		t.Errorf("spec = %+v", spec)
	}
}

// noDestinations marks a TestSegmentProblems case whose segments have
// no destinations on purpose.
const noDestinations = "# no destinations\n"

// TestSegmentProblems checks that validate rejects each kind of bad
// filter and segment with the file, the line of the offending part and
// what to do.
func TestSegmentProblems(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, body string
		want       []string
	}{
		{"unknown attribute", "      - name: a\n        filter: visit >= 5\n",
			[]string{`test.yaml:22: sync "s1" segment "a" filter: unknown name visit at column 1: visit >= 5: the attributes are visits (number), last_cart_at (timestamp) (declared under source.attributes); functions: now(), days_since(t), hours_since(t)`}},
		{"wrong type", "      - name: a\n        filter: 'visits == \"5\"'\n",
			[]string{`test.yaml:22: sync "s1" segment "a" filter: invalid operation: == (mismatched types float64 and string) at column 8: visits == "5"`}},
		{"syntax", "      - name: a\n        filter: 'visits >= '\n",
			[]string{`test.yaml:22: sync "s1" segment "a" filter: unexpected token EOF at column 10: visits >=`}},
		{"not boolean", "      - name: a\n        filter: visits + 1\n",
			[]string{`test.yaml:22: sync "s1" segment "a" filter: expected bool, but got float64: a filter must be true or false, such as visits >= 5`}},
		{"function argument", "      - name: a\n        filter: days_since(visits) < 3\n",
			[]string{`test.yaml:22: sync "s1" segment "a" filter: cannot use float64 as argument (type time.Time) to call days_since at column 12: days_since(visits) < 3`}},
		{"error on the second line of a block", "      - name: a\n        filter: |\n          visits > 1 &&\n          last_cart > now()\n",
			[]string{`test.yaml:24: sync "s1" segment "a" filter: unknown name last_cart at column 1: last_cart > now(): the attributes are visits (number), last_cart_at (timestamp) (declared under source.attributes); functions: now(), days_since(t), hours_since(t)`}},
		{"no filter", "      - name: a\n",
			[]string{`test.yaml:21: sync "s1" segment "a" has no filter: add filter: with an expression over source.attributes, such as 'visits >= 5'`}},
		{"exclusive without group", "      - name: a\n        filter: visits > 1\n        exclusive: true\n",
			[]string{`test.yaml:23: sync "s1" segment "a": exclusive: true needs a group: name the group of stages this segment is one of (group: cart)`}},
		{"bad holdout", "      - name: a\n        filter: visits > 1\n        holdout: 60%\n",
			[]string{`test.yaml:23: sync "s1" segment "a" holdout "60%": must be at least 0% and below 50% (a holdout is the smaller part of a segment)`}},
		{"duplicate name", "      - name: a\n        filter: visits > 1\n      - name: a\n        filter: visits > 2\n",
			[]string{`test.yaml:23: sync "s1" segment "a": segment name "a" is used twice in this sync (first at line 21): segment names must be unique`}},
		{"unknown suppression segment", "      - name: a\n        filter: visits > 1\n        destinations: [{connection: ads}]\n    suppress:\n      - segment: buyers\n",
			[]string{`test.yaml:25: sync "s1" suppress[0]: segment "buyers" is not a segment of this sync: name one defined under segments:`}},
		{"no segment sent anywhere", "      - name: a\n        filter: visits > 1\n" + noDestinations,
			[]string{`test.yaml:20: sync "s1": no segment has destinations: add destinations: to the segments that should be sent`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			body := tc.body
			// Every case sends its last segment somewhere, unless it is
			// about that.
			if trimmed, ok := strings.CutSuffix(body, noDestinations); ok {
				body = trimmed
			} else if !strings.Contains(body, "destinations:") {
				body += "        destinations: [{connection: ads}]\n"
			}
			_, got := parseSegmented(t, body)
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("problems:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
