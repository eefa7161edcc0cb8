package x

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors"
	xplatform "github.com/audiencesync/audiencesync/platform/x"
)

func TestEnsure(t *testing.T) {
	t.Parallel()
	account := xplatform.ReplicaAccount
	for _, tc := range []struct {
		name string
		// prepare creates audiences in the replica and returns the spec.
		prepare     func(r *replica) connectors.AudienceSpec
		wantName    string
		wantCreated bool
		wantErr     string
		wantFatal   bool
	}{
		{
			name: "by id",
			prepare: func(r *replica) connectors.AudienceSpec {
				id := r.x.CreateAudience(account, "Listed elsewhere")
				return connectors.AudienceSpec{ID: id, Name: "Other name"}
			},
			wantName: "Listed elsewhere",
		},
		{
			name: "by id recorded last run, after a rename",
			prepare: func(r *replica) connectors.AudienceSpec {
				id := r.x.CreateAudience(account, "Renamed in Ads Manager")
				return connectors.AudienceSpec{KnownID: id, Name: "Cart abandoners", Create: true}
			},
			wantName: "Renamed in Ads Manager",
		},
		{
			name: "by name",
			prepare: func(r *replica) connectors.AudienceSpec {
				r.x.CreateAudience(account, "Someone else's")
				r.x.CreateAudience("otheraccount", "Cart abandoners")
				r.x.CreateAudience(account, "Cart abandoners")
				return connectors.AudienceSpec{Name: "Cart abandoners"}
			},
			wantName: "Cart abandoners",
		},
		{
			name: "by name past the first page",
			prepare: func(r *replica) connectors.AudienceSpec {
				for i := range 1005 {
					r.x.CreateAudience(account, fmt.Sprintf("filler %d", i))
				}
				r.x.CreateAudience(account, "On page two")
				return connectors.AudienceSpec{Name: "On page two"}
			},
			wantName: "On page two",
		},
		{
			name: "recorded id deleted, found by name",
			prepare: func(r *replica) connectors.AudienceSpec {
				r.x.CreateAudience(account, "Cart abandoners")
				return connectors.AudienceSpec{KnownID: "zzzz", Name: "Cart abandoners"}
			},
			wantName: "Cart abandoners",
		},
		{
			name: "created when allowed",
			prepare: func(*replica) connectors.AudienceSpec {
				return connectors.AudienceSpec{Name: "Brand new", Description: "made by audiencesync", Create: true}
			},
			wantName:    "Brand new",
			wantCreated: true,
		},
		{
			name: "missing and creation not allowed",
			prepare: func(*replica) connectors.AudienceSpec {
				return connectors.AudienceSpec{Name: "Nowhere"}
			},
			wantErr:   `no custom audience named "Nowhere"`,
			wantFatal: true,
		},
		{
			name: "configured id missing",
			prepare: func(*replica) connectors.AudienceSpec {
				return connectors.AudienceSpec{ID: "zzzz", Name: "Cart abandoners", Create: true}
			},
			wantErr:   "custom audience zzzz does not exist",
			wantFatal: true,
		},
		{
			name: "two audiences of the name",
			prepare: func(r *replica) connectors.AudienceSpec {
				r.x.CreateAudience(account, "Twice")
				r.x.CreateAudience(account, "Twice")
				return connectors.AudienceSpec{Name: "Twice", Create: true}
			},
			wantErr:   `2 custom audiences named "Twice"`,
			wantFatal: true,
		},
		{
			name:      "neither id nor name",
			prepare:   func(*replica) connectors.AudienceSpec { return connectors.AudienceSpec{Create: true} },
			wantErr:   "neither an id nor a name",
			wantFatal: true,
		},
		{
			name: "name X refuses",
			prepare: func(*replica) connectors.AudienceSpec {
				return connectors.AudienceSpec{Name: strings.Repeat("n", 300), Create: true}
			},
			wantErr:   "fix the audience name",
			wantFatal: true,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newReplica(t, "", 0, nil)
			d := r.dest(t, nil)
			spec := tc.prepare(r)
			aud, err := d.Ensure(t.Context(), spec)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				require.Equal(t, tc.wantFatal, errors.Is(err, connectors.ErrFatal), "fatal: %v", err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.wantName, aud.Name)
			require.Equal(t, tc.wantCreated, aud.Created)
			var found bool
			for _, a := range r.x.State(false) {
				if a.ID == aud.ID {
					found = true
					require.Equal(t, account, a.Account)
					require.Equal(t, tc.wantName, a.Name)
				}
			}
			require.True(t, found, "the audience is in the replica")
			again, err := d.Ensure(t.Context(), connectors.AudienceSpec{KnownID: aud.ID, Name: tc.wantName})
			require.NoError(t, err)
			require.Equal(t, aud.ID, again.ID)
			require.False(t, again.Created)
		})
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		mod      func(*Settings)
		hook     func(w http.ResponseWriter, r *http.Request, body []byte) bool
		wantErr  string
		wantKind error
	}{
		{name: "valid credentials"},
		{
			name:     "revoked token",
			mod:      func(s *Settings) { s.AccessToken = auth.NewSecret(xplatform.ReplicaRevokedToken) },
			wantErr:  "regenerate the access token and secret in the X developer portal",
			wantKind: connectors.ErrReauthenticate,
		},
		{
			name:     "wrong consumer secret",
			mod:      func(s *Settings) { s.ConsumerSecret = auth.NewSecret("wrong") },
			wantErr:  "UNAUTHORIZED_ACCESS",
			wantKind: connectors.ErrReauthenticate,
		},
		{
			name:     "no access to the account",
			hook:     answer(http.StatusForbidden, `{"errors":[{"code":"UNAUTHORIZED_ACCOUNT_ACCESS","message":"User is not authorized to access this account"}]}`),
			wantErr:  "give the user who owns the access token a role on the account",
			wantKind: connectors.ErrFatal,
		},
		{
			name:     "unknown account",
			hook:     answer(http.StatusNotFound, `{"errors":[{"code":"NOT_FOUND","message":"Account not found"}]}`),
			wantErr:  "check account_id",
			wantKind: connectors.ErrFatal,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := newReplica(t, "", 0, nil)
			r.rec.setHook(tc.hook)
			s := r.settings()
			if tc.mod != nil {
				tc.mod(s)
			}
			err := r.dest(t, s).Check(t.Context())
			if tc.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tc.wantErr)
			require.ErrorIs(t, err, tc.wantKind)
			require.NotContains(t, err.Error(), xplatform.ReplicaAccessSecret)
			require.NotContains(t, err.Error(), xplatform.ReplicaConsumerSecret)
		})
	}
}

// answer is a recorder hook that answers every request with status and an
// X-shaped JSON body.
func answer(status int, body string) func(http.ResponseWriter, *http.Request, []byte) bool {
	return func(w http.ResponseWriter, _ *http.Request, _ []byte) bool {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
		return true
	}
}
