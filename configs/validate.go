package configs

import (
	"cmp"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"
	"go.yaml.in/yaml/v3"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/audience/normalize"
	"github.com/audiencesync/audiencesync/connectors"
)

// syncName is what a sync name may look like: it keys state records and
// names files and metrics, so it is kept to characters safe in all of them.
var syncName = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)

// maxMembershipDays is the longest membership Google Customer Match keeps.
const maxMembershipDays = 540

// syncs applies defaults to every sync, parses the fields that need it and
// checks the rules.
func (l *loader) syncs() {
	if len(l.cfg.Syncs) == 0 {
		if l.root != nil && isEmpty(l.root, "syncs") && !l.misspelt(l.root, "syncs") {
			l.ps.addf(lineAt(l.root, "syncs"), "no syncs: add at least one under syncs:")
		}
		return
	}
	first := make(map[string]int)
	for i, s := range l.cfg.Syncs {
		n := deref(l.syncsNode.Content[i])
		if s == nil {
			l.ps.addf(n.Line, "syncs[%d] is empty", i)
			continue
		}
		s.Line = n.Line
		where := elemLabel("syncs", i, n)
		l.syncName(s, n, first)
		if s.Schedule != "" {
			if _, err := cron.ParseStandard(s.Schedule); err != nil {
				l.ps.addf(lineAt(n, "schedule"), "%s schedule %q: %v: use five fields (minute hour day-of-month month day-of-week) or a descriptor such as @hourly, @daily or @every 6h", where, s.Schedule, err)
			}
		}
		if !l.misspelt(n, "source") {
			l.source(&s.Source, n, join(where, "source"))
		}
		if len(s.Segments) > 0 || !isEmpty(n, "segments") {
			l.segments(s, n, where)
		} else {
			l.destinations(s, s.Destinations, n, where)
		}
		if d := s.Safety.MaxRunDuration; d != 0 && d < time.Second {
			l.ps.addf(lineAt(n, "safety", "max_run_duration"), "%s safety max_run_duration %s: must be at least 1s (default %s), such as 90m or 6h", where, d, DefaultMaxRunDuration)
		}
		if f := s.Safety.MaxRemoveFraction; f != nil && !(*f >= 0 && *f <= 1) {
			l.ps.addf(lineAt(n, "safety", "max_remove_fraction"), "%s safety max_remove_fraction %v: must be between 0 and 1 (0.2 stops a run that would remove more than 20%% of the audience)", where, *f)
		}
	}
}

// syncName checks that the name of s is present, safe and unique; first
// maps the names seen to their lines.
func (l *loader) syncName(s *Sync, n *yaml.Node, first map[string]int) {
	line := lineAt(n, "name")
	switch {
	case s.Name == "":
		if !l.misspelt(n, "name") {
			l.ps.addf(line, "a sync has no name: add name: (lower-case letters, digits, '.', '_' or '-')")
		}
		return
	case !syncName.MatchString(s.Name):
		l.ps.addf(line, "sync name %q is not a safe identifier: use lower-case letters, digits, '.', '_' or '-', starting with a letter or digit (the name keys state and reports)", s.Name)
	}
	if at, dup := first[s.Name]; dup {
		l.ps.addf(line, "sync name %q is used twice (first at line %d): sync names must be unique", s.Name, at)
		return
	}
	first[s.Name] = line
}

// source parses the field and consent mappings of a sync's source and
// checks its connection and default region. sn is the sync's node.
func (l *loader) source(src *SourceRef, sn *yaml.Node, where string) {
	n := child(sn, "source")
	if src.Connection != "" || !l.misspelt(n, "connection") {
		l.connectionRef(src.Connection, connectors.RoleSource, where, lineAt(sn, "source", "connection"))
	}

	if r := src.DefaultRegion; r != "" {
		up := strings.ToUpper(r)
		if up == "UK" {
			up = "GB" // as CRMs often write it; the normaliser reads it so too
		}
		switch {
		case len(r) != 2 || !isLetter(r[0]) || !isLetter(r[1]):
			l.ps.addf(lineAt(sn, "source", "default_region"), "%s default_region %q: use a two-letter ISO 3166 country code such as US or GB", where, r)
		case !normalize.KnownCountry(up):
			l.ps.addf(lineAt(sn, "source", "default_region"), "%s default_region %q is not an assigned ISO 3166 country code: use one such as US, GB or FR", where, r)
		}
		src.DefaultRegion = up
	}

	if len(src.Fields) == 0 && isEmpty(n, "fields") && !l.misspelt(n, "fields") {
		l.ps.addf(lineAt(sn, "source", "fields"), "%s: fields must map at least one identifier kind (such as email or phone) to a source field", where)
	}
	src.Kinds = make(map[audience.Kind]string, len(src.Fields))
	byKind := make(map[audience.Kind]string, len(src.Fields))
	fn := child(n, "fields")
	for _, key := range keysInFileOrder(src.Fields, fn) {
		line := lineAt(fn, key)
		kind, err := audience.ParseKind(key)
		if err != nil {
			l.ps.addf(line, "%s fields: %v", where, err)
			continue
		}
		if prev, dup := byKind[kind]; dup {
			l.ps.addf(line, "%s fields: %q and %q both name %s: keep one", where, prev, key, kind)
			continue
		}
		byKind[kind] = key
		if strings.TrimSpace(src.Fields[key]) == "" {
			l.ps.addf(line, "%s fields: %s has no source field: name the field that holds it", where, key)
			continue
		}
		src.Kinds[kind] = src.Fields[key]
	}

	cn := child(n, "consent")
	for _, key := range keysInFileOrder(src.Consent, cn) {
		field := src.Consent[key]
		switch key {
		case "ad_user_data":
			src.ConsentFields.AdUserData = field
		case "ad_personalization":
			src.ConsentFields.AdPersonalization = field
		default:
			l.dec.unknownKey(lineAt(cn, key), key, join(where, "consent"), []string{"ad_user_data", "ad_personalization"})
			continue
		}
		if strings.TrimSpace(field) == "" {
			l.ps.addf(lineAt(cn, key), "%s consent: %s has no source field: name the field that holds it, or remove the key", where, key)
		}
	}
	l.attributes(src, n, where)
}

// attrName is what an attribute name may look like: segment filters use
// it as an identifier.
var attrName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// attributes parses the attributes a sync's source hands over, in file
// order, into src.Attrs. n is the source's node.
func (l *loader) attributes(src *SourceRef, n *yaml.Node, where string) {
	an := child(n, "attributes")
	where = join(where, "attributes")
	for _, name := range keysInFileOrder(src.Attributes, an) {
		line := lineAt(an, name)
		spec := src.Attributes[name]
		if spec == nil {
			l.ps.addf(line, "%s %s is empty: give its type (and field, when the source field has another name), such as {field: hs_analytics_num_visits, type: number}", where, name)
			continue
		}
		if !attrName.MatchString(name) {
			l.ps.addf(line, "%s %q: an attribute name is lower-case letters, digits and '_', starting with a letter (segment filters use it as a name)", where, name)
			continue
		}
		if k, err := audience.ParseKind(name); err == nil {
			l.ps.addf(line, "%s %q is the name of the identifier kind %s: name the attribute otherwise (such as crm_%s), so a filter cannot confuse the two", where, name, k, name)
			continue
		}
		if strings.TrimSpace(spec.Type) == "" {
			l.ps.addf(line, "%s %s has no type: add type: string, number, bool or timestamp", where, name)
			continue
		}
		typ, err := audience.ParseAttrType(spec.Type)
		if err != nil {
			l.ps.addf(lineAt(an, name, "type"), "%s %s: %v", where, name, err)
			continue
		}
		field := strings.TrimSpace(spec.Field)
		if field == "" {
			field = name
		}
		if spec.Layout != "" {
			if typ != audience.AttrTime {
				l.ps.addf(lineAt(an, name, "layout"), "%s %s: layout is for timestamp attributes only, not %s: remove it", where, name, typ)
				continue
			}
			if !timeLayout(spec.Layout) {
				l.ps.addf(lineAt(an, name, "layout"), "%s %s layout %q is not a Go time layout: write the reference time 2006-01-02 15:04:05 as the source writes it, such as \"02/01/2006 15:04\"", where, name, spec.Layout)
				continue
			}
		}
		src.Attrs = append(src.Attrs, connectors.Attribute{Name: name, Field: field, Type: typ, Layout: spec.Layout})
	}
}

// timeLayout reports whether layout is a Go time layout that reads back
// what it writes, with at least a year, a month and a day in it (a layout
// without them, such as "dd/mm/yyyy", writes itself and reads nothing).
func timeLayout(layout string) bool {
	// Any instant but the reference time itself, which every string
	// formats to.
	probe := time.Date(2017, 11, 23, 19, 38, 47, 0, time.UTC)
	out := probe.Format(layout)
	if out == layout {
		return false
	}
	back, err := time.Parse(layout, out)
	return err == nil && back.Year() == probe.Year() && back.Month() == probe.Month() && back.Day() == probe.Day()
}

// destinations applies defaults to the destinations dests of sync s (or
// of one of its segments: node n) and checks them.
func (l *loader) destinations(s *Sync, dests []*Destination, n *yaml.Node, where string) {
	if len(dests) == 0 {
		if isEmpty(n, "destinations") && !l.misspelt(n, "destinations") {
			l.ps.addf(lineAt(n, "destinations"), "%s has no destinations: add at least one under destinations:", where)
		}
		return
	}
	list := child(n, "destinations")
	first := make(map[string]int)
	for i, d := range dests {
		dn := deref(list.Content[i])
		if d == nil {
			l.ps.addf(dn.Line, "%s destinations[%d] is empty", where, i)
			continue
		}
		d.Line = dn.Line
		if d.Name == "" {
			d.Name = d.Connection
		}
		dw := join(where, elemLabel("destinations", i, dn))
		if d.Connection != "" || !l.misspelt(dn, "connection") {
			l.connectionRef(d.Connection, connectors.RoleDestination, dw, lineAt(dn, "connection"))
		}
		if at, dup := first[d.Name]; dup && d.Name != "" {
			l.ps.addf(d.Line, "%s: destination name %q is used twice in this sync (first at line %d): set name: on one of them", dw, d.Name, at)
		} else {
			first[d.Name] = d.Line
		}
		l.destination(d, dn, dw)
		l.requiredConsent(s, d, dn, dw)
		l.taggedAudience(d, dn, dw)
		l.sentAttributes(s, d, dn, dw)
	}
}

// sentAttributes checks that the sync's source reads every attribute the
// destination's connection is sent with each member
// (connectors.AttributeSender).
func (l *loader) sentAttributes(s *Sync, d *Destination, n *yaml.Node, where string) {
	c, ok := l.cfg.Connections[d.Connection]
	if !ok {
		return
	}
	sender, ok := c.Settings.(connectors.AttributeSender)
	if !ok {
		return
	}
	for _, name := range sender.SentAttributes() {
		if _, read := s.Source.Attributes[name]; !read {
			l.ps.addf(lineAt(n, "connection"), "%s: %s (type %s) is sent attribute %s with each member, which the source does not read: add it under the sync's source.attributes",
				where, d.Connection, c.Type, name)
		}
	}
}

// taggedAudience refuses list_id and tag on a destination whose audiences
// are not tags of a list (connectors.Spec.TaggedAudience), where they
// would be ignored.
func (l *loader) taggedAudience(d *Destination, n *yaml.Node, where string) {
	c, ok := l.cfg.Connections[d.Connection]
	if !ok || c.Spec.TaggedAudience || (d.Audience.ListID == "" && d.Audience.Tag == "") {
		return
	}
	l.ps.addf(lineAt(n, "audience"), "%s: %s (type %s) has no lists and tags: its audience takes id or name, not list_id or tag",
		where, d.Connection, c.Type)
}

// requiredConsent checks that a destination whose platform refuses members
// without consent (connectors.Spec.RequiresConsent) answers both questions,
// by a default of its own or a consent column of the sync's source.
func (l *loader) requiredConsent(s *Sync, d *Destination, n *yaml.Node, where string) {
	c, ok := l.cfg.Connections[d.Connection]
	if !ok || !c.Spec.RequiresConsent {
		return
	}
	var missing []string
	if d.DefaultConsent.AdUserData == audience.ConsentUnspecified && strings.TrimSpace(s.Source.ConsentFields.AdUserData) == "" {
		missing = append(missing, "ad_user_data")
	}
	if d.DefaultConsent.AdPersonalization == audience.ConsentUnspecified && strings.TrimSpace(s.Source.ConsentFields.AdPersonalization) == "" {
		missing = append(missing, "ad_personalization")
	}
	if len(missing) == 0 {
		return
	}
	l.ps.addf(lineAt(n, "consent"), "%s: %s (type %s) refuses members without consent, and this destination would send no %s: "+
		"if your members agreed, set consent: {ad_user_data: granted, ad_personalization: granted} on the destination, "+
		"or map per-member columns under the source's consent:",
		where, d.Connection, c.Type, strings.Join(missing, " or "))
}

// destination parses a destination's consent defaults and checks its
// numbers.
func (l *loader) destination(d *Destination, n *yaml.Node, where string) {
	for _, c := range []struct {
		key, value string
		out        *audience.ConsentStatus
	}{
		{"ad_user_data", d.Consent.AdUserData, &d.DefaultConsent.AdUserData},
		{"ad_personalization", d.Consent.AdPersonalization, &d.DefaultConsent.AdPersonalization},
	} {
		st, err := audience.ParseConsent(c.value)
		if err != nil {
			l.ps.addf(lineAt(n, "consent", c.key), "%s consent %s %q: use granted or denied, or leave it out to send no consent", where, c.key, c.value)
		}
		*c.out = st
	}
	if days := d.Audience.MembershipDays; days < 0 || days > maxMembershipDays {
		l.ps.addf(lineAt(n, "audience", "membership_days"), "%s audience membership_days %d: must be between 1 and %d, or 0 for the platform's default", where, days, maxMembershipDays)
	}
	if m := d.RefreshMarginDays; m != nil && *m < 0 {
		l.ps.addf(lineAt(n, "refresh_margin_days"), "%s refresh_margin_days %d: must be 0 or more (default %d)", where, *m, DefaultRefreshMarginDays)
	}
	for _, c := range []struct {
		key   string
		value int
	}{{"batch_size", d.BatchSize}, {"concurrency", d.Concurrency}} {
		if c.value < 0 {
			l.ps.addf(lineAt(n, c.key), "%s %s %d: must be 0 (the connector's default) or more", where, c.key, c.value)
		}
	}
}

// connectionRef checks that name is a connection with the given role.
func (l *loader) connectionRef(name string, role connectors.Role, where string, line int) {
	if name == "" {
		l.ps.addf(line, "%s: connection is required: name a %s connection (%s)", where, role, l.connectionsWith(role))
		return
	}
	c, ok := l.cfg.Connections[name]
	switch {
	case !ok && l.noConnections:
		// The connections section is malformed and already reported.
	case !ok:
		l.ps.addf(line, "%s: unknown connection %q (%s connections: %s)", where, name, role, l.connectionsWith(role))
	case c.Spec.Type == "":
		// The connection itself is broken and already reported.
	case c.Spec.Role != role:
		l.ps.addf(line, "%s: connection %q is a %s (type %s), not a %s", where, name, c.Spec.Role, c.Type, role)
	}
}

// connectionsWith lists the connections with role, for messages.
func (l *loader) connectionsWith(role connectors.Role) string {
	var names []string
	for name, c := range l.cfg.Connections {
		if c.Spec.Role == role {
			names = append(names, name)
		}
	}
	if len(names) == 0 {
		return "none defined"
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// misspelt reports whether key is absent from mapping n while n has an
// unknown key, most likely key misspelt and already reported: saying that
// key is missing as well would only repeat it.
func (l *loader) misspelt(n *yaml.Node, key string) bool {
	return keyAt(n, key) == nil && l.dec.strayKeys[deref(n)]
}

// keysInFileOrder returns the keys of m in the order mapping n has them
// (keys n lacks, such as merged ones, last), so that problems are reported
// in file order.
func keysInFileOrder[V any](m map[string]V, n *yaml.Node) []string {
	pos := make(map[string]int, len(m))
	if n != nil && n.Kind == yaml.MappingNode {
		for i := len(n.Content) - 2; i >= 0; i -= 2 {
			pos[deref(n.Content[i]).Value] = i
		}
	}
	at := func(k string) int {
		if i, ok := pos[k]; ok {
			return i
		}
		return len(pos) * 2
	}
	return slices.SortedFunc(maps.Keys(m), func(a, b string) int {
		return cmp.Or(cmp.Compare(at(a), at(b)), strings.Compare(a, b))
	})
}

func isLetter(b byte) bool { return 'a' <= b|0x20 && b|0x20 <= 'z' }
