package googledm

import (
	"encoding/base64"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/audiencesync/audiencesync/sandbox/internal/wire"
)

// listRef is accountTypes/{accountType}/accounts/{account}/userLists/{id}.
type listRef struct {
	accountType, account, id string
}

func (ref listRef) check() *apiError {
	switch ref.accountType {
	case "GOOGLE_ADS":
	case "DISPLAY_VIDEO_PARTNER", "DISPLAY_VIDEO_ADVERTISER", "DATA_PARTNER":
		return invalidArg("parent", "UNSUPPORTED_ACCOUNT_TYPE",
			"Account type %s is valid but the sandbox replicates Customer Match for GOOGLE_ADS accounts only.", ref.accountType)
	default:
		return invalidArg("parent", "INVALID_ACCOUNT_TYPE",
			"Invalid value at 'parent': account type %q is not a valid AccountType.", ref.accountType)
	}
	if !isAccountID(ref.account) {
		return invalidArg("parent", "INVALID_ACCOUNT_ID",
			"Invalid account id %q: a Google Ads customer id is 10 digits without hyphens.", ref.account)
	}
	return nil
}

var accountIDPattern = regexp.MustCompile(`^[0-9]{1,20}$`)

func isAccountID(s string) bool { return accountIDPattern.MatchString(s) }

func resourceName(account, id string) string {
	return "accountTypes/GOOGLE_ADS/accounts/" + account + "/userLists/" + id
}

func boolParam(r *http.Request, name string) (bool, *apiError) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, invalidArg(name, "INVALID_ARGUMENT", "Invalid value at '%s' (TYPE_BOOL), %q", name, v)
	}
	return b, nil
}

var (
	uploadKeyTypes  = []string{"CONTACT_ID", "MOBILE_ID", "USER_ID", "PAIR_ID", "PSEUDONYMOUS_ID"}
	dataSourceTypes = []string{"DATA_SOURCE_TYPE_FIRST_PARTY", "DATA_SOURCE_TYPE_THIRD_PARTY_CREDIT_BUREAU",
		"DATA_SOURCE_TYPE_THIRD_PARTY_VOTER_FILE", "DATA_SOURCE_TYPE_THIRD_PARTY_PARTNER_DATA"}
)

// parseDuration reads a google-duration ("46656000s", "1.5s").
func parseDuration(s string) (time.Duration, bool) {
	num, ok := strings.CutSuffix(s, "s")
	if !ok || num == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 {
		return 0, false
	}
	return time.Duration(f * float64(time.Second)), true
}

func validateDuration(d string) *apiError {
	dur, ok := parseDuration(d)
	if !ok {
		return invalidArg("membershipDuration", "INVALID_ARGUMENT",
			"Invalid value at 'membershipDuration' (type.googleapis.com/google.protobuf.Duration), %q", d)
	}
	if dur <= 0 || dur > MaxMembershipDurationDay*24*time.Hour {
		return invalidArg("membershipDuration", "INVALID_MEMBERSHIP_DURATION",
			"membershipDuration must be positive and at most %d days (%ds).", MaxMembershipDurationDay, MaxMembershipDurationDay*24*3600)
	}
	return nil
}

func validateListInfo(info *ingestedUserListInfo) *apiError {
	if info == nil || len(info.UploadKeyTypes) == 0 {
		return invalidArg("ingestedUserListInfo.uploadKeyTypes", "REQUIRED_FIELD_MISSING",
			"ingestedUserListInfo.uploadKeyTypes is required: say which identifiers the list takes (CONTACT_ID for e-mail, phone and address).")
	}
	for i, k := range info.UploadKeyTypes {
		if !slices.Contains(uploadKeyTypes, k) {
			return invalidArg("ingestedUserListInfo.uploadKeyTypes["+strconv.Itoa(i)+"]", "INVALID_ARGUMENT",
				"Invalid value at 'ingestedUserListInfo.uploadKeyTypes[%d]' (type.googleapis.com/google.ads.datamanager.v1.IngestedUserListInfo.UploadKeyType), %q", i, k)
		}
		if k != "CONTACT_ID" && k != "MOBILE_ID" {
			return invalidArg("ingestedUserListInfo.uploadKeyTypes", "UNSUPPORTED_UPLOAD_KEY_TYPE",
				"Upload key type %s is not supported by the sandbox (use CONTACT_ID or MOBILE_ID).", k)
		}
	}
	if len(info.PairIDInfo)+len(info.PartnerAudienceInfo)+len(info.PseudonymousIDInfo)+len(info.UserIDInfo) > 0 {
		return invalidArg("ingestedUserListInfo", "UNSUPPORTED_UPLOAD_KEY_TYPE",
			"Only contactIdInfo and mobileIdInfo are supported by the sandbox.")
	}
	if c := info.ContactIDInfo; c != nil && c.DataSourceType != "" && !slices.Contains(dataSourceTypes, c.DataSourceType) {
		return invalidArg("ingestedUserListInfo.contactIdInfo.dataSourceType", "INVALID_ARGUMENT",
			"Invalid value at 'ingestedUserListInfo.contactIdInfo.dataSourceType', %q", c.DataSourceType)
	}
	if slices.Contains(info.UploadKeyTypes, "MOBILE_ID") {
		m := info.MobileIDInfo
		if m == nil || m.AppID == "" || (m.KeySpace != "IOS" && m.KeySpace != "ANDROID") {
			return invalidArg("ingestedUserListInfo.mobileIdInfo", "REQUIRED_FIELD_MISSING",
				"A MOBILE_ID list needs mobileIdInfo with appId and keySpace IOS or ANDROID.")
		}
	}
	return nil
}

func validateStatus(status string) *apiError {
	switch status {
	case "", "OPEN", "CLOSED":
		return nil
	}
	return invalidArg("membershipStatus", "INVALID_ARGUMENT", "Invalid value at 'membershipStatus', %q", status)
}

// readList reads a create or patch request: its validateOnly parameter
// and the user list in its body.
func readList(r *http.Request) (userList, bool, *apiError) {
	validateOnly, err := boolParam(r, "validateOnly")
	if err != nil {
		return userList{}, false, err
	}
	var in userList
	if err := decodeBody(r, &in); err != nil {
		return userList{}, false, err
	}
	return in, validateOnly, nil
}

func (s *Server) createList(w http.ResponseWriter, r *http.Request, ref listRef) *apiError {
	if err := ref.check(); err != nil {
		return err
	}
	in, validateOnly, err := readList(r)
	if err != nil {
		return err
	}
	if strings.TrimSpace(in.DisplayName) == "" {
		return invalidArg("displayName", "REQUIRED_FIELD_MISSING", "displayName is required.")
	}
	if in.MembershipDuration == "" {
		in.MembershipDuration = strconv.Itoa(MaxMembershipDurationDay*24*3600) + "s"
	}
	if err := validateDuration(in.MembershipDuration); err != nil {
		return err
	}
	if err := validateListInfo(in.IngestedUserListInfo); err != nil {
		return err
	}
	if err := validateStatus(in.MembershipStatus); err != nil {
		return err
	}
	s.Changes.LockSettled()
	defer s.Changes.UnlockSettled()
	for _, l := range s.lists.All() {
		if l.account == ref.account && l.res.DisplayName == in.DisplayName {
			return invalidArg("displayName", "NAME_ALREADY_USED",
				"A user list named %q already exists in account %s.", in.DisplayName, ref.account)
		}
	}
	if validateOnly {
		writeJSON(w, http.StatusOK, s.present(&list{account: ref.account, res: in, members: wire.Set{}}))
		return nil
	}
	l := s.newListLocked(ref.account, in)
	writeJSON(w, http.StatusOK, s.present(l))
	return nil
}

// newListLocked stores a list from a validated resource; s.mu is held.
func (s *Server) newListLocked(account string, in userList) *list {
	id := s.lists.NewID()
	res := userList{
		Description:          in.Description,
		DisplayName:          in.DisplayName,
		IngestedUserListInfo: in.IngestedUserListInfo,
		IntegrationCode:      in.IntegrationCode,
		MembershipDuration:   in.MembershipDuration,
		MembershipStatus:     in.MembershipStatus,
		TargetNetworkInfo:    in.TargetNetworkInfo,
	}
	l := &list{account: account, res: res, members: wire.Set{}, created: s.opts.Now()}
	l.res.ID = id
	s.lists.Add(id, l)
	return l
}

// present fills the output-only fields of a list; s.mu is held.
func (s *Server) present(l *list) userList {
	out := l.res
	out.Name = resourceName(l.account, l.res.ID)
	out.AccessReason = "OWNED"
	out.AccountAccessStatus = "ENABLED"
	if out.MembershipStatus == "" {
		out.MembershipStatus = "OPEN"
	}
	// Google counts people: an audience member is one however many
	// identifiers it carries, and members sharing one are one.
	n := strconv.Itoa(l.members.People())
	out.SizeInfo = &sizeInfo{DisplayNetworkMembersCount: n, SearchNetworkMembersCount: n}
	if out.TargetNetworkInfo == nil {
		out.TargetNetworkInfo = &targetNetworkInfo{}
	}
	out.TargetNetworkInfo.EligibleForDisplay = true
	return out
}

// onList runs fn on the list a reference names, holding the settled lock.
func (s *Server) onList(ref listRef, fn func(*list) *apiError) *apiError {
	if err := ref.check(); err != nil {
		return err
	}
	s.Changes.LockSettled()
	defer s.Changes.UnlockSettled()
	l, ok := s.lists.Get(ref.id)
	if !ok || l.account != ref.account {
		return notFound("User list %s not found.", resourceName(ref.account, ref.id))
	}
	return fn(l)
}

func (s *Server) getList(w http.ResponseWriter, _ *http.Request, ref listRef) *apiError {
	return s.onList(ref, func(l *list) *apiError {
		writeJSON(w, http.StatusOK, s.present(l))
		return nil
	})
}

func (s *Server) deleteList(w http.ResponseWriter, r *http.Request, ref listRef) *apiError {
	validateOnly, aerr := boolParam(r, "validateOnly")
	if aerr != nil {
		return aerr
	}
	return s.onList(ref, func(l *list) *apiError {
		if !validateOnly {
			s.lists.Delete(l.res.ID)
		}
		writeJSON(w, http.StatusOK, struct{}{})
		return nil
	})
}

// filterPattern is the one filter the replica understands: an exact match
// on the display name, which is what a client looking up its list needs.
var filterPattern = regexp.MustCompile(`^\s*(display_name|displayName)\s*=\s*"((?:[^"\\]|\\.)*)"\s*$`)

func (s *Server) listLists(w http.ResponseWriter, r *http.Request, ref listRef) *apiError {
	if err := ref.check(); err != nil {
		return err
	}
	q := r.URL.Query()
	pageSize := 50
	if v := q.Get("pageSize"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return invalidArg("pageSize", "INVALID_ARGUMENT", "Invalid value at 'page_size' (TYPE_INT32), %q", v)
		}
		if n > 0 {
			pageSize = min(n, 1000)
		}
	}
	nameFilter, hasFilter := "", false
	if f := q.Get("filter"); f != "" {
		m := filterPattern.FindStringSubmatch(f)
		if m == nil {
			return invalidArg("filter", "INVALID_FILTER",
				"Unsupported filter %q: the sandbox understands display_name = \"NAME\" only.", f)
		}
		unq, err := strconv.Unquote(`"` + m[2] + `"`)
		if err != nil {
			return invalidArg("filter", "INVALID_FILTER", "Invalid filter %q.", f)
		}
		nameFilter, hasFilter = unq, true
	}
	offset := 0
	if tok := q.Get("pageToken"); tok != "" {
		raw, err := base64.RawURLEncoding.DecodeString(tok)
		n, err2 := strconv.Atoi(strings.TrimPrefix(string(raw), "offset:"))
		if err != nil || err2 != nil || !strings.HasPrefix(string(raw), "offset:") || n < 0 {
			return invalidArg("pageToken", "INVALID_PAGE_TOKEN", "Invalid page token.")
		}
		offset = n
	}
	s.Changes.LockSettled()
	defer s.Changes.UnlockSettled()
	matched := s.lists.Where(func(_ string, l *list) bool {
		return l.account == ref.account && (!hasFilter || l.res.DisplayName == nameFilter)
	})
	resp := listUserListsResponse{UserLists: []userList{}}
	end := min(offset+pageSize, len(matched))
	for i := offset; i < end; i++ {
		resp.UserLists = append(resp.UserLists, s.present(matched[i]))
	}
	if end < len(matched) {
		resp.NextPageToken = base64.RawURLEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(end)))
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) patchList(w http.ResponseWriter, r *http.Request, ref listRef) *apiError {
	in, validateOnly, err := readList(r)
	if err != nil {
		return err
	}
	var mask []string
	if m := r.URL.Query().Get("updateMask"); m != "" {
		for f := range strings.SplitSeq(m, ",") {
			mask = append(mask, strings.TrimSpace(f))
		}
	} else {
		// Without a mask every field present in the body is replaced.
		if in.DisplayName != "" {
			mask = append(mask, "displayName")
		}
		if in.Description != "" {
			mask = append(mask, "description")
		}
		if in.MembershipDuration != "" {
			mask = append(mask, "membershipDuration")
		}
		if in.MembershipStatus != "" {
			mask = append(mask, "membershipStatus")
		}
		if in.IntegrationCode != "" {
			mask = append(mask, "integrationCode")
		}
	}
	return s.onList(ref, func(l *list) *apiError { return s.patchLocked(w, l, in, mask, validateOnly) })
}

// patchLocked applies the fields of in that mask names to l (or only
// checks them, validateOnly) and answers with the list as patched; the
// settled lock is held.
func (s *Server) patchLocked(w http.ResponseWriter, l *list, in userList, mask []string, validateOnly bool) *apiError {
	next := l.res
	for _, f := range mask {
		switch f {
		case "displayName", "display_name":
			if strings.TrimSpace(in.DisplayName) == "" {
				return invalidArg("displayName", "REQUIRED_FIELD_MISSING", "displayName cannot be empty.")
			}
			for _, other := range s.lists.All() {
				if other != l && other.account == l.account && other.res.DisplayName == in.DisplayName {
					return invalidArg("displayName", "NAME_ALREADY_USED",
						"A user list named %q already exists in account %s.", in.DisplayName, l.account)
				}
			}
			next.DisplayName = in.DisplayName
		case "description":
			next.Description = in.Description
		case "membershipDuration", "membership_duration":
			if err := validateDuration(in.MembershipDuration); err != nil {
				return err
			}
			next.MembershipDuration = in.MembershipDuration
		case "membershipStatus", "membership_status":
			if err := validateStatus(in.MembershipStatus); err != nil {
				return err
			}
			next.MembershipStatus = in.MembershipStatus
		case "integrationCode", "integration_code":
			next.IntegrationCode = in.IntegrationCode
		case "ingestedUserListInfo", "ingested_user_list_info":
			return invalidArg("updateMask", "IMMUTABLE_FIELD", "ingestedUserListInfo cannot be changed after the list is created.")
		default:
			return invalidArg("updateMask", "INVALID_ARGUMENT", "Invalid field in updateMask: %q.", f)
		}
	}
	if !validateOnly {
		l.res = next
	}
	out := *l
	out.res = next
	writeJSON(w, http.StatusOK, s.present(&out))
	return nil
}
