package connectors_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/connectors"
)

func TestCutAudience(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, prefix, rest string
		ok               bool
	}{
		{"Newsletter", "newsletter", "", false},
		{"id:123", "id", "123", true},
		{" ID : 123 ", "id", "123", true},
		{"name:Promo: spring", "name", "Promo: spring", true},
		{"soql:SELECT Id FROM Contact", "soql", "SELECT Id FROM Contact", true},
		{"name:", "name", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			prefix, rest, ok := connectors.CutAudience(tt.in)
			require.Equal(t, tt.ok, ok)
			require.Equal(t, tt.rest, rest)
			if tt.ok {
				require.Equal(t, tt.prefix, prefix)
			}
		})
	}
}
