package meta_test

import (
	"errors"
	"fmt"
	"iter"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/sandbox"
	"github.com/audiencesync/audiencesync/sandbox/metagraph"
)

func hashed(kind audience.Kind, raw string) audience.Identifier { return id(kind, sha(raw)) }

func emailMember(raw string, more ...audience.Identifier) connectors.Upload {
	return connectors.Upload{Identifiers: append([]audience.Identifier{hashed(audience.Email, raw)}, more...)}
}

// A batch Meta takes only in part: the rows it finds invalid are counted,
// their sampled reasons reported without values, and the members they came
// from returned as rejected; the rest land.
func TestApplyPartlyInvalid(t *testing.T) {
	t.Parallel()
	bad := func(i int) connectors.Upload {
		return connectors.Upload{Identifiers: []audience.Identifier{id(audience.Email, fmt.Sprintf("not-a-hash-%d", i))}}
	}
	tests := []struct {
		name     string
		batch    []connectors.Upload
		received int64
		invalid  int64
		rejected []connectors.MemberRejection
		samples  map[string]int64
		land     []string // identifiers that must be in the audience
	}{
		{
			name:     "one malformed hash",
			batch:    []connectors.Upload{emailMember("a@example.com"), bad(0), emailMember("b@example.com")},
			received: 3, invalid: 1,
			rejected: []connectors.MemberRejection{{Index: 1, Reason: "invalid_email"}},
			samples:  map[string]int64{"samples.invalid_email": 1},
			land:     []string{sha("a@example.com"), sha("b@example.com")},
		},
		{
			name: "a malformed attribute spoils its row",
			batch: []connectors.Upload{
				emailMember("a@example.com", id(audience.Zip, "98121")),
				emailMember("b@example.com", hashed(audience.Zip, "98121")),
			},
			received: 2, invalid: 1,
			rejected: []connectors.MemberRejection{{Index: 0, Reason: "invalid_zip"}},
			samples:  map[string]int64{"samples.invalid_zip": 1},
			land:     []string{sha("b@example.com")},
		},
		{
			name: "more invalid rows than Meta samples",
			batch: append([]connectors.Upload{emailMember("a@example.com")},
				bad(1), bad(2), bad(3), bad(4), bad(5), bad(6), bad(7), bad(8), bad(9), bad(10), bad(11), bad(12)),
			received: 13, invalid: 12,
			samples: map[string]int64{"samples.invalid_email": 10},
			land:    []string{sha("a@example.com")},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, "")
			d := b.dest()
			aud := b.ensure(d, "partial")
			res, err := d.Apply(t.Context(), aud, connectors.Batch{Op: connectors.OpAdd, Seq: 1, Members: tt.batch})
			require.NoError(t, err)
			require.Equal(t, tt.received, res.Platform["num_received"])
			require.Equal(t, tt.invalid, res.Platform["num_invalid_entries"])
			for k, v := range tt.samples {
				require.Equal(t, v, res.Platform[k], k)
			}
			for k := range res.Platform {
				require.NotContains(t, k, "not-a-hash", "a value leaked into the counts")
			}
			if tt.rejected != nil {
				require.Equal(t, tt.rejected, res.Rejected)
			} else {
				// Only sampled members can be named; the rest are counts.
				require.Len(t, res.Rejected, 10)
			}
			require.Equal(t, tt.land, b.sb.Members("meta", aud.ID))
		})
	}
}

func TestApplyErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		faults string
		check  func(t *testing.T, err error)
		calls  int
	}{
		{
			name:   "throttle with a long time to regain access goes back to the engine",
			faults: "meta.users:80003*10,retry-after=2m",
			check: func(t *testing.T, err error) {
				var ra *connectors.RetryAfterError
				require.ErrorAs(t, err, &ra)
				require.Equal(t, 2*time.Minute, ra.Wait)
				require.ErrorContains(t, err, "rate limit")
			},
			calls: 1,
		},
		{
			name:   "throttles beyond the client's attempts",
			faults: "meta.users:613*10",
			check: func(t *testing.T, err error) {
				act, wait := connectors.Classify(err)
				require.Equal(t, connectors.ActionRetry, act)
				require.Positive(t, wait, "the engine is told to wait")
			},
			calls: 5,
		},
		{
			name:   "expired token: no retry",
			faults: "meta.users:expired*1",
			check: func(t *testing.T, err error) {
				require.ErrorIs(t, err, connectors.ErrReauthenticate)
				require.ErrorContains(t, err, "System users")
			},
			calls: 1,
		},
		{
			name:   "server errors beyond the client's attempts: the engine retries",
			faults: "meta.users:503*10",
			check: func(t *testing.T, err error) {
				act, _ := connectors.Classify(err)
				require.Equal(t, connectors.ActionRetry, act)
				require.ErrorContains(t, err, "Please retry your request later", "Meta's message is kept")
			},
			calls: 5,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, tt.faults)
			d := b.dest()
			aud := b.ensure(d, "errors")
			_, err := d.Apply(t.Context(), aud, connectors.Batch{Op: connectors.OpAdd, Seq: 1,
				Members: []connectors.Upload{emailMember("a@example.com")}})
			tt.check(t, err)
			require.Len(t, b.calls("users"), tt.calls)
		})
	}
}

// A flagged audience stops the destination with a message that says what
// to do, and the call is not retried.
func TestApplyFlagged(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	d := b.dest()
	aud := b.ensure(d, "flagged")
	require.True(t, sandbox.ReplicaOf[*metagraph.Server](b.sb).FlagAudience(aud.ID))
	_, err := d.Apply(t.Context(), aud, connectors.Batch{Op: connectors.OpRemove, Seq: 1, Members: []connectors.Upload{emailMember("a@example.com")}})
	require.ErrorIs(t, err, connectors.ErrFatal)
	require.ErrorContains(t, err, "flagged")
	require.ErrorContains(t, err, "appeal")
	require.Len(t, b.calls("users"), 1)
}

// A member with two values of one kind takes two rows; a batch is cut
// into requests that keep under the row limit, and rejections still index
// the batch.
func TestApplyRepeatedKinds(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	d := b.destRows(3)
	aud := b.ensure(d, "repeated")
	batch := []connectors.Upload{
		{Identifiers: []audience.Identifier{hashed(audience.Email, "a1@example.com"), hashed(audience.Email, "a2@example.com"), hashed(audience.Phone, "15550001")}},
		{Identifiers: []audience.Identifier{hashed(audience.Email, "b1@example.com"), id(audience.Email, "not-a-hash")}},
		emailMember("c@example.com"),
	}
	res, err := d.Apply(t.Context(), aud, connectors.Batch{Op: connectors.OpAdd, Seq: 1, Members: batch})
	require.NoError(t, err)
	require.Equal(t, []connectors.MemberRejection{{Index: 1, Reason: "invalid_email"}}, res.Rejected)
	calls := b.calls("users")
	require.Len(t, calls, 2)
	first := payloadOf(t, calls[0])
	require.Equal(t, []string{"EMAIL", "PHONE"}, first.Schema)
	require.Equal(t, [][]string{
		{sha("a1@example.com"), sha("15550001")},
		{sha("a2@example.com"), sha("15550001")},
	}, first.Data)
	require.Equal(t, []string{"EMAIL"}, payloadOf(t, calls[1]).Schema)
	// b1's own row was valid and landed; the member is still reported, as
	// one of its rows was refused.
	want := []string{sha("15550001"), sha("a1@example.com"), sha("a2@example.com"), sha("b1@example.com"), sha("c@example.com")}
	slices.Sort(want)
	require.Equal(t, want, b.sb.Members("meta", aud.ID))
}

// Feedback sums the counts of the run's requests and reads the size.
func TestFeedback(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	d := b.dest()
	aud := b.ensure(d, "feedback")
	require.NoError(t, d.BeginRun(t.Context(), connectors.RunInfo{ID: "r1"}))
	var ids []string
	for i, batch := range [][]connectors.Upload{
		{emailMember("a@example.com"), emailMember("b@example.com")},
		{emailMember("c@example.com"), {Identifiers: []audience.Identifier{id(audience.Email, "bad")}}},
	} {
		res, err := d.Apply(t.Context(), aud, connectors.Batch{Op: connectors.OpAdd, Seq: i + 1, Members: batch})
		require.NoError(t, err)
		require.NotEmpty(t, res.RequestID)
		ids = append(ids, res.RequestID)
	}
	rep, err := d.Feedback(t.Context(), aud, append(ids, "from-an-earlier-run"))
	require.NoError(t, err)
	require.Equal(t, int64(3), rep.Size)
	require.Equal(t, map[string]int64{
		"num_received": 4, "num_invalid_entries": 1, "samples.invalid_email": 1,
		"approximate_count_lower_bound": 3, "approximate_count_upper_bound": 3,
	}, rep.Counts)
	require.NoError(t, d.EndRun(t.Context(), connectors.RunInfo{ID: "r1"}, true))
}

func TestReplaceEmpty(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	d := b.dest()
	aud := b.ensure(d, "empty")
	none := func(func(connectors.Upload, error) bool) {}
	_, err := d.Replace(t.Context(), aud, 0, none)
	require.ErrorIs(t, err, connectors.ErrFatal)
	require.ErrorContains(t, err, "without --full-refresh")
	require.Empty(t, b.calls("usersreplace"))
}

// A failing member iterator fails the replace without finishing the
// session.
func TestReplaceSourceError(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	d := b.destRows(2)
	aud := b.ensure(d, "broken")
	broken := errors.New("state read failed")
	var members iter.Seq2[connectors.Upload, error] = func(yield func(connectors.Upload, error) bool) {
		for i := range 3 {
			if !yield(emailMember(fmt.Sprintf("m%d@example.com", i)), nil) {
				return
			}
		}
		yield(connectors.Upload{}, broken)
	}
	_, err := d.Replace(t.Context(), aud, 4, members)
	require.ErrorIs(t, err, broken)
	for _, r := range b.calls("usersreplace") {
		require.False(t, sessionOf(t, r).LastBatchFlag, "the session must not be closed on a partial read")
	}
}
