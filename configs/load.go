package configs

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/audiencesync/audiencesync/connectors"
)

// LoadOptions tune Load and Parse.
type LoadOptions struct {
	// LookupEnv reads the environment for ${env:NAME} secrets; nil means
	// os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// SkipSecrets checks the file's shape and rules without resolving any
	// secret, for `validate` on a machine without the credentials. Secrets
	// are then left unresolved, and connector Validate methods run on them
	// as they are (so those should test Secret.IsZero, not Reveal).
	SkipSecrets bool
	// CheckFiles checks that every local file a connection reads
	// (connectors.FileReader, such as a CSV source's path) exists and can
	// be read: `validate` asks for it; commands that only read state do
	// not.
	CheckFiles bool
}

// Load reads the config file at path; see Parse. Relative paths in the file
// are taken from the file's directory.
func Load(path string, reg *connectors.Registry, opts LoadOptions) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("read config %s: %w", path, err)
	}
	cfg, err := Parse(data, path, filepath.Dir(abs), reg, opts)
	if err != nil {
		return nil, err
	}
	cfg.Path = abs
	return cfg, nil
}

// Parse decodes a config strictly, applies defaults, resolves secrets
// (unless opts.SkipSecrets), and checks every rule. name is the file name
// used in messages; baseDir is the directory relative paths are taken from
// (made absolute; "" means the working directory).
//
// Top-level keys starting with x- are ignored, so that they can hold YAML
// anchors for reuse (x-defaults: &defaults {…}), as in Compose files.
//
// When anything is wrong Parse returns a nil Config and an *Error listing
// every problem with its line.
func Parse(data []byte, name, baseDir string, reg *connectors.Registry, opts LoadOptions) (*Config, error) {
	if baseDir == "" {
		baseDir = "."
	}
	abs, err := filepath.Abs(baseDir)
	if err != nil {
		return nil, fmt.Errorf("parse config %s: base directory: %w", name, err)
	}
	if reg == nil {
		reg = &connectors.Registry{}
	}
	lookupEnv := opts.LookupEnv
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	ps := &problems{file: name}
	l := &loader{
		ps:          ps,
		dec:         newDecoder(ps, len(data)),
		reg:         reg,
		skipSecrets: opts.SkipSecrets,
		checkFiles:  opts.CheckFiles,
		lookupEnv:   lookupEnv,
		baseDir:     abs,
		cfg: &Config{
			Path:        name,
			BaseDir:     abs,
			Connections: make(map[string]*Connection),
		},
	}
	l.load(data)
	if err := ps.err(); err != nil {
		return nil, err
	}
	return l.cfg, nil
}

// loader holds what one Parse call works with.
type loader struct {
	ps          *problems
	dec         *decoder
	reg         *connectors.Registry
	skipSecrets bool
	checkFiles  bool
	lookupEnv   func(string) (string, bool)
	baseDir     string
	cfg         *Config

	// The nodes the typed values came from, for the lines of rule
	// violations found after decoding.
	root      *yaml.Node
	stateNode *yaml.Node
	syncsNode *yaml.Node
	// serveNode and alertsNode are nil when the sections are absent.
	serveNode, alertsNode *yaml.Node
	// noConnections is set when the connections section is malformed, so
	// that references to connections are not reported as well.
	noConnections bool
}

func (l *loader) load(data []byte) {
	root := l.document(data)
	if root == nil {
		return
	}
	l.root = root
	known := fieldsOf(reflect.TypeFor[Config]()).names()
	for _, p := range l.dec.pairs(root, "") {
		switch key := p.key.Value; key {
		case "state":
			l.stateNode = deref(p.val)
			l.dec.value(p.val, reflect.ValueOf(&l.cfg.State).Elem(), "", key)
		case "connections":
			l.connections(p.val)
		case "serve":
			l.serveNode = deref(p.val)
			l.dec.value(p.val, reflect.ValueOf(&l.cfg.Serve).Elem(), "", key)
		case "alerts":
			l.alertsNode = deref(p.val)
			l.dec.value(p.val, reflect.ValueOf(&l.cfg.Alerts).Elem(), "", key)
		case "syncs":
			l.syncsNode = deref(p.val)
			l.dec.value(p.val, reflect.ValueOf(&l.cfg.Syncs).Elem(), "", key)
		default:
			// x- keys hold YAML anchors for reuse, as in Compose files.
			if !strings.HasPrefix(key, "x-") {
				l.dec.unknownKey(p.key.Line, key, "", known)
				l.dec.strayKeys[root] = true
			}
		}
	}
	if l.dec.budget <= 0 {
		return // the typed values are incomplete; checking them would mislead
	}
	l.state()
	l.syncs()
	l.serve()
	if l.checkFiles {
		l.localFiles()
	}
}

// document parses data into its single top-level mapping, or reports why it
// cannot and returns nil.
func (l *loader) document(data []byte) *yaml.Node {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			l.ps.addf(0, "the file is empty: it needs connections and at least one sync")
		} else {
			l.ps.addSyntax(err)
		}
		return nil
	}
	var next yaml.Node
	switch err := dec.Decode(&next); {
	case err == nil:
		l.ps.addf(next.Line, "a second YAML document starts here: keep the whole config in one document")
	case !errors.Is(err, io.EOF):
		l.ps.addSyntax(err)
	}
	root := deref(&doc)
	if root.Kind == yaml.DocumentNode && len(root.Content) > 0 {
		root = deref(root.Content[0])
	}
	if isNull(root) || root.Kind == yaml.DocumentNode {
		l.ps.addf(0, "the file is empty: it needs connections and at least one sync")
		return nil
	}
	if root.Kind != yaml.MappingNode {
		l.ps.addf(root.Line, "the top level must be a mapping with state, connections and syncs, not %s", describeNode(root))
		return nil
	}
	return root
}

// connections decodes the connections mapping.
func (l *loader) connections(n *yaml.Node) {
	if n = deref(n); isNull(n) {
		return
	}
	if n.Kind != yaml.MappingNode {
		l.ps.addf(n.Line, "connections: must be a mapping of connection names to settings, not %s", describeNode(n))
		l.noConnections = true
		return
	}
	for _, p := range l.dec.pairs(n, "connections") {
		if p.key.Value == "" {
			l.ps.addf(p.key.Line, "connections: a connection has an empty name")
			continue
		}
		c := &Connection{Name: p.key.Value, Line: p.key.Line, Node: deref(p.val)}
		l.cfg.Connections[c.Name] = c
		l.connection(c)
	}
}

// connection decodes one connection into its connector's settings, then
// resolves its secrets and validates it. A connection whose settings could
// not be decoded keeps a zero Spec, so that syncs using it are not reported
// again.
func (l *loader) connection(c *Connection) {
	where := fmt.Sprintf("connection %q", c.Name)
	types := strings.Join(l.reg.Types(), ", ")
	n := c.Node
	if n.Kind != yaml.MappingNode {
		l.ps.addf(n.Line, "%s: must be a mapping with a type and its settings, not %s", where, describeNode(n))
		return
	}
	pairs := l.dec.pairs(n, where)
	var typ *yaml.Node
	for _, p := range pairs {
		if p.key.Value == "type" {
			typ = deref(p.val)
		}
	}
	if typ == nil || typ.Kind != yaml.ScalarNode || isNull(typ) || typ.Value == "" {
		l.ps.addf(c.Line, "%s has no type: add type: with one of %s", where, types)
		return
	}
	c.Type = typ.Value
	spec, err := l.reg.Lookup(c.Type)
	if err != nil {
		l.ps.addf(typ.Line, "%s: %v", where, err)
		return
	}
	settings := spec.Settings()
	v := reflect.ValueOf(settings)
	if v.Kind() != reflect.Pointer || v.IsNil() {
		l.ps.addf(c.Line, "%s: connector %s gives settings of type %T, not a pointer: this is a bug in the connector", where, c.Type, settings)
		return
	}
	before := len(l.ps.list)
	if e := v.Elem(); e.Kind() == reflect.Struct && !v.Type().Implements(reflect.TypeFor[yaml.Unmarshaler]()) {
		l.dec.fields(n, pairs, e, where, []string{"type"})
	} else {
		l.dec.value(withoutKey(n, "type"), e, "", where)
	}
	if !l.skipSecrets && len(l.ps.list) == before {
		l.resolveSecrets(v, where, c.Line)
	}
	if val, ok := settings.(connectors.Validator); ok && len(l.ps.list) == before {
		if err := val.Validate(); err != nil {
			l.ps.addErr(c.Line, where, err)
		}
	}
	if len(l.ps.list) == before {
		c.Spec, c.Settings = spec, settings
	}
}

// withoutKey returns a copy of mapping n without key.
func withoutKey(n *yaml.Node, key string) *yaml.Node {
	out := *n
	out.Content = nil
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := deref(n.Content[i]); k.Kind != yaml.ScalarNode || k.Value != key {
			out.Content = append(out.Content, n.Content[i], n.Content[i+1])
		}
	}
	return &out
}

// state applies the state defaults and resolves the DSN.
func (l *loader) state() {
	st := &l.cfg.State
	if st.Path != "" && !st.DSN.IsZero() {
		l.ps.addf(lineAt(l.stateNode, "dsn"), "state: set path (SQLite) or dsn (Postgres), not both")
	}
	switch {
	case st.Path == "" && st.DSN.IsZero():
		st.Path = filepath.Join(l.baseDir, DefaultStatePath)
	case st.Path != "" && !filepath.IsAbs(st.Path):
		st.Path = filepath.Join(l.baseDir, st.Path)
	}
	if !l.skipSecrets {
		l.resolveSecrets(reflect.ValueOf(&st.DSN), "state dsn", lineAt(l.stateNode, "dsn"))
	}
}
