// Package platform describes the ad platforms audiencesync uploads to. A
// Platform is one value holding everything that differs from one platform
// to the next and that code outside its connector needs: the identifier
// kinds it takes in priority order and how each is normalised (its
// normalize.Profile), how it matches identifiers (Match), and the columns
// of its manual-upload file (Layout). The packages below this one declare
// one platform each; builtin lists them. normalize, the file destination,
// the engine, `audiencesync hash` and the sandbox iterate a Registry of
// them instead of naming platforms.
//
// The fixed credentials of a platform's sandbox replica live in its
// package too, so a production connector and the replica share them
// without the connector importing the sandbox.
package platform

import (
	"fmt"
	"slices"
	"strings"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/audience/normalize"
)

// Platform is one ad platform. It is immutable once registered: share it,
// do not change it.
type Platform struct {
	// Name is how configs, profiles, file formats and fault specs spell
	// the platform (google, meta, x).
	Name string
	// Title names the platform's API for people.
	Title string
	// Profile normalises and hashes members for the platform; its kinds
	// are the platform's, in the priority order that decides trimming.
	Profile *normalize.Profile
	// Match says how the platform matches identifiers.
	Match Match
	// Layout lists the columns of the platform's manual-upload file in
	// the order its template uses; nil when it has none.
	Layout []Column
}

// Column is one column of an upload-file layout: the identifier kind it
// holds and the platform's name for it.
type Column struct {
	Kind audience.Kind
	Name string
}

// Kinds returns the kinds the platform takes, in priority order.
func (p *Platform) Kinds() []audience.Kind { return p.Profile.Kinds() }

// LayoutKinds returns the kinds the upload-file layout has a column for,
// in column order.
func (p *Platform) LayoutKinds() []audience.Kind {
	out := make([]audience.Kind, len(p.Layout))
	for i, c := range p.Layout {
		out[i] = c.Kind
	}
	return out
}

// Column returns the layout's name for kind k, and whether it has one.
func (p *Platform) Column(k audience.Kind) (string, bool) {
	for _, c := range p.Layout {
		if c.Kind == k {
			return c.Name, true
		}
	}
	return "", false
}

// Match is a platform's match semantics. Platforms match some identifiers
// on their own (an e-mail address, a phone number, a device id) and others
// only in combination (a Google address; Meta's names, city, zip and birth
// date): the engine keeps and removes those as one group.
type Match struct {
	attribute [audience.NumKinds]bool
	record    bool
}

// NewMatch declares the kinds a platform matches only in combination. With
// record, the platform matches a member's identifiers as one record (a
// Meta row): the combination identifies a member only in a record without
// a standalone identifier.
func NewMatch(record bool, attributes ...audience.Kind) Match {
	m := Match{record: record}
	for _, k := range attributes {
		m.attribute[k] = true
	}
	return m
}

// Attribute reports whether k is matched only in combination.
func (m *Match) Attribute(k audience.Kind) bool { return int(k) < len(m.attribute) && m.attribute[k] }

// RecordMatching reports whether the platform matches a member's
// identifiers as one record (see NewMatch).
func (m *Match) RecordMatching() bool { return m.record }

// Registry is a list of platforms by name. The zero value is empty and
// ready; Clone gives a copy tests can add to. It is filled once, before
// use, and then only read.
type Registry struct {
	list []*Platform
}

// Register adds p. It panics, as these are programming errors, on an empty
// or duplicate name, a platform without a profile or whose profile is named
// otherwise, or a layout whose kinds are not exactly the profile's.
func (r *Registry) Register(p *Platform) {
	switch {
	case p == nil || p.Name == "":
		panic("platform: Register with empty name")
	case r.find(p.Name) != nil:
		panic("platform: Register called twice for " + p.Name)
	case p.Profile == nil || p.Profile.Name() != p.Name:
		panic("platform: " + p.Name + " has no profile of its name")
	}
	if p.Layout != nil {
		got, want := p.LayoutKinds(), p.Kinds()
		slices.Sort(got)
		slices.Sort(want)
		if !slices.Equal(got, want) {
			panic("platform: " + p.Name + "'s upload layout does not have one column per kind it takes")
		}
	}
	r.list = append(r.list, p)
}

func (r *Registry) find(name string) *Platform {
	for _, p := range r.list {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// Lookup returns the platform named name, in any letter case.
func (r *Registry) Lookup(name string) (*Platform, error) {
	if p := r.find(strings.ToLower(strings.TrimSpace(name))); p != nil {
		return p, nil
	}
	return nil, fmt.Errorf("unknown platform %q (use one of: %s)", name, strings.Join(r.Names(), ", "))
}

// Names lists the registered platforms' names in registration order.
func (r *Registry) Names() []string {
	out := make([]string, len(r.list))
	for i, p := range r.list {
		out[i] = p.Name
	}
	return out
}

// All lists the registered platforms in registration order.
func (r *Registry) All() []*Platform { return slices.Clone(r.list) }

// Clone returns an independent copy.
func (r *Registry) Clone() *Registry { return &Registry{list: slices.Clone(r.list)} }
