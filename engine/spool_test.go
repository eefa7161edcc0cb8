package engine

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
)

func TestSpoolYieldsEveryChangeInKeyOrder(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ n, limit int }{
		{0, 10}, {5, 10}, {10, 10}, {25, 10}, {1003, 64}, {300, 1},
	} {
		t.Run(fmt.Sprintf("%d_by_%d", tc.n, tc.limit), func(t *testing.T) {
			t.Parallel()
			s := spool{limit: tc.limit}
			defer s.close()
			want := map[audience.MemberKey]string{}
			for i := range tc.n {
				k := audience.KeyFromSource(fmt.Sprint(i))
				ids := audience.EncodeIdentifiers(nil, []audience.Identifier{{Kind: audience.ExternalID, Value: fmt.Sprint("id-", i)}})
				s.add(change{key: k, ids: ids, kind: kindAdd, consent: audience.Consent{AdUserData: audience.ConsentGranted}})
				want[k] = fmt.Sprint("id-", i)
			}
			require.Equal(t, tc.n, s.len())
			for pass := range 2 {
				var prev *audience.MemberKey
				got := map[audience.MemberKey]string{}
				for ch, err := range s.all() {
					require.NoError(t, err)
					if prev != nil {
						require.Negative(t, prev.Compare(ch.key), "pass %d: keys in order", pass)
					}
					k := ch.key
					prev = &k
					ids, err := audience.DecodeIdentifiers(ch.ids)
					require.NoError(t, err)
					got[ch.key] = ids[0].Value
					require.Equal(t, kindAdd, ch.kind)
					require.Equal(t, audience.ConsentGranted, ch.consent.AdUserData)
				}
				require.Equal(t, want, got, "pass %d", pass)
			}
		})
	}
}
