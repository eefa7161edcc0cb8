package googleads

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"

	"go.uber.org/zap"
	datamanager "google.golang.org/api/datamanager/v1"

	"github.com/audiencesync/audiencesync/connectors"
)

// Request statuses, in the order Feedback ranks them when summarising.
const (
	statusProcessing = "PROCESSING"
	statusSuccess    = "SUCCESS"
	statusPartial    = "PARTIAL_SUCCESS"
	statusFailed     = "FAILED"
)

// matchRates orders the match-rate ranges from worst to best.
var matchRates = []string{
	"MATCH_RATE_RANGE_LESS_THAN_20", "MATCH_RATE_RANGE_20_TO_30", "MATCH_RATE_RANGE_31_TO_40",
	"MATCH_RATE_RANGE_41_TO_50", "MATCH_RATE_RANGE_51_TO_60", "MATCH_RATE_RANGE_61_TO_70",
	"MATCH_RATE_RANGE_71_TO_80", "MATCH_RATE_RANGE_81_TO_90", "MATCH_RATE_RANGE_91_TO_100",
}

var _ connectors.FeedbackPoller = (*Destination)(nil)

// Feedback polls requestStatus:retrieve for each request id and reads the
// list's size. Requests still processing come back in Pending, to poll on
// a later run; a request whose status cannot be read now stays pending
// too, while one Google no longer knows is dropped.
func (d *Destination) Feedback(ctx context.Context, aud connectors.Audience, requestIDs []string) (connectors.PlatformReport, error) {
	rep := connectors.PlatformReport{Size: -1, Counts: map[string]int64{}}
	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		statuses []string
		worst    = -1
		best     = -1
		authErr  error
	)
	sem := make(chan struct{}, d.s.Concurrency)
	for _, id := range slices.Compact(slices.Sorted(slices.Values(requestIDs))) {
		if id == "" {
			continue
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			return rep, ctx.Err()
		}
		wg.Go(func() {
			defer func() { <-sem }()
			st, err := d.requestStatus(ctx, id)
			mu.Lock()
			defer mu.Unlock()
			var ae *APIError
			switch {
			case errors.As(err, &ae) && ae.HTTPStatus == 404:
				rep.Counts["requests_expired"]++
				return
			case errors.Is(err, connectors.ErrReauthenticate):
				authErr = err
				rep.Pending = append(rep.Pending, id)
				return
			case err != nil:
				d.log.Warn("request status unavailable; will poll again next run", zap.Error(err))
				rep.Counts["requests_unavailable"]++
				rep.Pending = append(rep.Pending, id)
				return
			}
			status := tally(st, rep.Counts, &worst, &best)
			statuses = append(statuses, status)
			if status == statusProcessing {
				rep.Pending = append(rep.Pending, id)
			}
		})
	}
	wg.Wait()
	if authErr != nil {
		return rep, authErr
	}
	rep.Status = summarise(statuses)
	if worst >= 0 {
		rep.MatchRate = matchRateText(worst, best)
	}
	slices.Sort(rep.Pending)
	if err := d.size(ctx, aud, &rep); err != nil {
		d.log.Warn("user list size unavailable", zap.Error(err))
	}
	return rep, nil
}

func (d *Destination) requestStatus(ctx context.Context, id string) (*datamanager.RetrieveRequestStatusResponse, error) {
	var resp *datamanager.RetrieveRequestStatusResponse
	err := d.call(ctx, "retrieve request status", nil, func(api *datamanager.Service) error {
		var err error
		resp, err = api.RequestStatus.Retrieve().RequestId(id).Context(ctx).Do()
		return err
	})
	return resp, err
}

// tally adds one request's counts and returns its status, the least
// advanced of its destinations'.
func tally(st *datamanager.RetrieveRequestStatusResponse, counts map[string]int64, worst, best *int) string {
	status := ""
	for _, per := range st.RequestStatusPerDestination {
		status = summarise([]string{status, per.RequestStatus})
		if in := per.AudienceMembersIngestionStatus; in != nil && in.UserDataIngestionStatus != nil {
			u := in.UserDataIngestionStatus
			counts["records_ingested"] += u.RecordCount
			counts["identifiers_ingested"] += u.UserIdentifierCount
			if r := slices.Index(matchRates, u.UploadMatchRateRange); r >= 0 {
				if *worst < 0 || r < *worst {
					*worst = r
				}
				*best = max(*best, r)
			}
		}
		if rm := per.AudienceMembersRemovalStatus; rm != nil && rm.UserDataRemovalStatus != nil {
			counts["records_removed"] += rm.UserDataRemovalStatus.RecordCount
			counts["identifiers_removed"] += rm.UserDataRemovalStatus.UserIdentifierCount
		}
		if per.ErrorInfo != nil {
			for _, ec := range per.ErrorInfo.ErrorCounts {
				counts["errors."+strings.TrimPrefix(ec.Reason, "PROCESSING_ERROR_REASON_")] += ec.RecordCount
			}
		}
	}
	if status == "" {
		status = "REQUEST_STATUS_UNKNOWN"
	}
	counts["requests."+strings.ToLower(status)]++
	return status
}

// summarise ranks request statuses: anything processing makes the whole
// processing; failures alongside successes make a partial success.
func summarise(statuses []string) string {
	var processing, ok, failed, partial bool
	for _, s := range statuses {
		switch s {
		case statusProcessing:
			processing = true
		case statusSuccess:
			ok = true
		case statusFailed:
			failed = true
		case statusPartial:
			partial = true
		}
	}
	switch {
	case processing:
		return statusProcessing
	case partial, ok && failed:
		return statusPartial
	case failed:
		return statusFailed
	case ok:
		return statusSuccess
	}
	return ""
}

// matchRateText words a range of match-rate buckets: "61-70%", or
// "41-50% to 61-70%" when requests differ.
func matchRateText(worst, best int) string {
	word := func(i int) string {
		r := strings.TrimPrefix(matchRates[i], "MATCH_RATE_RANGE_")
		if r == "LESS_THAN_20" {
			return "<20%"
		}
		return strings.Replace(r, "_TO_", "-", 1) + "%"
	}
	if worst == best {
		return word(worst)
	}
	return word(worst) + " to " + word(best)
}

// size reads the list's size info: Size is the largest network count,
// and each network's count goes into Counts.
func (d *Destination) size(ctx context.Context, aud connectors.Audience, rep *connectors.PlatformReport) error {
	l, err := d.getList(ctx, aud.ID)
	if err != nil {
		return err
	}
	if l == nil || l.SizeInfo == nil {
		return fmt.Errorf("no size info for user list %s", aud.ID)
	}
	si := l.SizeInfo
	for name, n := range map[string]int64{
		"size.display": si.DisplayNetworkMembersCount, "size.search": si.SearchNetworkMembersCount,
		"size.gmail": si.GmailMembersCount, "size.youtube": si.YoutubeMembersCount,
	} {
		if n > 0 {
			rep.Counts[name] = n
		}
		rep.Size = max(rep.Size, n)
	}
	return nil
}

var _ connectors.Checker = (*Destination)(nil)

// Check verifies that the credentials work and the operating account's
// user lists can be listed. It changes nothing.
func (d *Destination) Check(ctx context.Context) error {
	return d.call(ctx, "list user lists", nil, func(api *datamanager.Service) error {
		c := api.AccountTypes.Accounts.UserLists.List(d.parent()).PageSize(1).Context(ctx)
		d.loginHeader(c.Header())
		_, err := c.Do()
		return err
	})
}
