package audience_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/audience"
)

func TestReadConsent(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		v      string
		optOut bool
		want   audience.ConsentStatus
		ok     bool
	}{
		{"true", true, audience.ConsentDenied, true},
		{" TRUE ", true, audience.ConsentDenied, true},
		{"false", true, audience.ConsentUnspecified, true},
		{"", true, audience.ConsentUnspecified, true},
		{"maybe", true, audience.ConsentUnspecified, false},
		{"true", false, audience.ConsentGranted, true},
		{"false", false, audience.ConsentDenied, true},
		{"maybe", false, audience.ConsentUnspecified, false},
	} {
		t.Run(tc.v, func(t *testing.T) {
			t.Parallel()
			got, ok := audience.ReadConsent(tc.v, tc.optOut)
			require.Equal(t, tc.ok, ok)
			if ok {
				require.Equal(t, tc.want, got)
			}
		})
	}
}

func TestConsentAnswer(t *testing.T) {
	t.Parallel()
	var c audience.Consent
	*c.Answer(0) = audience.ConsentGranted
	*c.Answer(1) = audience.ConsentDenied
	require.Equal(t, audience.Consent{AdUserData: audience.ConsentGranted, AdPersonalization: audience.ConsentDenied}, c)
}
