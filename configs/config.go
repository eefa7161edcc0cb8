// Package configs defines the audiencesync configuration file, loads it
// strictly (unknown keys are errors that name the file, line and key),
// applies defaults, resolves secret references and checks every rule before
// anything touches the network.
package configs

import (
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors"
)

// Config is one audiencesync configuration file.
type Config struct {
	// Path is the file the config was loaded from; BaseDir its directory,
	// against which relative paths resolve.
	Path    string `yaml:"-"`
	BaseDir string `yaml:"-"`

	State       State                  `yaml:"state"`
	Connections map[string]*Connection `yaml:"connections"`
	Syncs       []*Sync                `yaml:"syncs"`
	// Serve tunes `audiencesync serve`: the scheduler and its limits.
	Serve Serve `yaml:"serve"`
	// Alerts is the default failure alert of every sync (see Sync.Alerts).
	Alerts Alerts `yaml:"alerts"`
}

// State says where the state store lives.
type State struct {
	// Path is a SQLite file (the default: ./audiencesync.db beside the config).
	Path string `yaml:"path"`
	// DSN is a postgres:// URL for the scale-out store.
	DSN auth.Secret `yaml:"dsn"`
}

// Connection is one named connection: its type and its type-specific
// settings, decoded strictly into the connector's settings struct.
type Connection struct {
	Name string `yaml:"-"`
	Type string `yaml:"-"`
	// Line is where the connection starts in the file, for messages.
	Line int `yaml:"-"`
	// Spec is the registered connector for Type.
	Spec connectors.Spec `yaml:"-"`
	// Settings is the decoded, validated, secret-resolved settings struct
	// (a pointer, as returned by Spec.Settings).
	Settings any `yaml:"-"`
	// Node is the raw YAML of the connection.
	Node *yaml.Node `yaml:"-"`
}

// Sync says what flows where.
type Sync struct {
	Name string `yaml:"name"`
	// Schedule is a cron expression for `serve`; empty runs only on demand.
	Schedule string `yaml:"schedule"`
	// Timezone is the IANA zone (Europe/Paris) the schedule is read in;
	// empty means UTC.
	Timezone string `yaml:"timezone"`
	// Alerts overrides the global alerts for this sync, key by key.
	Alerts       *Alerts        `yaml:"alerts"`
	Source       SourceRef      `yaml:"source"`
	Destinations []*Destination `yaml:"destinations"`
	// Segments split the source's members into audiences of their own,
	// each with its own destinations (see segments.go); a sync has
	// either destinations or segments.
	Segments []*Segment `yaml:"segments"`
	// Suppress lists whose members are excluded from every segment.
	Suppress []*Suppression `yaml:"suppress"`
	Safety   Safety         `yaml:"safety"`
	Line     int            `yaml:"-"`
}

// SourceRef names the source connection and maps its fields.
type SourceRef struct {
	Connection string `yaml:"connection"`
	// Audience selects a list, query or object in the source; optional for
	// sources that hold one audience (csv).
	Audience string `yaml:"audience"`
	// Key is the source's primary key field.
	Key string `yaml:"key"`
	// DefaultRegion is the ISO country for phone numbers written without a
	// country code when the member has no country.
	DefaultRegion string `yaml:"default_region"`
	// Fields maps identifier kinds (email, phone, first_name, …) to source
	// fields, as written in the file.
	Fields map[string]string `yaml:"fields"`
	// Consent maps ad_user_data and ad_personalization to source fields.
	Consent map[string]string `yaml:"consent"`
	// Attributes names the member attributes to read besides identifiers
	// and consent, for segments: attribute name → its source field and
	// type. They never reach a destination or the state store.
	Attributes map[string]*AttributeSpec `yaml:"attributes"`

	// Kinds is Fields parsed: kind -> source field.
	Kinds map[audience.Kind]string `yaml:"-"`
	// ConsentFields is Consent parsed.
	ConsentFields connectors.ConsentFields `yaml:"-"`
	// Attrs is Attributes parsed, in file order: the order of
	// audience.Member.Attrs.
	Attrs []connectors.Attribute `yaml:"-"`
}

// AttributeSpec is one attribute of source.attributes.
type AttributeSpec struct {
	// Field is the source field (CSV column, HubSpot property) that holds
	// it; defaults to the attribute's name.
	Field string `yaml:"field"`
	// Type is string, number, bool or timestamp.
	Type string `yaml:"type"`
	// Layout is a Go time layout for a timestamp the source writes
	// otherwise than RFC 3339 or 2006-01-02 (such as "02/01/2006 15:04").
	Layout string `yaml:"layout"`
}

// Destination is one destination of a sync.
type Destination struct {
	// Name identifies the destination within the sync in reports and state;
	// defaults to the connection name.
	Name       string       `yaml:"name"`
	Connection string       `yaml:"connection"`
	Audience   AudienceSpec `yaml:"audience"`
	// Consent is the default consent for members without their own answer:
	// granted or denied per question.
	Consent ConsentDefault `yaml:"consent"`
	// RefreshMarginDays re-sends a membership this many days before it
	// would lapse (default 30).
	RefreshMarginDays *int `yaml:"refresh_margin_days"`
	// BatchSize caps members per request below the platform's limit.
	BatchSize int `yaml:"batch_size"`
	// Concurrency caps requests in flight below the connector's default.
	Concurrency int `yaml:"concurrency"`
	Line        int `yaml:"-"`

	// DefaultConsent is Consent parsed.
	DefaultConsent audience.Consent `yaml:"-"`
}

// AudienceSpec names the remote audience.
type AudienceSpec struct {
	ID             string `yaml:"id"`
	Name           string `yaml:"name"`
	Description    string `yaml:"description"`
	MembershipDays int    `yaml:"membership_days"`
	// Create allows creating the audience when absent (default true).
	Create *bool `yaml:"create"`
	// ListID and Tag name an audience that is a tag on the contacts of a
	// list (Mailchimp): only for destination types whose audiences are
	// tags (connectors.Spec.TaggedAudience).
	ListID string `yaml:"list_id"`
	Tag    string `yaml:"tag"`
}

// ConsentDefault is a destination's default consent.
type ConsentDefault struct {
	AdUserData        string `yaml:"ad_user_data"`
	AdPersonalization string `yaml:"ad_personalization"`
}

// Safety holds the removal guard.
type Safety struct {
	// MaxRemoveFraction stops a run that would remove more than this
	// fraction of an audience (default 0.2) unless forced.
	MaxRemoveFraction *float64 `yaml:"max_remove_fraction"`
	// AllowEmpty lets a run empty an audience without --force.
	AllowEmpty bool `yaml:"allow_empty"`
	// MaxRunDuration stops a run that lasts longer (default 2h), so a
	// platform that keeps failing cannot hold a sync for hours; what was
	// acknowledged stays committed and the next run carries on.
	MaxRunDuration time.Duration `yaml:"max_run_duration"`
}

// Defaults.
const (
	DefaultMaxRemoveFraction = 0.2
	DefaultMaxRunDuration    = 2 * time.Hour
	DefaultRefreshMarginDays = 30
	DefaultStatePath         = "audiencesync.db"
)

// RefreshMargin returns the destination's refresh margin as a duration.
func (d *Destination) RefreshMargin() time.Duration {
	days := DefaultRefreshMarginDays
	if d.RefreshMarginDays != nil {
		days = *d.RefreshMarginDays
	}
	return time.Duration(days) * 24 * time.Hour
}

// CreateAllowed reports whether the audience may be created.
func (a AudienceSpec) CreateAllowed() bool { return a.Create == nil || *a.Create }

// MaxRemove returns the removal guard's fraction.
func (s Safety) MaxRemove() float64 {
	if s.MaxRemoveFraction == nil {
		return DefaultMaxRemoveFraction
	}
	return *s.MaxRemoveFraction
}

// RunDeadline returns how long a run may last.
func (s Safety) RunDeadline() time.Duration {
	if s.MaxRunDuration == 0 {
		return DefaultMaxRunDuration
	}
	return s.MaxRunDuration
}

// Sync returns the named sync, or nil.
func (c *Config) Sync(name string) *Sync {
	for _, s := range c.Syncs {
		if s.Name == name {
			return s
		}
	}
	return nil
}
