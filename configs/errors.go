package configs

import (
	"cmp"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
)

// Problem is one thing wrong with a config file, located by file and line
// (Line is 0 when the problem concerns the file as a whole).
type Problem struct {
	File string
	Line int
	Msg  string
}

// String formats the problem as file:line: msg, the form editors and
// terminals turn into a link.
func (p Problem) String() string {
	if p.Line <= 0 {
		return p.File + ": " + p.Msg
	}
	return p.File + ":" + strconv.Itoa(p.Line) + ": " + p.Msg
}

// Error is every problem found in a config file. Parse and Load return it
// (as *Error) when the file is malformed or breaks a rule, so that a user
// fixes them all in one pass.
type Error struct {
	Problems []Problem
}

// Error prints one problem per line.
func (e *Error) Error() string {
	lines := make([]string, len(e.Problems))
	for i, p := range e.Problems {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// problems collects what is wrong with one file.
type problems struct {
	file string
	list []Problem
}

func (ps *problems) addf(line int, format string, args ...any) {
	ps.list = append(ps.list, Problem{File: ps.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// addErr adds err, one problem per line of its message, so errors.Join'ed
// errors from a connector's Validate stay one per line.
func (ps *problems) addErr(line int, prefix string, err error) {
	for msg := range strings.SplitSeq(err.Error(), "\n") {
		if msg = strings.TrimSpace(msg); msg != "" {
			ps.addf(line, "%s: %s", prefix, msg)
		}
	}
}

// err returns the collected problems in file order, or nil. A problem in
// a mapping that aliases share is reported once.
func (ps *problems) err() error {
	if len(ps.list) == 0 {
		return nil
	}
	seen := make(map[Problem]bool, len(ps.list))
	list := ps.list[:0]
	for _, p := range ps.list {
		if !seen[p] {
			seen[p] = true
			list = append(list, p)
		}
	}
	slices.SortStableFunc(list, func(a, b Problem) int { return cmp.Compare(a.Line, b.Line) })
	return &Error{Problems: list}
}

// yamlLine finds the "line N:" yaml.v3 puts in its syntax errors.
var yamlLine = regexp.MustCompile(`^yaml: line (\d+): `)

// addSyntax turns a yaml.v3 parse error into a located problem.
func (ps *problems) addSyntax(err error) {
	msg := err.Error()
	if m := yamlLine.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		ps.addf(line, "invalid YAML: %s", msg[len(m[0]):])
		return
	}
	ps.addf(0, "invalid YAML: %s", strings.TrimPrefix(msg, "yaml: "))
}
