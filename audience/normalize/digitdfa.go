package normalize

import (
	"errors"
	"regexp/syntax"
	"slices"
)

// digitDFA is a deterministic automaton over the ASCII digits, compiled from
// one of libphonenumber's number patterns. The patterns are large
// alternations (a region's area codes) that Go's regexp matches slowly; as a
// DFA every match is one table step per digit. Only the questions whose
// answer does not depend on regexp match priorities are asked of it: does
// the whole string match, and does some prefix match.
type digitDFA struct {
	next   [][10]int32 // -1: no match is possible any more
	accept []bool
	// acceptEnd marks states that match only at the end of the input:
	// patterns such as national prefixes end alternatives with "$".
	acceptEnd []bool
}

// maxDFAStates bounds a compiled automaton; a pattern that needs more makes
// its region take the parser path.
const maxDFAStates = 1 << 14

var errDFATooBig = errors.New("pattern needs too many DFA states")

// compileDigitDFA compiles a pattern, matched without anchors, into a DFA by
// subset construction over the instructions of regexp/syntax's program.
func compileDigitDFA(pattern string) (*digitDFA, error) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil {
		return nil, err
	}
	prog, err := syntax.Compile(re.Simplify())
	if err != nil {
		return nil, err
	}
	// Which digits each consuming instruction accepts.
	masks := make([]uint16, len(prog.Inst))
	for pc := range prog.Inst {
		in := &prog.Inst[pc]
		switch in.Op {
		case syntax.InstRune, syntax.InstRune1, syntax.InstRuneAny, syntax.InstRuneAnyNotNL:
			for d := range 10 {
				if in.MatchRune(rune('0' + d)) {
					masks[pc] |= 1 << d
				}
			}
		case syntax.InstEmptyWidth:
			if syntax.EmptyOp(in.Arg)&^(syntax.EmptyEndText|syntax.EmptyEndLine) != 0 {
				return nil, errors.New("only end-of-text anchors are supported")
			}
		}
	}

	b := dfaBuilder{prog: prog, masks: masks, seen: make([]uint32, len(prog.Inst)), index: map[string]int32{}}
	d := &digitDFA{}
	b.gen++
	start := b.closure(nil, uint32(prog.Start))
	slices.Sort(start)
	queue := [][]uint32{start}
	b.add(d, start)
	for i := 0; i < len(queue); i++ {
		state := queue[i]
		for dig := range 10 {
			b.gen++
			var set []uint32
			for _, pc := range state {
				if masks[pc]&(1<<dig) != 0 {
					set = b.closure(set, prog.Inst[pc].Out)
				}
			}
			if len(set) == 0 {
				d.next[i][dig] = -1
				continue
			}
			slices.Sort(set)
			id, ok := b.index[key(set)]
			if !ok {
				if len(d.next) >= maxDFAStates {
					return nil, errDFATooBig
				}
				id = b.add(d, set)
				queue = append(queue, set)
			}
			d.next[i][dig] = id
		}
	}
	return d, nil
}

type dfaBuilder struct {
	prog  *syntax.Prog
	masks []uint16
	seen  []uint32 // generation in which a pc was last added
	gen   uint32
	index map[string]int32
}

// closure adds to set the consuming and matching instructions reachable
// from pc without consuming input.
func (b *dfaBuilder) closure(set []uint32, pc uint32) []uint32 {
	if b.seen[pc] == b.gen {
		return set
	}
	b.seen[pc] = b.gen
	in := &b.prog.Inst[pc]
	switch in.Op {
	case syntax.InstAlt, syntax.InstAltMatch:
		set = b.closure(set, in.Out)
		return b.closure(set, in.Arg)
	case syntax.InstCapture, syntax.InstNop:
		return b.closure(set, in.Out)
	case syntax.InstMatch, syntax.InstEmptyWidth:
		// An end anchor is kept in the set as a marker: it can only be
		// passed once the input is over.
		return append(set, pc)
	case syntax.InstFail:
		return set
	}
	if b.masks[pc] == 0 {
		return set
	}
	return append(set, pc)
}

func (b *dfaBuilder) add(d *digitDFA, set []uint32) int32 {
	id := int32(len(d.next))
	b.index[key(set)] = id
	d.next = append(d.next, [10]int32{})
	acc, accEnd := false, false
	for _, pc := range set {
		switch b.prog.Inst[pc].Op {
		case syntax.InstMatch:
			acc = true
		case syntax.InstEmptyWidth:
			accEnd = accEnd || b.matchesAtEnd(b.prog.Inst[pc].Out, map[uint32]bool{})
		}
	}
	d.accept = append(d.accept, acc)
	d.acceptEnd = append(d.acceptEnd, accEnd)
	return id
}

// matchesAtEnd reports whether pc reaches a match without consuming input
// once the input is over.
func (b *dfaBuilder) matchesAtEnd(pc uint32, seen map[uint32]bool) bool {
	if seen[pc] {
		return false
	}
	seen[pc] = true
	in := &b.prog.Inst[pc]
	switch in.Op {
	case syntax.InstMatch:
		return true
	case syntax.InstAlt, syntax.InstAltMatch:
		return b.matchesAtEnd(in.Out, seen) || b.matchesAtEnd(in.Arg, seen)
	case syntax.InstCapture, syntax.InstNop, syntax.InstEmptyWidth:
		return b.matchesAtEnd(in.Out, seen)
	}
	return false
}

func key(set []uint32) string {
	k := make([]byte, 0, 3*len(set))
	for _, pc := range set {
		k = append(k, byte(pc), byte(pc>>8), byte(pc>>16))
	}
	return string(k)
}

// full reports whether all of s (ASCII digits) matches.
func (d *digitDFA) full(s []byte) bool {
	st := int32(0)
	for _, c := range s {
		st = d.next[st][c-'0']
		if st < 0 {
			return false
		}
	}
	return d.accept[st] || d.acceptEnd[st]
}

// prefix reports whether some prefix of s (ASCII digits), possibly empty,
// matches.
func (d *digitDFA) prefix(s []byte) bool {
	st := int32(0)
	if d.accept[st] {
		return true
	}
	for _, c := range s {
		st = d.next[st][c-'0']
		if st < 0 {
			return false
		}
		if d.accept[st] {
			return true
		}
	}
	return d.acceptEnd[st]
}
