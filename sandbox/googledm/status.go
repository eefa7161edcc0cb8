package googledm

import (
	"fmt"
	"math"
	"net/http"
	"sort"

	"github.com/audiencesync/audiencesync/sandbox/internal/wire"
)

// requestRecord is what requestStatus:retrieve reports for one request.
type requestRecord struct {
	kind  string // ingest, remove, removeAll
	polls int
	dests []outcome
}

// outcome is the processing result for one destination of a request.
type outcome struct {
	dest          destination
	userRecords   int64
	userIDs       int64
	mobileRecords int64
	mobileIDs     int64
	hashed        int64 // hashed identifiers, for the match rate
	matched       int64 // of which "match" (see wire.Matches)
	errors        map[string]int64
}

func (o *outcome) count(m member, threshold byte) {
	if m.mobile {
		o.mobileRecords++
		o.mobileIDs += int64(len(m.ids))
		return
	}
	o.userRecords++
	o.userIDs += int64(len(m.ids))
	for _, h := range m.hashed {
		o.hashed++
		if wire.Matches(h, threshold) {
			o.matched++
		}
	}
}

// recordLocked stores a request record and returns its id; s.mu is held.
func (s *Server) recordLocked(rec *requestRecord) string {
	s.nextReq++
	id := fmt.Sprintf("5a0d6b1e-%04x-4000-8000-%012x", s.nextReq>>48, s.nextReq&0xffffffffffff)
	s.requests[id] = rec
	return id
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) *apiError {
	id := r.URL.Query().Get("requestId")
	if id == "" {
		return invalidArg("requestId", "REQUIRED_FIELD_MISSING", "requestId is required.")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	rec, ok := s.requests[id]
	if !ok {
		return notFound("Request %s was not found.", id)
	}
	done := rec.polls >= s.opts.PollsBeforeDone
	rec.polls++
	resp := retrieveStatusResponse{}
	for _, o := range rec.dests {
		resp.RequestStatusPerDestination = append(resp.RequestStatusPerDestination, s.statusOf(rec.kind, o, done))
	}
	writeJSON(w, http.StatusOK, resp)
	return nil
}

func (s *Server) statusOf(kind string, o outcome, done bool) statusPerDestination {
	st := statusPerDestination{Destination: o.dest, RequestStatus: "PROCESSING"}
	if !done {
		return st
	}
	var failed int64
	reasons := make([]string, 0, len(o.errors))
	for reason, n := range o.errors {
		failed += n
		reasons = append(reasons, reason)
	}
	sort.Strings(reasons)
	if failed > 0 {
		st.ErrorInfo = &errorInfo{}
		for _, reason := range reasons {
			st.ErrorInfo.ErrorCounts = append(st.ErrorInfo.ErrorCounts, errorCount{Reason: reason, RecordCount: o.errors[reason]})
		}
	}
	ok := o.userRecords + o.mobileRecords
	switch {
	case failed > 0 && ok == 0:
		st.RequestStatus = "FAILED"
	case failed > 0:
		st.RequestStatus = "PARTIAL_SUCCESS"
	default:
		st.RequestStatus = "SUCCESS"
	}
	var mobile *mobileDataStatus
	if o.mobileRecords > 0 {
		mobile = &mobileDataStatus{RecordCount: o.mobileRecords, MobileIDCount: o.mobileIDs}
	}
	switch kind {
	case "ingest":
		in := &ingestStatus{MobileDataIngestionStatus: mobile}
		if o.userRecords > 0 || mobile == nil {
			in.UserDataIngestionStatus = &userDataStatus{
				RecordCount:          o.userRecords,
				UserIdentifierCount:  o.userIDs,
				UploadMatchRateRange: matchRateRange(o.matched, o.hashed),
			}
		}
		st.AudienceMembersIngestionStatus = in
	case "remove":
		rm := &removalStatus{MobileDataRemovalStatus: mobile}
		if o.userRecords > 0 || mobile == nil {
			rm.UserDataRemovalStatus = &userDataStatus{RecordCount: o.userRecords, UserIdentifierCount: o.userIDs}
		}
		st.AudienceMembersRemovalStatus = rm
	case "removeAll":
		st.RemoveAllAudienceMembersStatus = &struct{}{}
	}
	return st
}

// matchRateRanges are the API's match-rate ranges, by the highest whole
// percentage each takes; above the last is MATCH_RATE_RANGE_91_TO_100.
var matchRateRanges = []struct {
	upTo int
	name string
}{
	{19, "MATCH_RATE_RANGE_LESS_THAN_20"},
	{30, "MATCH_RATE_RANGE_20_TO_30"},
	{40, "MATCH_RATE_RANGE_31_TO_40"},
	{50, "MATCH_RATE_RANGE_41_TO_50"},
	{60, "MATCH_RATE_RANGE_51_TO_60"},
	{70, "MATCH_RATE_RANGE_61_TO_70"},
	{80, "MATCH_RATE_RANGE_71_TO_80"},
	{90, "MATCH_RATE_RANGE_81_TO_90"},
}

// matchRateRange buckets the share of matched identifiers into the API's
// ranges.
func matchRateRange(matched, total int64) string {
	if total == 0 {
		return "MATCH_RATE_RANGE_NOT_ELIGIBLE"
	}
	pct := int(math.Round(100 * float64(matched) / float64(total)))
	for _, r := range matchRateRanges {
		if pct <= r.upTo {
			return r.name
		}
	}
	return "MATCH_RATE_RANGE_91_TO_100"
}
