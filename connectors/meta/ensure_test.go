package meta_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/meta"
	"github.com/audiencesync/audiencesync/sandbox"
	"github.com/audiencesync/audiencesync/sandbox/metagraph"
)

func TestEnsure(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		// prepare fills the replica and returns the spec to ensure.
		prepare func(b *bundle) connectors.AudienceSpec
		// want is the name of the audience Ensure must return; created
		// says whether it must create it.
		want    string
		created bool
		// fatal, when set, is part of the error Ensure must stop with.
		fatal string
	}{
		{
			name: "create when allowed",
			prepare: func(*bundle) connectors.AudienceSpec {
				return connectors.AudienceSpec{Name: "New", Description: "d", Create: true}
			},
			want: "New", created: true,
		},
		{
			name: "find by name",
			prepare: func(b *bundle) connectors.AudienceSpec {
				sandbox.ReplicaOf[*metagraph.Server](b.sb).CreateAudience(adAccount, "Other")
				sandbox.ReplicaOf[*metagraph.Server](b.sb).CreateAudience(adAccount, "Existing")
				return connectors.AudienceSpec{Name: "Existing", Create: true}
			},
			want: "Existing",
		},
		{
			name: "find by name past the first pages",
			prepare: func(b *bundle) connectors.AudienceSpec {
				for i := range 1100 {
					sandbox.ReplicaOf[*metagraph.Server](b.sb).CreateAudience(adAccount, fmt.Sprintf("filler %d", i))
				}
				sandbox.ReplicaOf[*metagraph.Server](b.sb).CreateAudience(adAccount, "Last")
				return connectors.AudienceSpec{Name: "Last"}
			},
			want: "Last",
		},
		{
			name: "find by id whatever the name",
			prepare: func(b *bundle) connectors.AudienceSpec {
				id := sandbox.ReplicaOf[*metagraph.Server](b.sb).CreateAudience(adAccount, "Renamed in Ads Manager")
				return connectors.AudienceSpec{ID: id, Name: "Configured name"}
			},
			want: "Renamed in Ads Manager",
		},
		{
			name: "find the id state recorded after a rename",
			prepare: func(b *bundle) connectors.AudienceSpec {
				id := sandbox.ReplicaOf[*metagraph.Server](b.sb).CreateAudience(adAccount, "Renamed in Ads Manager")
				return connectors.AudienceSpec{KnownID: id, Name: "Configured name", Create: true}
			},
			want: "Renamed in Ads Manager",
		},
		{
			name: "recorded id gone: find by name",
			prepare: func(b *bundle) connectors.AudienceSpec {
				sandbox.ReplicaOf[*metagraph.Server](b.sb).CreateAudience(adAccount, "Configured name")
				return connectors.AudienceSpec{KnownID: "99999", Name: "Configured name"}
			},
			want: "Configured name",
		},
		{
			name: "same name in another ad account is not ours",
			prepare: func(b *bundle) connectors.AudienceSpec {
				sandbox.ReplicaOf[*metagraph.Server](b.sb).CreateAudience("act_999", "Shared name")
				return connectors.AudienceSpec{Name: "Shared name", Create: true}
			},
			want: "Shared name", created: true,
		},
		{
			name:    "missing without create",
			prepare: func(*bundle) connectors.AudienceSpec { return connectors.AudienceSpec{Name: "Nowhere"} },
			fatal:   `no custom audience named "Nowhere"`,
		},
		{
			name: "configured id missing",
			prepare: func(*bundle) connectors.AudienceSpec {
				return connectors.AudienceSpec{ID: "12345", Name: "x", Create: true}
			},
			fatal: "check audience.id",
		},
		{
			name: "configured id in another ad account",
			prepare: func(b *bundle) connectors.AudienceSpec {
				return connectors.AudienceSpec{ID: sandbox.ReplicaOf[*metagraph.Server](b.sb).CreateAudience("act_999", "theirs")}
			},
			fatal: "check audience.id",
		},
		{
			name:    "configured id not an id",
			prepare: func(*bundle) connectors.AudienceSpec { return connectors.AudienceSpec{ID: "../act_1"} },
			fatal:   "Meta ids are digits",
		},
		{
			name: "two audiences of the name",
			prepare: func(b *bundle) connectors.AudienceSpec {
				sandbox.ReplicaOf[*metagraph.Server](b.sb).CreateAudience(adAccount, "Twice")
				sandbox.ReplicaOf[*metagraph.Server](b.sb).CreateAudience(adAccount, "Twice")
				return connectors.AudienceSpec{Name: "Twice", Create: true}
			},
			fatal: "set audience.id",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			b := setup(t, "")
			spec := tt.prepare(b)
			got, err := b.dest().Ensure(t.Context(), spec)
			if tt.fatal != "" {
				require.ErrorIs(t, err, connectors.ErrFatal)
				require.ErrorContains(t, err, tt.fatal)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.created, got.Created)
			require.Equal(t, tt.want, got.Name)
			require.Equal(t, b.audienceID(tt.want), got.ID)
		})
	}
}

// A created audience is a customer-file audience with the configured
// source and description.
func TestEnsureCreateParams(t *testing.T) {
	t.Parallel()
	b := setup(t, "")
	d := b.dest(func(s *meta.Settings) { s.CustomerFileSource = "PARTNER_PROVIDED_ONLY" })
	_, err := d.Ensure(t.Context(), connectors.AudienceSpec{Name: "Created", Description: "from the CRM", Create: true})
	require.NoError(t, err)
	creates := b.calls("customaudiences")
	last := creates[len(creates)-1]
	require.Equal(t, "POST", last.method)
	require.Equal(t, "CUSTOM", last.params.Get("subtype"))
	require.Equal(t, "PARTNER_PROVIDED_ONLY", last.params.Get("customer_file_source"))
	require.Equal(t, "from the CRM", last.params.Get("description"))
	require.NotEmpty(t, last.params.Get("appsecret_proof"))
}
