// This test drives the replica with Google's generated Data Manager client,
// so the replica is checked against what the real client sends.

package googledm

import (
	"context"
	"errors"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/oauth2"
	datamanager "google.golang.org/api/datamanager/v1"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"

	"github.com/audiencesync/audiencesync/platform/google"
)

func TestWithGeneratedClient(t *testing.T) {
	t.Parallel()
	b := setup(t, Options{})
	ctx := context.Background()
	svc, err := datamanager.NewService(ctx,
		option.WithEndpoint(b.ts.URL+"/"),
		option.WithTokenSource(oauth2.StaticTokenSource(&oauth2.Token{AccessToken: google.ReplicaToken})))
	require.NoError(t, err)

	parent := "accountTypes/GOOGLE_ADS/accounts/" + account
	list, err := svc.AccountTypes.Accounts.UserLists.Create(parent, &datamanager.UserList{
		DisplayName:        "Cart abandoners",
		MembershipDuration: "46656000s",
		IngestedUserListInfo: &datamanager.IngestedUserListInfo{
			UploadKeyTypes: []string{"CONTACT_ID"},
			ContactIdInfo:  &datamanager.ContactIdInfo{DataSourceType: "DATA_SOURCE_TYPE_FIRST_PARTY"},
		},
	}).Context(ctx).Do()
	require.NoError(t, err)
	listID := strconv.FormatInt(list.Id, 10)
	require.Equal(t, parent+"/userLists/"+listID, list.Name)

	got, err := svc.AccountTypes.Accounts.UserLists.Get(list.Name).Context(ctx).Do()
	require.NoError(t, err)
	require.Equal(t, "Cart abandoners", got.DisplayName)

	dest := []*datamanager.Destination{{
		OperatingAccount:     &datamanager.ProductAccount{AccountType: "GOOGLE_ADS", AccountId: account},
		ProductDestinationId: listID,
	}}
	members := []*datamanager.AudienceMember{{UserData: &datamanager.UserData{UserIdentifiers: []*datamanager.UserIdentifier{
		{EmailAddress: sha("a@example.com")},
		{Address: &datamanager.AddressInfo{GivenName: sha("quinn"), FamilyName: sha("young"), RegionCode: "US", PostalCode: "94045"}},
	}}}}
	resp, err := svc.AudienceMembers.Ingest(&datamanager.IngestAudienceMembersRequest{
		Destinations:    dest,
		AudienceMembers: members,
		Consent:         &datamanager.Consent{AdUserData: "CONSENT_GRANTED", AdPersonalization: "CONSENT_GRANTED"},
		Encoding:        "HEX",
		TermsOfService:  &datamanager.TermsOfService{CustomerMatchTermsOfServiceStatus: "ACCEPTED"},
	}).Context(ctx).Do()
	require.NoError(t, err)
	require.Len(t, b.srv.Members(listID), 2)

	status, err := svc.RequestStatus.Retrieve().RequestId(resp.RequestId).Context(ctx).Do()
	require.NoError(t, err)
	st := status.RequestStatusPerDestination[0]
	require.Equal(t, "SUCCESS", st.RequestStatus)
	require.EqualValues(t, 1, st.AudienceMembersIngestionStatus.UserDataIngestionStatus.RecordCount)
	require.EqualValues(t, 2, st.AudienceMembersIngestionStatus.UserDataIngestionStatus.UserIdentifierCount)

	_, err = svc.AudienceMembers.Remove(&datamanager.RemoveAudienceMembersRequest{
		Destinations: dest, AudienceMembers: members[:1], Encoding: "HEX",
	}).Context(ctx).Do()
	require.NoError(t, err)
	require.Empty(t, b.srv.Members(listID))

	// A refused request surfaces as a googleapi.Error with Google's details.
	_, err = svc.AudienceMembers.Ingest(&datamanager.IngestAudienceMembersRequest{
		Destinations: dest, AudienceMembers: members, Encoding: "HEX",
		Consent: &datamanager.Consent{AdUserData: "CONSENT_GRANTED", AdPersonalization: "CONSENT_GRANTED"},
	}).Context(ctx).Do()
	var gerr *googleapi.Error
	require.True(t, errors.As(err, &gerr), "got %v", err)
	require.Equal(t, 400, gerr.Code)
	require.Contains(t, gerr.Message, "termsOfService")
	require.NotEmpty(t, gerr.Details)
}
