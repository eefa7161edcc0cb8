package segment

import (
	"errors"
	"fmt"
	"hash"
	"strings"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/vm"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/connectors"
	"github.com/audiencesync/audiencesync/report"
)

// Filter is one segment's filter expression, compiled against the sync's
// attributes for one run's clock. It is immutable and safe for concurrent
// use; evaluating it needs an evaluator (one per goroutine).
type Filter struct {
	src     string
	program *vm.Program
	// uses are the indexes (in Member.Attrs) of the attributes the
	// expression names, in the order they first appear: the only ones
	// put into the environment, and the ones a failed evaluation blames.
	uses []int
	// blame are the indexes of every attribute the expression needs,
	// directly or through days_since and hours_since, in the order
	// they appear: the first missing one is the reason a failed
	// evaluation gives.
	blame []int
	// names are the attribute names by index; missing their reasons.
	names   []string
	missing []string
	// derived are the variables that replace days_since and
	// hours_since of an attribute (fast.go); now is the run's instant in
	// unix nanoseconds, which they count from.
	derived []derived
	now     int64
}

// CompileError is a filter that does not compile: a syntax error, an
// unknown attribute or function, or an operation on the wrong types.
// Line and Column locate the offending part within the expression
// (both from 1).
type CompileError struct {
	Line, Column int
	// Msg is the compiler's message, such as "unknown name visit".
	Msg string
	// Near is the expression's line with the offending part marked.
	Near string
}

func (e *CompileError) Error() string {
	if e.Near == "" {
		return e.Msg
	}
	return fmt.Sprintf("%s at column %d: %s", e.Msg, e.Column, e.Near)
}

// envSample is the typed zero value of each attribute type: the compiler
// learns each attribute's type from it.
func envSample(t audience.AttrType) any {
	switch t {
	case audience.AttrNumber:
		return float64(0)
	case audience.AttrBool:
		return false
	case audience.AttrTime:
		return time.Time{}
	}
	return ""
}

// errMissing is what the time functions return for a missing
// timestamp: the evaluation fails, so the filter is false and the
// member is counted as missing the attribute.
var errMissing = errors.New("missing value")

// functions are the filter's own functions, bound to the run's clock.
// A day or an hour is a whole one: days_since is 0 for less than 24
// hours ago, so "abandoned 1 to 3 days ago" reads as
// days_since(t) >= 1 && days_since(t) <= 3.
func functions(now time.Time) []expr.Option {
	since := func(unit time.Duration) func(params ...any) (any, error) {
		return func(params ...any) (any, error) {
			t, ok := params[0].(time.Time)
			if !ok {
				return nil, errMissing
			}
			d := now.Sub(t)
			n := int(d / unit)
			if d < 0 && d%unit != 0 {
				n-- // floor: an instant in the future is day -1, not 0
			}
			return n, nil
		}
	}
	return []expr.Option{
		expr.Function("now", func(...any) (any, error) { return now, nil }, new(func() time.Time)),
		expr.Function("days_since", since(24*time.Hour), new(func(time.Time) int)),
		expr.Function("hours_since", since(time.Hour), new(func(time.Time) int)),
	}
}

// CompileFilter compiles src against attrs for a run whose clock reads
// now. The expression must be boolean and may name only the attributes;
// a *CompileError says what is wrong and where.
func CompileFilter(src string, attrs []connectors.Attribute, now time.Time) (*Filter, error) {
	if strings.TrimSpace(src) == "" {
		return nil, &CompileError{Line: 1, Column: 1, Msg: "the filter is empty"}
	}
	env := make(map[string]any, len(attrs))
	index := make(map[string]int, len(attrs))
	f := &Filter{src: src, names: make([]string, len(attrs)), missing: make([]string, len(attrs))}
	for i, a := range attrs {
		env[a.Name] = envSample(a.Type)
		index[a.Name] = i
		f.names[i] = a.Name
		f.missing[i] = report.ReasonMissing + a.Name
	}
	// The first compile checks the expression against the functions'
	// declared types; the second patches their calls into typed calls
	// the virtual machine makes without boxing arguments (fast.go).
	check := append([]expr.Option{expr.Env(env), expr.AsBool()}, functions(now)...)
	if _, err := expr.Compile(src, check...); err != nil {
		return nil, compileError(err)
	}
	derivedEnv(env, attrs)
	fast := append([]expr.Option{expr.Env(env), expr.AsBool(),
		expr.Patch(&fastCalls{now: now, index: index, attrs: attrs, f: f}), expr.Patch(&usesCollector{index: index, f: f})}, functions(now)...)
	program, err := expr.Compile(src, fast...)
	if err != nil {
		return nil, fmt.Errorf("segment: compile the checked filter %q: %w", src, err)
	}
	f.program, f.now = program, now.UnixNano()
	return f, nil
}

func compileError(err error) *CompileError {
	ce := &CompileError{Line: 1, Msg: err.Error()}
	var fe *file.Error
	if errors.As(err, &fe) {
		ce.Line, ce.Column, ce.Msg = max(fe.Line, 1), fe.Column+1, fe.Message
		// The snippet is "\n | <line>\n | ...^": keep the line.
		if line, _, _ := strings.Cut(strings.TrimPrefix(fe.Snippet, "\n | "), "\n"); strings.TrimSpace(line) != "" {
			ce.Near = strings.TrimSpace(line)
		}
	}
	ce.Msg = strings.TrimSpace(ce.Msg)
	if strings.HasPrefix(ce.Msg, "expected bool, but got") {
		ce.Msg += ": a filter must be true or false, such as visits >= 5"
	}
	return ce
}

// usesCollector records which attributes an expression names. It runs as
// a patch, after type checking, so only names that are attributes count.
type usesCollector struct {
	index map[string]int
	f     *Filter
}

func (u *usesCollector) Visit(node *ast.Node) {
	id, ok := (*node).(*ast.IdentifierNode)
	if !ok {
		return
	}
	if i, ok := u.index[id.Value]; ok && !containsInt(u.f.uses, i) {
		u.f.uses = append(u.f.uses, i)
	}
	i, ok := u.index[id.Value]
	for _, d := range u.f.derived {
		if d.name == id.Value {
			i, ok = d.attr, true
		}
	}
	if ok && !containsInt(u.f.blame, i) {
		u.f.blame = append(u.f.blame, i)
	}
}

func containsInt(s []int, v int) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// evaluator evaluates filters on one goroutine, reusing its virtual
// machine and environment from member to member.
type evaluator struct {
	vm  vm.VM
	env map[string]any
	// mac and sum hash member keys for holdouts.
	mac hash.Hash
	sum []byte
}

// match evaluates f on attrs. A member whose attribute the expression
// needed is missing or did not parse does not match, with the reason
// naming that attribute; otherwise reason is report.ReasonFiltered when
// the expression is false.
func (e *evaluator) match(f *Filter, attrs []audience.Value) (ok bool, reason string) {
	for _, i := range f.uses {
		e.env[f.names[i]] = envValue(attrs, i)
	}
	for _, d := range f.derived {
		var v any
		if d.attr < len(attrs) && attrs[d.attr].Type() == audience.AttrTime {
			t, _ := attrs[d.attr].Time()
			v = since(f.now, t.UnixNano(), d.unit)
		}
		e.env[d.name] = v
	}
	out, err := e.vm.Run(f.program, e.env)
	if err == nil {
		if b, _ := out.(bool); b {
			return true, ""
		}
		return false, report.ReasonFiltered
	}
	for _, i := range f.blame {
		if i >= len(attrs) || !attrs[i].Present() {
			return false, f.missing[i]
		}
	}
	return false, report.ReasonFilterError
}

// envValue is attribute i as the expression sees it: nil when missing.
func envValue(attrs []audience.Value, i int) any {
	if i >= len(attrs) {
		return nil
	}
	v := attrs[i]
	switch v.Type() {
	case audience.AttrString:
		s, _ := v.Text()
		return s
	case audience.AttrNumber:
		n, _ := v.Number()
		return n
	case audience.AttrBool:
		b, _ := v.Bool()
		return b
	case audience.AttrTime:
		t, _ := v.Time()
		return t
	}
	return nil
}
