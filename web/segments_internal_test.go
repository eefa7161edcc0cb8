package web

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/report"
)

// The summary's moves and suppression sentences: one clause per pair of
// stages, the destinations named together when their counts agree and
// one by one when not, "would move" in a dry run; suppression summed
// per list over the segments that have destinations.
func TestSegmentSentences(t *testing.T) {
	t.Parallel()
	moves := []report.Move{
		{Group: "cart", From: "a", To: "b", Destination: "meta", Members: 1200},
		{Group: "cart", From: "a", To: "b", Destination: "google", Members: 1200},
		{Group: "cart", From: "b", To: "c", Destination: "google", Members: 3},
		{Group: "cart", From: "b", To: "c", Destination: "meta", Members: 2},
	}
	for _, tc := range []struct {
		name  string
		moves []report.Move
		dry   bool
		want  string
	}{
		{"none", nil, false, ""},
		{"one", moves[:1], false, "1,200 moved from a to b (on meta)."},
		{"pairs", moves, false, "1,200 moved from a to b (on google and meta); moved from b to c: 3 on google, 2 on meta."},
		{"uneven first", moves[2:], false, "Moved from b to c: 3 on google, 2 on meta."},
		{"dry run", moves[:2], true, "1,200 would move from a to b (on google and meta)."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, movesSentence(movesOf(tc.moves), tc.dry))
		})
	}

	segs := []segmentView{
		{Segment: &report.Segment{Name: "buyers", Suppressed: map[string]int64{"staff": 9}}},
		{Segment: &report.Segment{Name: "a", Destinations: []string{"a/google"}, Suppressed: map[string]int64{"buyers": 2, "shop": 1}}},
		{Segment: &report.Segment{Name: "b", Destinations: []string{"b/google"}, Suppressed: map[string]int64{"buyers": 1}}},
	}
	require.Equal(t, "Suppression lists kept 4 segment matches out of the audiences: buyers 3, shop 1.", suppressionSentence(segs))
	require.Equal(t, "Suppression lists kept 1 segment match out of the audiences: buyers 1.", suppressionSentence(segs[2:]))
	require.Empty(t, suppressionSentence(segs[:1]), "a segment sent nowhere keeps no one out of an audience")
}
