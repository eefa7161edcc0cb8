package googledm

import "encoding/json"

// Request and resource shapes of the Data Manager API v1, with the JSON
// names of google.golang.org/api/datamanager/v1. Messages the replica does
// not support (encryption, pair or PPID data, events) are kept as raw JSON
// so that sending them is refused with a clear error rather than as an
// unknown field.

type productAccount struct {
	AccountID   string `json:"accountId"`
	AccountType string `json:"accountType"`
	Product     string `json:"product"`
}

type destination struct {
	LinkedAccount        *productAccount `json:"linkedAccount,omitempty"`
	LoginAccount         *productAccount `json:"loginAccount,omitempty"`
	OperatingAccount     *productAccount `json:"operatingAccount,omitempty"`
	ProductDestinationID string          `json:"productDestinationId,omitempty"`
	Reference            string          `json:"reference,omitempty"`
}

type consent struct {
	AdPersonalization string `json:"adPersonalization"`
	AdUserData        string `json:"adUserData"`
}

type termsOfService struct {
	CustomerMatchTermsOfServiceStatus string `json:"customerMatchTermsOfServiceStatus"`
}

type addressInfo struct {
	AddressLine        string `json:"addressLine"`
	AdministrativeArea string `json:"administrativeArea"`
	City               string `json:"city"`
	FamilyName         string `json:"familyName"`
	GivenName          string `json:"givenName"`
	PostalCode         string `json:"postalCode"`
	RegionCode         string `json:"regionCode"`
}

type userIdentifier struct {
	Address      *addressInfo `json:"address"`
	EmailAddress string       `json:"emailAddress"`
	PhoneNumber  string       `json:"phoneNumber"`
}

type userData struct {
	UserIdentifiers []userIdentifier `json:"userIdentifiers"`
}

type mobileData struct {
	MobileIDs []string `json:"mobileIds"`
}

type audienceMember struct {
	CompositeData         json.RawMessage `json:"compositeData"`
	Consent               *consent        `json:"consent"`
	DestinationReferences []string        `json:"destinationReferences"`
	GoogleUserIDData      json.RawMessage `json:"googleUserIdData"`
	MobileData            *mobileData     `json:"mobileData"`
	PairData              json.RawMessage `json:"pairData"`
	PartnerProvidedIDData json.RawMessage `json:"partnerProvidedIdData"`
	PpidData              json.RawMessage `json:"ppidData"`
	UserData              *userData       `json:"userData"`
	UserIDData            json.RawMessage `json:"userIdData"`
}

type ingestRequest struct {
	AudienceMembers []audienceMember `json:"audienceMembers"`
	Consent         *consent         `json:"consent"`
	Destinations    []destination    `json:"destinations"`
	Encoding        string           `json:"encoding"`
	EncryptionInfo  json.RawMessage  `json:"encryptionInfo"`
	TermsOfService  *termsOfService  `json:"termsOfService"`
	ValidateOnly    bool             `json:"validateOnly"`
}

type removeRequest struct {
	AudienceMembers []audienceMember `json:"audienceMembers"`
	Destinations    []destination    `json:"destinations"`
	Encoding        string           `json:"encoding"`
	EncryptionInfo  json.RawMessage  `json:"encryptionInfo"`
	ValidateOnly    bool             `json:"validateOnly"`
}

type removeAllRequest struct {
	Destinations   []destination `json:"destinations"`
	RemoveAsOfTime string        `json:"removeAsOfTime"`
	ValidateOnly   bool          `json:"validateOnly"`
}

type contactIDInfo struct {
	DataSourceType      string `json:"dataSourceType,omitempty"`
	MatchRatePercentage int64  `json:"matchRatePercentage,omitempty"`
}

type mobileIDInfo struct {
	AppID          string `json:"appId,omitempty"`
	DataSourceType string `json:"dataSourceType,omitempty"`
	KeySpace       string `json:"keySpace,omitempty"`
}

type ingestedUserListInfo struct {
	ContactIDInfo       *contactIDInfo  `json:"contactIdInfo,omitempty"`
	MobileIDInfo        *mobileIDInfo   `json:"mobileIdInfo,omitempty"`
	PairIDInfo          json.RawMessage `json:"pairIdInfo,omitempty"`
	PartnerAudienceInfo json.RawMessage `json:"partnerAudienceInfo,omitempty"`
	PseudonymousIDInfo  json.RawMessage `json:"pseudonymousIdInfo,omitempty"`
	UploadKeyTypes      []string        `json:"uploadKeyTypes,omitempty"`
	UserIDInfo          json.RawMessage `json:"userIdInfo,omitempty"`
}

type sizeInfo struct {
	DisplayNetworkMembersCount string `json:"displayNetworkMembersCount,omitempty"`
	GmailMembersCount          string `json:"gmailMembersCount,omitempty"`
	SearchNetworkMembersCount  string `json:"searchNetworkMembersCount,omitempty"`
	YoutubeMembersCount        string `json:"youtubeMembersCount,omitempty"`
}

type targetNetworkInfo struct {
	EligibleForDisplay bool `json:"eligibleForDisplay,omitempty"`
	EligibleForSearch  bool `json:"eligibleForSearch,omitempty"`
}

// userList is both the request body of create/patch and the resource
// returned; output-only fields sent by a client are ignored, as Google does.
type userList struct {
	AccessReason         string                `json:"accessReason,omitempty"`
	AccountAccessStatus  string                `json:"accountAccessStatus,omitempty"`
	ClosingReason        string                `json:"closingReason,omitempty"`
	Description          string                `json:"description,omitempty"`
	DisplayName          string                `json:"displayName,omitempty"`
	ID                   string                `json:"id,omitempty"`
	IngestedUserListInfo *ingestedUserListInfo `json:"ingestedUserListInfo,omitempty"`
	IntegrationCode      string                `json:"integrationCode,omitempty"`
	MembershipDuration   string                `json:"membershipDuration,omitempty"`
	MembershipStatus     string                `json:"membershipStatus,omitempty"`
	Name                 string                `json:"name,omitempty"`
	ReadOnly             bool                  `json:"readOnly,omitempty"`
	SizeInfo             *sizeInfo             `json:"sizeInfo,omitempty"`
	TargetNetworkInfo    *targetNetworkInfo    `json:"targetNetworkInfo,omitempty"`
}

type listUserListsResponse struct {
	NextPageToken string     `json:"nextPageToken,omitempty"`
	UserLists     []userList `json:"userLists"`
}

type requestIDResponse struct {
	RequestID string `json:"requestId"`
}

// Request status (GET /v1/requestStatus:retrieve). Counts are int64 sent
// as JSON strings, as the API does.

type userDataStatus struct {
	RecordCount          int64  `json:"recordCount,omitempty,string"`
	UploadMatchRateRange string `json:"uploadMatchRateRange,omitempty"`
	UserIdentifierCount  int64  `json:"userIdentifierCount,omitempty,string"`
}

type mobileDataStatus struct {
	MobileIDCount int64 `json:"mobileIdCount,omitempty,string"`
	RecordCount   int64 `json:"recordCount,omitempty,string"`
}

type ingestStatus struct {
	MobileDataIngestionStatus *mobileDataStatus `json:"mobileDataIngestionStatus,omitempty"`
	UserDataIngestionStatus   *userDataStatus   `json:"userDataIngestionStatus,omitempty"`
}

type removalStatus struct {
	MobileDataRemovalStatus *mobileDataStatus `json:"mobileDataRemovalStatus,omitempty"`
	UserDataRemovalStatus   *userDataStatus   `json:"userDataRemovalStatus,omitempty"`
}

type errorCount struct {
	Reason      string `json:"reason"`
	RecordCount int64  `json:"recordCount,string"`
}

type errorInfo struct {
	ErrorCounts []errorCount `json:"errorCounts,omitempty"`
}

type statusPerDestination struct {
	AudienceMembersIngestionStatus *ingestStatus  `json:"audienceMembersIngestionStatus,omitempty"`
	AudienceMembersRemovalStatus   *removalStatus `json:"audienceMembersRemovalStatus,omitempty"`
	Destination                    destination    `json:"destination"`
	ErrorInfo                      *errorInfo     `json:"errorInfo,omitempty"`
	RemoveAllAudienceMembersStatus *struct{}      `json:"removeAllAudienceMembersStatus,omitempty"`
	RequestStatus                  string         `json:"requestStatus"`
}

type retrieveStatusResponse struct {
	RequestStatusPerDestination []statusPerDestination `json:"requestStatusPerDestination"`
}
