package configs

import (
	"encoding"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/audiencesync/audiencesync/auth"
)

// decoder decodes YAML nodes into Go values strictly: an unknown key, a
// duplicate key or a value of the wrong type is a problem located at its
// line. Decoding carries on past a problem so that one pass reports them
// all. Field names come from yaml tags, as yaml.v3 reads them (inline
// structs included), so connector settings structs need nothing else.
type decoder struct {
	ps *problems
	// secretLines remembers where each decoded secret was written, so that
	// a secret that fails to resolve is reported at its line.
	secretLines map[*auth.Secret]int
	// budget bounds the nodes visited: aliases can make a small file expand
	// exponentially.
	budget int
	// strayKeys holds the mappings that had unknown keys: a required key
	// missing from one is most likely the misspelt key, already reported.
	strayKeys map[*yaml.Node]bool
	// merging holds the mappings whose merge keys are being expanded, to
	// catch a mapping that merges itself through an alias.
	merging map[*yaml.Node]bool
}

// A document may expand to nodesPerByte values per byte of input, plus
// minNodes: far more than aliases shared for reuse give, far less than
// what would stall.
const (
	minNodes     = 1 << 12
	nodesPerByte = 16
)

func newDecoder(ps *problems, size int) *decoder {
	return &decoder{
		ps:          ps,
		secretLines: make(map[*auth.Secret]int),
		budget:      minNodes + nodesPerByte*size,
		strayKeys:   make(map[*yaml.Node]bool),
		merging:     make(map[*yaml.Node]bool),
	}
}

var (
	secretType   = reflect.TypeFor[auth.Secret]()
	durationType = reflect.TypeFor[time.Duration]()
)

// value decodes n into v. parent and key name the place for messages: key
// is the YAML key (or list element label) under parent.
func (d *decoder) value(n *yaml.Node, v reflect.Value, parent, key string) {
	if n = d.visit(n); n == nil || isNull(n) {
		return
	}
	where := join(parent, key)
	if v.CanAddr() {
		switch p := v.Addr().Interface().(type) {
		case *auth.Secret:
			if err := n.Decode(p); err != nil {
				d.ps.addf(n.Line, "%s: %v", where, err)
				return
			}
			d.secretLines[p] = n.Line
			return
		case yaml.Unmarshaler:
			if err := n.Decode(p); err != nil {
				d.ps.addf(n.Line, "%s: %s", where, strings.TrimPrefix(err.Error(), "yaml: "))
			}
			return
		case encoding.TextUnmarshaler:
			if n.Kind != yaml.ScalarNode {
				d.ps.addf(n.Line, "%s: must be a string, not %s", where, describeNode(n))
			} else if err := n.Decode(p); err != nil {
				d.ps.addf(n.Line, "%s: %s", where, strings.TrimPrefix(err.Error(), "yaml: "))
			}
			return
		}
	}
	switch v.Kind() {
	case reflect.Pointer:
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		d.value(n, v.Elem(), parent, key)
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			d.mismatch(n, v.Type(), where)
			return
		}
		d.fields(n, d.pairs(n, where), v, where, nil)
	case reflect.Map:
		d.mapValue(n, v, where)
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			d.mismatch(n, v.Type(), where)
			return
		}
		s := reflect.MakeSlice(v.Type(), len(n.Content), len(n.Content))
		for i, e := range n.Content {
			d.value(e, s.Index(i), parent, elemLabel(key, i, e))
		}
		v.Set(s)
	case reflect.Interface:
		if err := n.Decode(v.Addr().Interface()); err != nil {
			d.mismatch(n, v.Type(), where)
		}
	default:
		d.scalar(n, v, where)
	}
}

// scalar decodes a scalar node with yaml.v3's own conversions, replacing its
// error with one that says what was expected.
func (d *decoder) scalar(n *yaml.Node, v reflect.Value, where string) {
	if n.Kind != yaml.ScalarNode || n.Decode(v.Addr().Interface()) != nil {
		d.mismatch(n, v.Type(), where)
	}
}

func (d *decoder) mapValue(n *yaml.Node, v reflect.Value, where string) {
	t := v.Type()
	if n.Kind != yaml.MappingNode || t.Key().Kind() != reflect.String {
		d.mismatch(n, t, where)
		return
	}
	if v.IsNil() {
		v.Set(reflect.MakeMap(t))
	}
	for _, p := range d.pairs(n, where) {
		e := reflect.New(t.Elem()).Elem()
		d.value(p.val, e, where, p.key.Value)
		v.SetMapIndex(reflect.ValueOf(p.key.Value).Convert(t.Key()), e)
	}
}

// fields decodes the pairs of mapping n into the struct v. Keys listed in
// reserved are handled by the caller: they are skipped here but listed as
// known in messages.
func (d *decoder) fields(n *yaml.Node, pairs []pair, v reflect.Value, where string, reserved []string) {
	fs := fieldsOf(v.Type())
	for _, p := range pairs {
		name := p.key.Value
		if slices.Contains(reserved, name) {
			continue
		}
		f, ok := fs.lookup(name)
		if !ok {
			d.unknownKey(p.key.Line, name, where, slices.Concat(reserved, fs.names()))
			d.strayKeys[n] = true
			continue
		}
		d.value(p.val, fieldAlloc(v, f.index), where, name)
	}
}

// visit follows aliases and spends one unit of the node budget. It returns
// nil once the budget is gone.
func (d *decoder) visit(n *yaml.Node) *yaml.Node {
	if d.budget <= 0 {
		return nil
	}
	if d.budget--; d.budget == 0 {
		d.ps.addf(n.Line, "the document expands to too many values (aliases nested too deeply?)")
		return nil
	}
	return deref(n)
}

func (d *decoder) mismatch(n *yaml.Node, t reflect.Type, where string) {
	d.ps.addf(n.Line, "%s: must be %s, not %s", where, describeType(t), describeNode(n))
}

// unknownKey reports key as unknown in where, listing the known keys and
// the likeliest one meant.
func (d *decoder) unknownKey(line int, key, where string, known []string) {
	in := "in " + where
	if where == "" {
		in = "at the top level"
	}
	msg := fmt.Sprintf("unknown key %q %s (known: %s)", key, in, strings.Join(known, ", "))
	if s := suggest(key, known); s != "" {
		msg += fmt.Sprintf("; did you mean %q?", s)
	}
	d.ps.addf(line, "%s", msg)
}

// pair is one key and value of a mapping.
type pair struct{ key, val *yaml.Node }

// pairs returns the entries of mapping n, reporting duplicate and non-string
// keys. Merge keys (<<: *anchor) contribute the entries the mapping does not
// set itself; among several merged mappings the first wins, as YAML says.
func (d *decoder) pairs(n *yaml.Node, where string) []pair {
	if d.merging[n] {
		d.ps.addf(n.Line, "%s: a merge (<<) includes the mapping it is in", label(where))
		return nil
	}
	d.merging[n] = true
	defer delete(d.merging, n)
	var own, merged []pair
	seen := make(map[string]int)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := deref(n.Content[i]), n.Content[i+1]
		switch {
		case k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge":
			merged = append(merged, d.merge(v, where)...)
		case k.Kind != yaml.ScalarNode:
			d.ps.addf(k.Line, "%s: keys must be plain strings, not %s", label(where), describeNode(k))
		default:
			if first, dup := seen[k.Value]; dup {
				d.ps.addf(k.Line, "duplicate key %q in %s (first at line %d)", k.Value, label(where), first)
				continue
			}
			seen[k.Value] = k.Line
			own = append(own, pair{k, v})
		}
	}
	for _, p := range merged {
		if _, set := seen[p.key.Value]; !set {
			seen[p.key.Value] = p.key.Line
			own = append(own, p)
		}
	}
	return own
}

func (d *decoder) merge(v *yaml.Node, where string) []pair {
	if v = d.visit(v); v == nil {
		return nil
	}
	switch v.Kind {
	case yaml.MappingNode:
		return d.pairs(v, where)
	case yaml.SequenceNode:
		var out []pair
		for _, e := range v.Content {
			switch e = d.visit(e); {
			case e == nil:
				return out
			case e.Kind == yaml.MappingNode:
				out = append(out, d.pairs(e, where)...)
				continue
			}
			d.ps.addf(v.Line, "%s: << must merge a mapping or a list of mappings", label(where))
		}
		return out
	}
	d.ps.addf(v.Line, "%s: << must merge a mapping or a list of mappings, not %s", label(where), describeNode(v))
	return nil
}

// field is one settable key of a struct: its YAML name and index path
// (longer than one for fields of inline structs).
type field struct {
	name  string
	index []int
}

type fieldList []field

func (fs fieldList) lookup(name string) (field, bool) {
	for _, f := range fs {
		if f.name == name {
			return f, true
		}
	}
	return field{}, false
}

func (fs fieldList) names() []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.name
	}
	return out
}

// fieldsOf lists the YAML keys of struct type t in declaration order,
// following yaml.v3: the tag names the key (the lower-cased field name when
// it does not), "-" skips the field and ",inline" lifts a struct's keys.
func fieldsOf(t reflect.Type) fieldList {
	var out fieldList
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("yaml")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		inline := slices.Contains(strings.Split(opts, ","), "inline")
		// An unexported embedded struct is reachable, but not through a
		// pointer, which could not be set.
		if inline && (sf.IsExported() || sf.Anonymous && sf.Type.Kind() == reflect.Struct) {
			ft := sf.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for _, f := range fieldsOf(ft) {
					out = append(out, field{f.name, append([]int{i}, f.index...)})
				}
				continue
			}
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(sf.Name)
		}
		out = append(out, field{name, []int{i}})
	}
	return out
}

// fieldAlloc returns the field of struct v at index, allocating nil inline
// struct pointers on the way.
func fieldAlloc(v reflect.Value, index []int) reflect.Value {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				v.Set(reflect.New(v.Type().Elem()))
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v
}

// elemLabel names element i of the list under key: by its name (or its
// connection, for destinations) where it has one, as in sync "nightly",
// otherwise by index, as in syncs[2].
func elemLabel(key string, i int, n *yaml.Node) string {
	singular, plural := strings.CutSuffix(key, "s")
	if plural && !strings.HasSuffix(singular, "s") {
		for _, k := range []string{"name", "connection"} {
			if v := scalarAt(n, k); v != "" {
				return singular + " " + strconv.Quote(v)
			}
		}
	}
	return fmt.Sprintf("%s[%d]", key, i)
}

// scalarAt returns the scalar value under key in mapping n, or "".
func scalarAt(n *yaml.Node, key string) string {
	if v := child(n, key); v != nil && v.Kind == yaml.ScalarNode && !isNull(v) {
		return v.Value
	}
	return ""
}

// keyAt returns the key node for key in mapping n, or nil.
func keyAt(n *yaml.Node, key string) *yaml.Node {
	if n = deref(n); n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := deref(n.Content[i]); k.Kind == yaml.ScalarNode && k.Value == key {
			return k
		}
	}
	return nil
}

// child returns the value under key in mapping n, aliases followed, or nil.
func child(n *yaml.Node, key string) *yaml.Node {
	if n = deref(n); n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := deref(n.Content[i]); k.Kind == yaml.ScalarNode && k.Value == key {
			return deref(n.Content[i+1])
		}
	}
	return nil
}

// lineAt returns the line of the deepest key of path present under n,
// or n's own line.
func lineAt(n *yaml.Node, path ...string) int {
	if n == nil {
		return 0
	}
	line := n.Line
	for _, key := range path {
		k := keyAt(n, key)
		if k == nil {
			break
		}
		line, n = k.Line, child(n, key)
	}
	return line
}

// isEmpty reports whether key is absent under n, null, or an empty list or
// mapping: the cases where "missing" is the right message, rather than one
// that repeats a type error already reported.
func isEmpty(n *yaml.Node, key string) bool {
	v := child(n, key)
	return v == nil || isNull(v) || (v.Kind == yaml.SequenceNode || v.Kind == yaml.MappingNode) && len(v.Content) == 0
}

func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool { return n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" }

func describeType(t reflect.Type) string {
	if t == durationType {
		return "a duration such as 90s or 6h"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "a whole number"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number, 0 or more"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Struct, reflect.Map:
		return "a mapping"
	case reflect.Slice, reflect.Array:
		return "a list"
	}
	return "a " + t.String()
}

func describeNode(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	const maxShown = 40
	if v := []rune(n.Value); len(v) > maxShown {
		return strconv.Quote(string(v[:maxShown]) + "…")
	}
	return strconv.Quote(n.Value)
}

func join(parent, key string) string {
	if parent == "" {
		return key
	}
	if key == "" {
		return parent
	}
	return parent + " " + key
}

func label(where string) string {
	if where == "" {
		return "the top level"
	}
	return where
}

// suggest returns the known key a mistyped key most likely meant: one that
// differs only in case, '_' or '-', or by at most two edits; "" if none.
func suggest(key string, known []string) string {
	squash := func(s string) string {
		return strings.NewReplacer("_", "", "-", "").Replace(strings.ToLower(s))
	}
	best, bestDist := "", 3
	for _, k := range known {
		if squash(k) == squash(key) {
			return k
		}
		if dist := editDistance(key, k); dist < bestDist && dist < len(k) {
			best, bestDist = k, dist
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
