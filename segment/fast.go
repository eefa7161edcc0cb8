package segment

import (
	"time"

	"github.com/expr-lang/expr/ast"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
)

// Filters are evaluated millions of times a run, so their calls of the
// filter functions are rewritten once type checking has passed: now()
// becomes the run's instant, a constant, and days_since or hours_since of
// an attribute becomes a variable of its own, computed from the
// attribute as the environment is filled. The virtual machine then loads
// a small integer instead of calling a function, and a timestamp is
// never boxed. Other arguments (days_since(now())) keep the function.
// Derived names start with "__", which no attribute name can.

// derived is one rewritten call: the environment variable name holds
// the whole units since attribute attr.
type derived struct {
	name string
	attr int
	unit time.Duration
}

// derivedName is the variable that replaces fn(attr).
func derivedName(fn, attr string) string { return "__" + fn + "__" + attr }

var sinceUnits = map[string]time.Duration{"days_since": 24 * time.Hour, "hours_since": time.Hour}

// derivedEnv declares the derived variables of every timestamp attribute.
func derivedEnv(env map[string]any, attrs []connectors.Attribute) {
	for _, a := range attrs {
		if a.Type == audience.AttrTime {
			for fn := range sinceUnits {
				env[derivedName(fn, a.Name)] = 0
			}
		}
	}
}

// fastCalls rewrites the function calls of a checked filter, recording
// the derived variables in f.
type fastCalls struct {
	now   time.Time
	index map[string]int
	attrs []connectors.Attribute
	f     *Filter
}

func (p *fastCalls) Visit(node *ast.Node) {
	call, ok := (*node).(*ast.CallNode)
	if !ok {
		return
	}
	id, ok := call.Callee.(*ast.IdentifierNode)
	if !ok {
		return
	}
	if id.Value == "now" && len(call.Arguments) == 0 {
		ast.Patch(node, &ast.ConstantNode{Value: p.now})
		return
	}
	unit, ok := sinceUnits[id.Value]
	if !ok || len(call.Arguments) != 1 {
		return
	}
	arg, ok := call.Arguments[0].(*ast.IdentifierNode)
	if !ok {
		return
	}
	i, ok := p.index[arg.Value]
	if !ok || p.attrs[i].Type != audience.AttrTime {
		return
	}
	name := derivedName(id.Value, arg.Value)
	if !containsDerived(p.f.derived, name) {
		p.f.derived = append(p.f.derived, derived{name: name, attr: i, unit: unit})
	}
	ast.Patch(node, &ast.IdentifierNode{Value: name})
}

func containsDerived(ds []derived, name string) bool {
	for _, d := range ds {
		if d.name == name {
			return true
		}
	}
	return false
}

// since is the whole units from t (unix nanoseconds) to now, rounded
// down: an instant in the future is -1, not 0.
func since(now, t int64, unit time.Duration) int {
	d := now - t
	n := d / int64(unit)
	if d < 0 && d%int64(unit) != 0 {
		n--
	}
	return int(n)
}
