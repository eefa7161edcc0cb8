package mailchimp

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/connectors/platformconn"
	mcplatform "github.com/audiencesync/audiencesync/platform/mailchimp"
)

// Type is the connection type this package serves.
const Type = "mailchimp"

// Defaults for unset settings.
const (
	// DefaultStatusIfNew is the status a contact audiencesync creates
	// gets: transactional contacts receive no marketing e-mail, so no one
	// is mailed a campaign without having subscribed.
	DefaultStatusIfNew = "transactional"
	DefaultConcurrency = 5
	// MaxConcurrency is Mailchimp's limit of simultaneous connections per
	// API key: an eleventh is answered 429.
	MaxConcurrency = 10
)

// DefaultMergeFields maps Mailchimp's default merge tags to the kinds
// that fill them, when merge_fields is not set.
var DefaultMergeFields = map[string]string{"FNAME": "first_name", "LNAME": "last_name"}

// connLimits are the defaults and bounds of the shared connection
// settings. Endpoint is empty: the base URL comes from the API key's data
// centre.
var connLimits = platformconn.Limits{
	Type: Type, Platform: mcplatform.Name, Endpoint: "https://us1.api.mailchimp.com",
	Concurrency: DefaultConcurrency, MaxConcurrency: MaxConcurrency,
}

// Settings configure a Mailchimp destination.
type Settings struct {
	// APIKey is a Marketing API key (Account > Extras > API keys); its
	// suffix after "-" is the account's data centre (us21), which decides
	// the API's host. Optional with sandbox: true.
	APIKey auth.Secret `yaml:"api_key"`
	// StatusIfNew is the status of a contact audiencesync creates:
	// transactional (default; no marketing e-mail) or pending (Mailchimp
	// asks the contact to confirm a subscription). Never subscribed: a
	// sync does not give consent. Existing contacts keep their status.
	StatusIfNew string `yaml:"status_if_new"`
	// MergeFields maps the list's merge tags to the identifier kinds that
	// fill them (first_name, last_name, phone), sent with each member
	// (default FNAME: first_name, LNAME: last_name).
	MergeFields map[string]string `yaml:"merge_fields"`
	// MergeAttributes maps merge tags to sync attributes (the sync's
	// source.attributes, such as a cart's value or its last item), sent
	// with each member as text. A changed value sends the member again.
	MergeAttributes map[string]string `yaml:"merge_attributes"`
	// Settings are sandbox, endpoint (default from the API key),
	// concurrency (default 5, at most 10) and requests_per_second.
	platformconn.Settings `yaml:",inline"`
}

var (
	keyPattern      = regexp.MustCompile(`^[0-9A-Za-z]+-([a-z]{2,4}[0-9]{1,3})$`)
	mergeTagPattern = regexp.MustCompile(`^[A-Z][A-Z0-9_]{0,9}$`)
)

// Validate checks the settings without any network call. The API key may
// not be resolved yet: only whether it is set is checked.
func (s *Settings) Validate() error {
	switch {
	case s.APIKey.IsZero() && !s.Sandbox:
		return errors.New("mailchimp: api_key is required: create one under Account > Extras > API keys and give it as ${env:NAME} or ${file:PATH}")
	case s.StatusIfNew != "" && s.StatusIfNew != "transactional" && s.StatusIfNew != "pending":
		return fmt.Errorf("mailchimp: status_if_new %q is not allowed: use transactional (no marketing e-mail; the default) or pending (Mailchimp asks the contact to confirm); a sync never subscribes anyone", s.StatusIfNew)
	}
	kinds, err := s.mergeKinds()
	if err != nil {
		return fmt.Errorf("mailchimp: %w", err)
	}
	for _, tag := range slices.Sorted(maps.Keys(s.MergeAttributes)) {
		switch {
		case !mergeTagPattern.MatchString(tag):
			return fmt.Errorf("mailchimp: merge_attributes: %q is not a merge tag: write it as the list shows it, in capitals (CARTVAL)", tag)
		case s.MergeAttributes[tag] == "":
			return fmt.Errorf("mailchimp: merge_attributes.%s names no attribute", tag)
		case slices.ContainsFunc(kinds, func(m mergeField) bool { return m.tag == tag }):
			return fmt.Errorf("mailchimp: merge tag %s is in both merge_fields and merge_attributes: keep one", tag)
		}
	}
	if len(s.MergeAttributes) > 255 {
		return errors.New("mailchimp: merge_attributes: at most 255")
	}
	return s.Settings.Validate(connLimits)
}

// mergeField is one merge tag and the kind that fills it.
type mergeField struct {
	tag  string
	kind audience.Kind
}

// mergeKinds parses merge_fields (or the default), in tag order.
func (s *Settings) mergeKinds() ([]mergeField, error) {
	m := s.MergeFields
	if m == nil {
		m = DefaultMergeFields
	}
	prof := mcplatform.Platform().Profile
	var out []mergeField
	for _, tag := range slices.Sorted(maps.Keys(m)) {
		k, err := audience.ParseKind(m[tag])
		if err != nil {
			return nil, fmt.Errorf("merge_fields.%s: %w", tag, err)
		}
		if _, only := prof.Sealed(k); !only {
			return nil, fmt.Errorf("merge_fields.%s: %s cannot fill a merge field: use first_name, last_name or phone", tag, k)
		}
		if !mergeTagPattern.MatchString(tag) {
			return nil, fmt.Errorf("merge_fields: %q is not a merge tag: write it as the list shows it, in capitals (FNAME)", tag)
		}
		out = append(out, mergeField{tag: tag, kind: k})
	}
	return out, nil
}

// attributeTags are merge_attributes' tags in order: the order of
// SentAttributes and of DestinationInfo.Attributes.
func (s *Settings) attributeTags() []string { return slices.Sorted(maps.Keys(s.MergeAttributes)) }

// SentAttributes names the sync attributes merge_attributes sends, for
// `validate` (connectors.AttributeSender).
func (s *Settings) SentAttributes() []string {
	var out []string
	for _, tag := range s.attributeTags() {
		out = append(out, s.MergeAttributes[tag])
	}
	return out
}

var _ connectors.AttributeSender = (*Settings)(nil)

// dataCenter returns the data centre an API key names, or "".
func dataCenter(key string) string {
	if m := keyPattern.FindStringSubmatch(strings.TrimSpace(key)); m != nil {
		return m[1]
	}
	return ""
}

const sample = `# Keeps a tag on the contacts of a Mailchimp list in step with the
# audience: joining adds the tag (creating the contact if needed), leaving
# removes it, which starts and stops a Customer Journey. The e-mail address
# is sent in clear (Mailchimp mails it); audiencesync keeps only its
# subscriber hash. The sync's destination names the list and the tag:
#   audience: {list_id: a1b2c3d4e5, tag: cart-abandoner}
mailchimp:
  type: mailchimp
  # Marketing API key; its suffix (-us21) is the data centre.
  api_key: ${env:MAILCHIMP_API_KEY}
  # Status of contacts audiencesync creates: transactional (no marketing
  # e-mail, the default) or pending (double opt-in). Existing contacts keep
  # theirs; unsubscribed and cleaned ones are never changed.
  status_if_new: transactional
  # Merge tags and the identifier kinds that fill them.
  merge_fields:
    FNAME: first_name
    LNAME: last_name
  # Merge tags and the sync attributes (source.attributes) that fill them.
  merge_attributes:
    CARTVAL: cart_value
  # true talks to the local sandbox replica instead of Mailchimp; api_key
  # may then be left out.
  sandbox: false
  # API base URL (default https://DC.api.mailchimp.com from the key).
  endpoint: https://us21.api.mailchimp.com
  # Batches in flight at once (default 5; Mailchimp allows 10 connections).
  concurrency: 5
  # Cap on requests a second, retries included (default none).
  requests_per_second: 0
`

// Spec declares the Mailchimp destination for a registry; its audiences
// are tags of a list.
func Spec() connectors.Spec {
	return connectors.DestinationSpec(Type,
		"Tags the contacts of a Mailchimp list (Marketing API v3), creating them when needed, to start and stop Customer Journeys.",
		sample, New, connectors.TaggedAudiences)
}
