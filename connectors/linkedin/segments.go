package linkedin

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
	"github.com/audiencesync/audiencesync/connectors/retry"
)

// dmpSegment is the part of a DMP segment object used here. LinkedIn's
// documents give a segment's status at the top level in places and per
// destination in others; both are read.
type dmpSegment struct {
	ID           json.Number `json:"id"`
	Name         string      `json:"name"`
	Type         string      `json:"type"`
	Status       string      `json:"status"`
	InputCount   int64       `json:"inputCount"`
	MatchedCount int64       `json:"matchedCount"`
	AudienceSize int64       `json:"audienceSize"`
	Destinations []struct {
		Destination  string `json:"destination"`
		Status       string `json:"status"`
		MatchedCount int64  `json:"matchedCount"`
		AudienceSize int64  `json:"audienceSize"`
	} `json:"destinations"`
}

// status is the segment's status on LinkedIn: its LINKEDIN destination's,
// else its own.
func (s *dmpSegment) status() string {
	for _, d := range s.Destinations {
		if d.Destination == "LINKEDIN" && d.Status != "" {
			return d.Status
		}
	}
	return s.Status
}

// matched is the segment's matched count, wherever LinkedIn gives it.
func (s *dmpSegment) matched() int64 {
	m := s.MatchedCount
	for _, d := range s.Destinations {
		m = max(m, d.MatchedCount)
	}
	return m
}

// size is the audience LinkedIn can serve.
func (s *dmpSegment) size() int64 {
	n := s.AudienceSize
	for _, d := range s.Destinations {
		n = max(n, d.AudienceSize)
	}
	return n
}

// Segment statuses that mean the segment is still being set up; users
// may be sent once it leaves them.
func building(status string) bool { return status == "BUILDING" || status == "PROCESSING" }

// failed reports a status from which a segment does not recover.
func failed(status string) bool {
	return status == "FAILED" || status == "ERROR" || status == "EXPIRED"
}

// Ensure finds the DMP segment by id (spec.ID, then the id recorded last
// run), then by name, and creates it when spec.Create allows; then waits
// until it is available.
func (d *Destination) Ensure(ctx context.Context, spec connectors.AudienceSpec) (connectors.Audience, error) {
	found, err := d.ensure(ctx, spec)
	if err != nil {
		return connectors.Audience{}, err
	}
	if err := d.waitAvailable(ctx, found.aud.ID, found.seg); err != nil {
		return connectors.Audience{}, err
	}
	return found.aud, nil
}

// foundSegment is a segment Ensure found, and what it read of it (nil for
// one it created).
type foundSegment struct {
	aud connectors.Audience
	seg *dmpSegment
}

func (d *Destination) ensure(ctx context.Context, spec connectors.AudienceSpec) (foundSegment, error) {
	l := platformconn.Lookup[foundSegment]{
		ByID: func(ctx context.Context, id string) (foundSegment, bool, error) {
			seg, ok, err := d.segmentByID(ctx, id)
			if !ok || err != nil {
				return foundSegment{}, false, err
			}
			return foundSegment{connectors.Audience{ID: id, Name: seg.Name}, seg}, true, nil
		},
		ByName: func(ctx context.Context, name string) (foundSegment, bool, error) {
			seg, ok, err := d.segmentByName(ctx, name)
			if !ok || err != nil {
				return foundSegment{}, false, err
			}
			return foundSegment{connectors.Audience{ID: seg.ID.String(), Name: seg.Name}, seg}, true, nil
		},
		Create: func(ctx context.Context, spec connectors.AudienceSpec) (foundSegment, error) {
			aud, err := d.createSegment(ctx, spec)
			return foundSegment{aud: aud}, err
		},
		Words: d.words(),
	}
	return l.Find(ctx, spec)
}

// words name LinkedIn's segments in errors.
func (d *Destination) words() platformconn.Words {
	return platformconn.Words{Type: Type, Noun: "DMP segment", Short: "segment", Account: "ad account " + d.account}
}

// segmentByID reads one segment; found is false when LinkedIn does not
// know it or it belongs to another ad account.
func (d *Destination) segmentByID(ctx context.Context, id string) (*dmpSegment, bool, error) {
	what := "linkedin: read DMP segment " + id
	r, err := d.call(ctx, request{method: http.MethodGet, path: "/dmpSegments/" + escape(id)})
	if err != nil {
		return nil, false, fmt.Errorf("%s: %w", what, err)
	}
	switch r.Status {
	case http.StatusOK:
		var seg struct {
			dmpSegment
			Account string `json:"account"`
		}
		if err := d.vocab.Decode(r, what, &seg); err != nil {
			return nil, false, err
		}
		// Another account's segment is not this one's; an answer that
		// does not say is taken at its word.
		return &seg.dmpSegment, seg.Account == "" || seg.Account == d.accountURN(), nil
	case http.StatusNotFound:
		return nil, false, nil
	}
	return nil, false, d.vocab.Error(r, what, true)
}

// Paging through an account's segments: 100 a page, and a bound in case
// the paging never ends.
const (
	pageSize    = 100
	maxListPage = 1000
)

// segmentByName pages through the account's segments for user segments
// named name. Two of that name are an error: which one to keep in step
// is the user's call.
func (d *Destination) segmentByName(ctx context.Context, name string) (*dmpSegment, bool, error) {
	const what = "linkedin: list DMP segments"
	var match []*dmpSegment
	for page := range maxListPage {
		q := "q=account&account=" + escape(d.accountURN()) + fmt.Sprintf("&start=%d&count=%d", page*pageSize, pageSize)
		r, err := d.call(ctx, request{method: http.MethodGet, path: "/dmpSegments", query: q})
		if err != nil {
			return nil, false, fmt.Errorf("%s: %w", what, err)
		}
		if r.Status != http.StatusOK {
			return nil, false, d.vocab.Error(r, what, true)
		}
		var body struct {
			Elements []dmpSegment `json:"elements"`
			Paging   struct {
				Total *int `json:"total"`
			} `json:"paging"`
		}
		if err := d.vocab.Decode(r, what, &body); err != nil {
			return nil, false, err
		}
		for i := range body.Elements {
			// A segment without a type is taken for a user segment: only
			// a company segment is passed over.
			if s := &body.Elements[i]; s.Name == name && !strings.HasPrefix(s.Type, "COMPANY") {
				match = append(match, s)
			}
		}
		seen := (page + 1) * pageSize
		if len(body.Elements) < pageSize || (body.Paging.Total != nil && seen >= *body.Paging.Total) {
			break
		}
	}
	switch len(match) {
	case 0:
		return nil, false, nil
	case 1:
		return match[0], true, nil
	}
	ids := make([]string, len(match))
	for i, s := range match {
		ids[i] = s.ID.String()
	}
	return nil, false, connectors.Fatal(fmt.Errorf("linkedin: ad account %s has %d user DMP segments named %q (%s): give the sync's audience the id of the one to keep in step",
		d.account, len(match), name, strings.Join(ids, ", ")))
}

// createSegment creates a user DMP segment with LinkedIn as its
// destination. LinkedIn answers 201 with the new id in x-restli-id.
func (d *Destination) createSegment(ctx context.Context, spec connectors.AudienceSpec) (connectors.Audience, error) {
	what := fmt.Sprintf("linkedin: create DMP segment %q", spec.Name)
	body := map[string]any{
		"name": spec.Name, "account": d.accountURN(), "type": "USER", "sourcePlatform": d.source,
		"accessPolicy": "PRIVATE", "destinations": []map[string]string{{"destination": "LINKEDIN"}},
	}
	if spec.Description != "" {
		body["description"] = spec.Description
	}
	r, err := d.call(ctx, request{method: http.MethodPost, path: "/dmpSegments", body: body})
	if err != nil {
		return connectors.Audience{}, fmt.Errorf("%s: %w", what, err)
	}
	switch {
	case r.Status == http.StatusCreated || r.Status == http.StatusOK:
	case r.Status == http.StatusBadRequest || r.Status == http.StatusUnprocessableEntity:
		return connectors.Audience{}, connectors.Fatal(fmt.Errorf("%s: LinkedIn refused it (%s): fix the audience name or description in the sync, or source_platform", what, describe(r, true)))
	default:
		return connectors.Audience{}, d.vocab.Error(r, what, true)
	}
	id := r.Header.Get("X-Restli-Id")
	if id == "" {
		id = r.Header.Get("X-Linkedin-Id")
	}
	if id == "" && len(r.Body) > 0 {
		// An answer that returns the entity carries the id in it.
		var created dmpSegment
		if err := d.vocab.Decode(r, what, &created); err != nil {
			return connectors.Audience{}, err
		}
		id = created.ID.String()
	}
	if id == "" {
		return connectors.Audience{}, fmt.Errorf("%s: LinkedIn answered HTTP %d without the new segment's id (x-restli-id)", what, r.Status)
	}
	d.rest.Log.Info("created DMP segment", zap.String("segment_id", id))
	return connectors.Audience{ID: id, Name: spec.Name, Created: true}, nil
}

// waitAvailable waits until segment id is no longer being set up: seg is
// what was read of it, nil for a segment just created, which is read at
// once (LinkedIn asks to leave a new segment about 5 seconds; its status
// says when it is ready). While it is BUILDING it is read again after
// readyWait, a bounded number of times, each wait on the batch's clock; a
// segment still BUILDING after that is used anyway, as LinkedIn takes
// users before it is READY.
func (d *Destination) waitAvailable(ctx context.Context, id string, seg *dmpSegment) error {
	read := func() error {
		s, found, err := d.segmentByID(ctx, id)
		if err == nil && !found {
			err = connectors.Fatal(fmt.Errorf("linkedin: DMP segment %s disappeared while it was being built; run again to create it anew", id))
		}
		seg = s
		return err
	}
	if seg == nil {
		if err := read(); err != nil {
			return err
		}
	}
	for poll := 0; building(seg.status()); poll++ {
		if poll == d.lim.readyPolls {
			d.rest.Log.Warn("the DMP segment is still being built; sending users anyway", zap.String("segment_id", id), zap.Int("polls", poll))
			return nil
		}
		if err := retry.Hold(ctx, d.lim.readyWait); err != nil {
			return err
		}
		if err := read(); err != nil {
			return err
		}
	}
	if st := seg.status(); failed(st) {
		return connectors.Fatal(fmt.Errorf("linkedin: DMP segment %s is %s and cannot be targeted: delete it in Campaign Manager (or give the sync's audience another name) so audiencesync creates a new one", id, st))
	}
	return nil
}

var _ connectors.AudienceSizer = (*Destination)(nil)

// AudienceSize reads the segment's counts. LinkedIn's matchedCount covers
// the last seven days and audienceSize only what it can serve, so the
// largest of them and the input count says best whether the segment holds
// users.
func (d *Destination) AudienceSize(ctx context.Context, aud connectors.Audience) (connectors.AudienceSize, error) {
	return platformconn.Size(ctx, d.words(), aud.ID, d.segmentByID, func(seg *dmpSegment) connectors.AudienceSize {
		return connectors.AudienceSize{Known: true, Members: max(seg.InputCount, seg.matched(), seg.size()), Approximate: true}
	})
}

var _ connectors.FeedbackPoller = (*Destination)(nil)

// Feedback reads the segment after a run: its status and counts. LinkedIn
// processes users as they come, so no request stays pending. A segment
// with fewer than MinMatched matched members is not served: that is
// logged as a warning and said in the status, and is no error.
func (d *Destination) Feedback(ctx context.Context, aud connectors.Audience, _ []string) (connectors.PlatformReport, error) {
	seg, found, err := d.segmentByID(ctx, aud.ID)
	if err != nil {
		return connectors.PlatformReport{}, err
	}
	if !found {
		return connectors.PlatformReport{}, d.words().Gone(aud.ID)
	}
	rep := connectors.PlatformReport{
		Status: seg.status(), Size: seg.size(),
		Counts: map[string]int64{"input_count": seg.InputCount, "matched_count": seg.matched(), "audience_size": seg.size()},
	}
	if m := seg.matched(); m < MinMatched {
		rep.Status += fmt.Sprintf(" (below LinkedIn's minimum: %d of %d matched members needed to serve)", m, MinMatched)
		d.rest.Log.Warn("the DMP segment has fewer matched members than LinkedIn needs to serve it; campaigns targeting it will not deliver until it has more",
			zap.String("segment_id", aud.ID), zap.Int64("matched", m), zap.Int("minimum", MinMatched))
	}
	return rep, nil
}
