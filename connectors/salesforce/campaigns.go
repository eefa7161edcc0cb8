package salesforce

import (
	"cmp"
	"context"
	"fmt"
	"slices"

	"github.com/audiencesync/audiencesync/audience"

	"github.com/audiencesync/audiencesync/connectors"
)

// memberCount is the count query of a campaign's members as a read
// counts them: Contacts, and Leads not converted.
func memberCount(id string) string { return "SELECT COUNT()" + campaignFrom(id) }

// ListAudiences lists the org's campaigns with their member counts (one
// COUNT() query each, counted as a read counts them) and ids.
func (s *Source) ListAudiences(ctx context.Context) ([]connectors.AudienceInfo, error) {
	c, err := s.open(ctx)
	if err != nil {
		return nil, err
	}
	defer c.close()
	camps, err := c.campaigns(ctx, "")
	if err != nil {
		return nil, fmt.Errorf("salesforce: list campaigns: %w", err)
	}
	out := make([]connectors.AudienceInfo, 0, len(camps))
	for _, camp := range camps {
		n, err := c.count(ctx, memberCount(camp.ID))
		if err != nil {
			return nil, fmt.Errorf("salesforce: count the members of campaign %s: %w", camp.ID, err)
		}
		out = append(out, connectors.AudienceInfo{ID: camp.ID, Ref: camp.ID, Name: camp.Name, Kind: activity(camp), Size: n})
	}
	slices.SortFunc(out, func(a, b connectors.AudienceInfo) int { return cmp.Compare(a.Name, b.Name) })
	return out, nil
}

func activity(c campaignInfo) string {
	if c.IsActive {
		return "active"
	}
	return "inactive"
}

// CheckAudience finds the campaign a sync's source.audience names, or
// checks a soql: query by counting its records; it changes nothing.
func (s *Source) CheckAudience(ctx context.Context, name string) (string, error) {
	ref, err := parseRef(name)
	if err != nil {
		return "", fmt.Errorf("salesforce: %w", err)
	}
	c, err := s.open(ctx)
	if err != nil {
		return "", err
	}
	defer c.close()
	if ref.kind == soqlQuery {
		p, err := queryPlan(ref.value, connectors.ReadRequest{Fields: map[audience.Kind]string{audience.Email: "Id"}}, nil)
		if err != nil {
			return "", fmt.Errorf("salesforce: %w", err)
		}
		n, err := c.count(ctx, p.count)
		if err != nil {
			return "", fmt.Errorf("salesforce: count the records of the soql: query: %w", err)
		}
		return fmt.Sprintf("the soql: query counts %d records", n), nil
	}
	camp, err := c.campaign(ctx, ref)
	if err != nil {
		return "", fmt.Errorf("salesforce: %w", err)
	}
	n, err := c.count(ctx, memberCount(camp.ID))
	if err != nil {
		return "", fmt.Errorf("salesforce: count the members of campaign %s: %w", camp.ID, err)
	}
	modified := ""
	if t, err := ParseTime(camp.LastModified); err == nil {
		modified = ", last modified " + t.UTC().Format("2006-01-02 15:04 UTC")
	}
	return fmt.Sprintf("%s: %s campaign %q (%s), %d members%s", ref, activity(camp), camp.Name, camp.ID, n, modified), nil
}

// Check verifies the credentials and read access to campaigns; it changes
// nothing.
func (s *Source) Check(ctx context.Context) error {
	c, err := s.open(ctx)
	if err != nil {
		return err
	}
	defer c.close()
	if _, err := c.count(ctx, "SELECT COUNT() FROM Campaign"); err != nil {
		return fmt.Errorf("salesforce: read campaigns: %w", err)
	}
	return nil
}
