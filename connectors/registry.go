package connectors

import (
	"fmt"
	"sort"
)

// Role says whether a connector reads audiences or writes them. Its value
// is the word messages name it by; the zero Role is none (Register refuses
// it).
type Role string

// Roles.
const (
	RoleSource      Role = "source"
	RoleDestination Role = "destination"
)

// Validator is implemented by settings structs that check themselves after
// decoding and before any network call.
type Validator interface {
	Validate() error
}

// LocalFile is one local file a connector reads: the settings key that
// names it and the path as written (relative paths are taken from
// Env.BaseDir, the config file's directory).
type LocalFile struct {
	Key  string
	Path string
}

// FileReader is implemented by settings structs of connectors that read
// local files (the CSV source). `validate` checks that each exists and can
// be read, so a missing export is found before a run.
type FileReader interface {
	LocalFiles() []LocalFile
}

// AttributeSender is implemented by settings structs of destinations that
// are sent sync attributes with each member (DestinationInfo.Attributes).
// `validate` checks that the source of every sync sending to one reads
// them (source.attributes).
type AttributeSender interface {
	SentAttributes() []string
}

// Spec declares a connector: its type name, what it does, its settings and
// how to build it. Settings returns a pointer to a fresh settings struct
// with yaml tags; the config loader decodes a connection into it strictly
// and, if it implements Validator, validates it.
type Spec struct {
	Type    string
	Role    Role
	Summary string
	// Sample is a commented YAML example of a connection of this type,
	// checked against Settings by the registry's tests.
	Sample   string
	Settings func() any
	// NewSource builds a source from decoded settings (RoleSource only).
	NewSource func(settings any, env Env) (Source, error)
	// NewDestination builds a destination (RoleDestination only).
	NewDestination func(settings any, env Env) (Destination, error)
	// RequiresConsent says the platform refuses members that carry no
	// consent answers (Google Customer Match rejects such an upload with
	// CONSENT_REQUIRED). The config loader then requires every destination
	// of this type to answer both consent questions, by a default on the
	// destination or a consent column of the source, so the mistake is a
	// validate error rather than a run whose every batch is refused.
	// DestinationSpec sets it with ConsentRequired.
	RequiresConsent bool
	// TaggedAudience says the destination's audience is a tag on the
	// contacts of a list (Mailchimp): a sync's audience may then give
	// list_id and tag (AudienceSpec.List, AudienceSpec.Tag), which the
	// config loader refuses for other types. DestinationSpec sets it with
	// TaggedAudiences.
	TaggedAudience bool
}

// Registry maps connection types to connector specs. The zero value is
// empty and ready; Clone gives a copy tests can add to.
type Registry struct {
	specs map[string]Spec
}

// Register adds spec. It panics on an empty or duplicate type, or a spec
// that cannot build what its role says, as these are programming errors.
func (r *Registry) Register(spec Spec) {
	if spec.Type == "" {
		panic("connectors: Register with empty type")
	}
	if _, dup := r.specs[spec.Type]; dup {
		panic("connectors: Register called twice for type " + spec.Type)
	}
	if spec.Settings == nil {
		panic("connectors: type " + spec.Type + " has no Settings")
	}
	switch spec.Role {
	case RoleSource:
		if spec.NewSource == nil {
			panic("connectors: source type " + spec.Type + " has no NewSource")
		}
	case RoleDestination:
		if spec.NewDestination == nil {
			panic("connectors: destination type " + spec.Type + " has no NewDestination")
		}
	default:
		panic("connectors: type " + spec.Type + " has no role")
	}
	if r.specs == nil {
		r.specs = make(map[string]Spec)
	}
	r.specs[spec.Type] = spec
}

// Lookup returns the spec for a type.
func (r *Registry) Lookup(typ string) (Spec, error) {
	s, ok := r.specs[typ]
	if !ok {
		return Spec{}, fmt.Errorf("unknown connection type %q (known: %v)", typ, r.Types())
	}
	return s, nil
}

// Types lists the registered types, sorted.
func (r *Registry) Types() []string {
	out := make([]string, 0, len(r.specs))
	for t := range r.specs {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Specs lists the registered specs, sorted by type.
func (r *Registry) Specs() []Spec {
	out := make([]Spec, 0, len(r.specs))
	for _, t := range r.Types() {
		out = append(out, r.specs[t])
	}
	return out
}

// Clone returns an independent copy.
func (r *Registry) Clone() *Registry {
	c := &Registry{specs: make(map[string]Spec, len(r.specs))}
	for k, v := range r.specs {
		c.specs[k] = v
	}
	return c
}

// SourceFunc adapts a constructor over a connector's own settings type to
// Spec.NewSource, so each connector need not repeat the type check.
func SourceFunc[S any, T Source](fn func(*S, Env) (T, error)) func(any, Env) (Source, error) {
	return construct[S, T, Source](fn)
}

// DestinationFunc adapts a constructor over a connector's own settings type
// to Spec.NewDestination.
func DestinationFunc[S any, T Destination](fn func(*S, Env) (T, error)) func(any, Env) (Destination, error) {
	return construct[S, T, Destination](fn)
}

// construct checks that settings are an *S and builds the connector as an
// I (Source or Destination) with fn.
func construct[S, T, I any](fn func(*S, Env) (T, error)) func(any, Env) (I, error) {
	return func(settings any, env Env) (I, error) {
		var none I
		s, ok := settings.(*S)
		if !ok {
			return none, fmt.Errorf("settings are %T, want %T", settings, s)
		}
		c, err := fn(s, env)
		if err != nil {
			return none, err // not a typed nil inside the interface
		}
		return any(c).(I), nil
	}
}

// SourceSpec declares a source whose settings are an S, built by fn.
func SourceSpec[S any, T Source](typ, summary, sample string, fn func(*S, Env) (T, error)) Spec {
	return Spec{Type: typ, Role: RoleSource, Summary: summary, Sample: sample,
		Settings: func() any { return new(S) }, NewSource: SourceFunc(fn)}
}

// DestinationSpec declares a destination whose settings are an S, built by
// fn, with the optional facts traits name (ConsentRequired,
// TaggedAudiences): a destination type is declared in one expression.
func DestinationSpec[S any, T Destination](typ, summary, sample string, fn func(*S, Env) (T, error), traits ...Trait) Spec {
	spec := Spec{Type: typ, Role: RoleDestination, Summary: summary, Sample: sample,
		Settings: func() any { return new(S) }, NewDestination: DestinationFunc(fn)}
	for _, t := range traits {
		t(&spec)
	}
	return spec
}

// A Trait sets one of the optional facts of a destination type that the
// config loader checks its syncs against; DestinationSpec takes them.
type Trait func(*Spec)

// ConsentRequired is the Trait of a destination whose platform refuses
// members without consent answers (Spec.RequiresConsent).
func ConsentRequired(s *Spec) { s.RequiresConsent = true }

// TaggedAudiences is the Trait of a destination whose audience is a tag on
// the contacts of a list (Spec.TaggedAudience).
func TaggedAudiences(s *Spec) { s.TaggedAudience = true }
