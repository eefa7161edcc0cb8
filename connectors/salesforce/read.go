package salesforce

import (
	"context"
	"fmt"

	"go.uber.org/zap"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
)

// Read streams the members of the audience req.Audience names.
func (s *Source) Read(ctx context.Context, req connectors.ReadRequest, out connectors.Emitter) error {
	ref, err := parseRef(req.Audience)
	if err != nil {
		return fmt.Errorf("salesforce: %w", err)
	}
	// A mapping error is said before any network call.
	p, err := s.planFor(ref, req, "")
	if err != nil {
		return fmt.Errorf("salesforce: %w", err)
	}
	c, err := s.open(ctx)
	if err != nil {
		return err
	}
	defer c.close()
	if ref.kind != soqlQuery {
		camp, err := c.campaign(ctx, ref)
		if err != nil {
			return fmt.Errorf("salesforce: %w", err)
		}
		if p, err = s.planFor(ref, req, camp.ID); err != nil {
			return fmt.Errorf("salesforce: %w", err)
		}
	}
	n, err := c.count(ctx, p.count)
	if err != nil {
		return fmt.Errorf("salesforce: count the records of %s: %w", ref, err)
	}
	connectors.DeclareCount(out, n)
	e := &emitter{p: p, out: out}
	bulk := n > s.tune.bulkThreshold
	s.crm.Log.Info("reading Salesforce audience", zap.Stringer("audience", ref), zap.Int64("records", n), zap.Bool("bulk", bulk))
	if bulk {
		err = c.bulkQuery(ctx, p, s.tune, e)
	} else {
		err = c.restQuery(ctx, p, s.tune.restBatch, e)
	}
	if err != nil {
		return fmt.Errorf("salesforce: read %s: %w", ref, err)
	}
	return nil
}

// planFor is how ref is read; a campaign's id is "" until it is found,
// which is enough to check the mapping.
func (s *Source) planFor(ref audienceRef, req connectors.ReadRequest, campaignID string) (*plan, error) {
	if ref.kind == soqlQuery {
		return queryPlan(ref.value, req, s.crm.OptOut)
	}
	return campaignPlan(campaignID, req, s.crm.OptOut)
}

// emitter turns records, their values in plan.cols order, into members.
type emitter struct {
	p    *plan
	out  connectors.Emitter
	m    audience.Member
	line int64
}

// record hands one record to the engine, as a member or a rejection.
func (e *emitter) record(vals []string) error {
	e.line++
	if reason := e.p.fill(&e.m, vals); reason != "" {
		e.out.Reject(reason, e.line)
		return nil
	}
	e.m.Line = e.line
	if err := e.out.Emit(&e.m); err != nil {
		return fmt.Errorf("record %d: %w", e.line, err)
	}
	return nil
}

// fill sets dst from a record's values, or returns why it is rejected. A
// campaign member without a ContactId is a Lead, read from the Lead's
// columns.
func (p *plan) fill(dst *audience.Member, vals []string) string {
	lead := p.campaign && vals[p.personCols.contact] == ""
	// Salesforce writes booleans as true/false and datetimes as
	// 2018-12-10T17:50:19.000+0000, both of which the attribute parser
	// reads.
	return p.m.Fill(dst, func(c column) string {
		if lead {
			return vals[c.lead]
		}
		return vals[c.contact]
	})
}
