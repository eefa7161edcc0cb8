package x

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	xplatform "github.com/audiencesync/audiencesync/platform/x"
)

// applyBundle is a destination over a replica with one ensured audience.
type applyBundle struct {
	r   *replica
	d   *Destination
	aud connectors.Audience
}

func setupApply(t *testing.T, spec connectors.AudienceSpec, mods ...func(*limits)) *applyBundle {
	t.Helper()
	r := newReplica(t, "", 0, nil)
	d := r.dest(t, nil, mods...)
	if spec.Name == "" {
		spec = connectors.AudienceSpec{Name: "apply", Create: true}
	}
	aud, err := d.Ensure(t.Context(), spec)
	require.NoError(t, err)
	return &applyBundle{r: r, d: d, aud: aud}
}

func (b *applyBundle) apply(t *testing.T, op connectors.Op, ms []connectors.Upload) (connectors.BatchResult, error) {
	t.Helper()
	return b.d.Apply(t.Context(), b.aud, connectors.Batch{Op: op, Seq: 1, Members: ms})
}

// emailUploads returns n members with one hashed e-mail address each.
func emailUploads(from, n int) []connectors.Upload {
	out := make([]connectors.Upload, n)
	for i := range out {
		out[i] = connectors.Upload{Identifiers: []audience.Identifier{
			{Kind: audience.Email, Value: sha(fmt.Sprintf("u%d@example.com", from+i)), Hashed: true},
		}}
	}
	return out
}

// wideUploads returns n members carrying k hashed phone numbers each, so
// that each operation is large.
func wideUploads(n, k int) []connectors.Upload {
	out := make([]connectors.Upload, n)
	for i := range out {
		for j := range k {
			out[i].Identifiers = append(out[i].Identifiers, audience.Identifier{
				Kind: audience.Phone, Value: sha(fmt.Sprintf("%d-%d", i, j)), Hashed: true})
		}
	}
	return out
}

// requireSame compares identifier sets in O(n log n); ElementsMatch is
// quadratic.
func requireSame(t *testing.T, want, got []string) {
	t.Helper()
	want, got = slices.Clone(want), slices.Clone(got)
	slices.Sort(want)
	slices.Sort(got)
	require.Equal(t, slices.Compact(want), got)
}

func values(ms []connectors.Upload) []string {
	var out []string
	for _, m := range ms {
		for _, id := range m.Identifiers {
			out = append(out, stored(id))
		}
	}
	return out
}

func TestApplySplits(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		mod      func(*limits)
		members  []connectors.Upload
		wantOps  []int
		maxBytes int
	}{
		{
			name:    "by operation count",
			mod:     func(l *limits) { l.maxOps = 7 },
			members: emailUploads(0, 20),
			wantOps: []int{7, 7, 6},
		},
		{
			name: "by bytes",
			mod:  func(l *limits) { l.maxBytes = 3000 },
			// An operation is 469 bytes: six fit in 3,000 with the array's
			// brackets and commas (2,821), seven do not (3,291).
			members:  wideUploads(12, 6),
			wantOps:  []int{6, 6},
			maxBytes: 3000,
		},
		{
			name: "by bytes at X's 5,000,000",
			// An operation is 20,167 bytes: 247 fit (4,981,497 bytes).
			members:  wideUploads(300, 300),
			wantOps:  []int{247, 53},
			maxBytes: MaxBodyBytes,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var mods []func(*limits)
			if tc.mod != nil {
				mods = append(mods, tc.mod)
			}
			b := setupApply(t, connectors.AudienceSpec{}, mods...)
			res, err := b.apply(t, connectors.OpAdd, tc.members)
			require.NoError(t, err)
			require.Empty(t, res.Rejected)
			require.Equal(t, tc.wantOps, b.r.rec.requestOps())
			require.Equal(t, int64(len(tc.members)), res.Platform["success_count"])
			require.Equal(t, int64(len(tc.wantOps)), res.Platform["requests"])
			if tc.maxBytes > 0 {
				for _, n := range b.r.rec.requestBytes() {
					require.LessOrEqual(t, n, tc.maxBytes)
				}
			}
			requireSame(t, values(tc.members), b.r.members(b.aud.ID))

			res, err = b.apply(t, connectors.OpRemove, tc.members)
			require.NoError(t, err)
			require.Empty(t, res.Rejected)
			require.Empty(t, b.r.members(b.aud.ID))
		})
	}
}

func TestApplyOperations(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 1, 12, 30, 0, 0, time.UTC)
	b := setupApply(t, connectors.AudienceSpec{Name: "expiring", Create: true, MembershipDays: 30})
	b.d.now = func() time.Time { return now }
	m := connectors.Upload{Identifiers: []audience.Identifier{
		{Kind: audience.ExternalID, Value: `crm "7" \ é`},
		{Kind: audience.Email, Value: sha("a@example.com"), Hashed: true},
		{Kind: audience.Email, Value: sha("b@example.com"), Hashed: true},
		{Kind: audience.TwitterID, Value: sha("12"), Hashed: true},
		{Kind: audience.MobileID, Value: sha("idfa"), Hashed: true},
		{Kind: audience.Handle, Value: sha("adsapi"), Hashed: true},
		{Kind: audience.Phone, Value: sha("16505551212"), Hashed: true},
	}}
	_, err := b.apply(t, connectors.OpAdd, []connectors.Upload{m})
	require.NoError(t, err)
	_, err = b.apply(t, connectors.OpRemove, []connectors.Upload{{Identifiers: m.Identifiers[:2]}})
	require.NoError(t, err)

	bodies := b.r.rec.usersBodies()
	require.Len(t, bodies, 2)
	var add, del []map[string]any
	require.NoError(t, json.Unmarshal(bodies[0], &add))
	require.NoError(t, json.Unmarshal(bodies[1], &del))
	require.Equal(t, []map[string]any{{
		"operation_type": "Update",
		"params": map[string]any{
			"users": []any{map[string]any{
				"email":           []any{sha("a@example.com"), sha("b@example.com")},
				"phone_number":    []any{sha("16505551212")},
				"handle":          []any{sha("adsapi")},
				"twitter_id":      []any{sha("12")},
				"device_id":       []any{sha("idfa")},
				"partner_user_id": []any{`crm "7" \ é`},
			}},
			"expires_at": "2026-03-31T12:30:00Z",
		},
	}}, add)
	require.Equal(t, []map[string]any{{
		"operation_type": "Delete",
		"params": map[string]any{"users": []any{map[string]any{
			"email":           []any{sha("a@example.com")},
			"partner_user_id": []any{`crm "7" \ é`},
		}}},
	}}, del)
	require.ElementsMatch(t, values([]connectors.Upload{{Identifiers: m.Identifiers[2:]}}), b.r.members(b.aud.ID))
}

func TestApplyRejections(t *testing.T) {
	t.Parallel()
	b := setupApply(t, connectors.AudienceSpec{}, func(l *limits) { l.maxBytes = 2000 })
	good := emailUploads(0, 4)
	notHash := connectors.Upload{Identifiers: []audience.Identifier{{Kind: audience.Email, Value: "a@example.com", Hashed: true}}}
	nothing := connectors.Upload{Identifiers: []audience.Identifier{{Kind: audience.FirstName, Value: sha("ann"), Hashed: true}}}
	huge := wideUploads(1, 40)[0]
	batch := []connectors.Upload{good[0], notHash, good[1], nothing, huge, good[2], notHash, good[3]}
	res, err := b.apply(t, connectors.OpAdd, batch)
	require.NoError(t, err)
	require.ElementsMatch(t, []connectors.MemberRejection{
		{Index: 1, Reason: "INVALID_PARAMETER"},
		{Index: 3, Reason: ReasonNoIdentifiers},
		{Index: 4, Reason: ReasonTooLarge},
		{Index: 6, Reason: "INVALID_PARAMETER"},
	}, res.Rejected)
	for _, r := range res.Rejected {
		require.NotContains(t, r.Reason, "example.com", "reasons never carry values")
	}
	require.ElementsMatch(t, values(good), b.r.members(b.aud.ID))
	require.Equal(t, []int{6, 4}, b.r.rec.requestOps(), "refused operations are dropped and the rest resent")
}

func TestApplyAnswers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		// status and body answer the first users request; later ones reach
		// the replica.
		status  int
		body    string
		check   func(t *testing.T, err error)
		applied bool
	}{
		{
			name: "success_count short", status: http.StatusOK,
			body: `{"data":{"success_count":2,"total_count":3}}`,
			check: func(t *testing.T, err error) {
				require.ErrorContains(t, err, "X processed 2 of 3 operations")
				act, _ := connectors.Classify(err)
				require.Equal(t, connectors.ActionRetry, act)
			},
		},
		{
			name: "total_count short", status: http.StatusOK,
			body: `{"data":{"success_count":3,"total_count":2}}`,
			check: func(t *testing.T, err error) {
				require.ErrorContains(t, err, "X processed 3 of 2 operations")
			},
		},
		{
			name: "counts missing", status: http.StatusOK, body: `{"data":{}}`,
			check: func(t *testing.T, err error) {
				require.ErrorContains(t, err, "an unknown number")
			},
		},
		{
			name: "not JSON", status: http.StatusOK, body: `<html>`,
			check: func(t *testing.T, err error) {
				require.ErrorContains(t, err, "not the expected JSON")
			},
		},
		{
			name: "request refused", status: http.StatusBadRequest,
			body: `{"errors":[{"code":"INVALID_PARAMETER","message":"bad a@example.com"}]}`,
			check: func(t *testing.T, err error) {
				var br *connectors.BatchRejectedError
				require.ErrorAs(t, err, &br)
				require.Equal(t, "INVALID_PARAMETER", br.Reason)
				require.NotContains(t, err.Error(), "example.com", "users messages are not repeated")
			},
		},
		{
			name: "audience gone", status: http.StatusNotFound,
			body: `{"errors":[{"code":"NOT_FOUND","message":"not found"}]}`,
			check: func(t *testing.T, err error) {
				require.ErrorIs(t, err, connectors.ErrFatal)
				require.ErrorContains(t, err, "run again to find or create it")
			},
		},
		{
			name: "forbidden", status: http.StatusForbidden,
			body: `{"errors":[{"code":"UNAUTHORIZED_ACCOUNT_ACCESS","message":"no"}]}`,
			check: func(t *testing.T, err error) {
				require.ErrorIs(t, err, connectors.ErrFatal)
				require.ErrorContains(t, err, "X refused access to ad account")
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := setupApply(t, connectors.AudienceSpec{})
			var answered atomic.Bool
			b.r.rec.setHook(func(w http.ResponseWriter, r *http.Request, _ []byte) bool {
				if !strings.HasSuffix(r.URL.Path, "/users") || answered.Swap(true) {
					return false
				}
				return answer(tc.status, tc.body)(w, r, nil)
			})
			ms := emailUploads(0, 3)
			_, err := b.apply(t, connectors.OpAdd, ms)
			require.Error(t, err)
			tc.check(t, err)
			// The engine's retry of the batch goes through.
			res, err := b.apply(t, connectors.OpAdd, ms)
			require.NoError(t, err)
			require.Empty(t, res.Rejected)
			require.ElementsMatch(t, values(ms), b.r.members(b.aud.ID))
		})
	}
}

// A 401 on upload stops the destination with what to do.
func TestApplyRevokedToken(t *testing.T) {
	t.Parallel()
	r := newReplica(t, "x.users:401*1", 0, nil)
	d := r.dest(t, nil)
	aud, err := d.Ensure(t.Context(), connectors.AudienceSpec{Name: "a", Create: true})
	require.NoError(t, err)
	_, err = d.Apply(t.Context(), aud, connectors.Batch{Op: connectors.OpAdd, Seq: 1, Members: emailUploads(0, 2)})
	require.ErrorIs(t, err, connectors.ErrReauthenticate)
	require.ErrorContains(t, err, "regenerate the access token")
	require.NotContains(t, err.Error(), xplatform.ReplicaAccessSecret)
	act, _ := connectors.Classify(err)
	require.Equal(t, connectors.ActionStop, act)
	require.False(t, errors.Is(err, connectors.ErrFatal))
}
