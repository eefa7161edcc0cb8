package salesforce

import (
	"fmt"
	"strings"
	"unicode"
)

// The replica understands the SOQL subset sources send, and refuses the
// rest with MALFORMED_QUERY as Salesforce refuses what it cannot parse:
//
//	SELECT field, Parent.field, … | COUNT()
//	FROM Object
//	[WHERE cond]          cond: field = 'text' | true | false | null,
//	                      field != …, joined by AND / OR, in parentheses
//	[LIMIT n]
//
// Field names are matched ignoring case, as Salesforce does.

// query is a parsed SOQL statement.
type query struct {
	count  bool
	fields []string // as written
	object string
	where  cond // nil: every record
	limit  int  // 0: none
}

// cond is a WHERE condition.
type cond interface {
	eval(get func(field string) (string, bool)) bool
	fieldsOf(add func(string))
}

type and []cond
type or []cond

func (a and) eval(get func(string) (string, bool)) bool {
	for _, c := range a {
		if !c.eval(get) {
			return false
		}
	}
	return true
}

func (a and) fieldsOf(add func(string)) {
	for _, c := range a {
		c.fieldsOf(add)
	}
}

func (o or) eval(get func(string) (string, bool)) bool {
	for _, c := range o {
		if c.eval(get) {
			return true
		}
	}
	return false
}

func (o or) fieldsOf(add func(string)) {
	for _, c := range o {
		c.fieldsOf(add)
	}
}

// compare is field = value or field != value; a null value is "" with
// null set.
type compare struct {
	field  string
	not    bool
	value  string
	null   bool
	isBool bool
}

func (c compare) eval(get func(string) (string, bool)) bool {
	v, _ := get(c.field)
	var eq bool
	switch {
	case c.null:
		eq = v == ""
	case c.isBool:
		eq = strings.EqualFold(v, c.value)
	default:
		eq = v != "" && strings.EqualFold(v, c.value) // SOQL compares text ignoring case
	}
	return eq != c.not
}

func (c compare) fieldsOf(add func(string)) { add(c.field) }

// token kinds of the lexer.
type token struct {
	text string
	str  bool // a quoted literal, unescaped
}

func lex(s string) ([]token, error) {
	var out []token
	for i := 0; i < len(s); {
		ch := rune(s[i])
		switch {
		case unicode.IsSpace(ch):
			i++
		case ch == '(' || ch == ')' || ch == ',':
			out = append(out, token{text: string(ch)})
			i++
		case ch == '=':
			out = append(out, token{text: "="})
			i++
		case ch == '!' && i+1 < len(s) && s[i+1] == '=':
			out = append(out, token{text: "!="})
			i += 2
		case ch == '\'':
			var b strings.Builder
			i++
			closed := false
			for i < len(s) {
				c := s[i]
				if c == '\\' && i+1 < len(s) {
					switch s[i+1] {
					case 'n':
						b.WriteByte('\n')
					case 't':
						b.WriteByte('\t')
					case 'r':
						b.WriteByte('\r')
					default:
						b.WriteByte(s[i+1])
					}
					i += 2
					continue
				}
				if c == '\'' {
					closed = true
					i++
					break
				}
				b.WriteByte(c)
				i++
			}
			if !closed {
				return nil, fmt.Errorf("unterminated string literal")
			}
			out = append(out, token{text: b.String(), str: true})
		case ch == '_' || ch == '.' || unicode.IsLetter(ch) || unicode.IsDigit(ch):
			j := i
			for j < len(s) && (s[j] == '_' || s[j] == '.' || unicode.IsLetter(rune(s[j])) || unicode.IsDigit(rune(s[j]))) {
				j++
			}
			out = append(out, token{text: s[i:j]})
			i = j
		default:
			return nil, fmt.Errorf("unexpected token: '%c'", ch)
		}
	}
	return out, nil
}

// parser reads tokens.
type parser struct {
	toks []token
	pos  int
}

func (p *parser) peek() (token, bool) {
	if p.pos >= len(p.toks) {
		return token{}, false
	}
	return p.toks[p.pos], true
}

func (p *parser) keyword(kw string) bool {
	t, ok := p.peek()
	if ok && !t.str && strings.EqualFold(t.text, kw) {
		p.pos++
		return true
	}
	return false
}

func (p *parser) expect(text string) error {
	if p.keyword(text) {
		return nil
	}
	t, ok := p.peek()
	if !ok {
		return fmt.Errorf("expecting '%s', found end of query", text)
	}
	return fmt.Errorf("expecting '%s', found '%s'", text, t.text)
}

func (p *parser) ident() (string, error) {
	t, ok := p.peek()
	if !ok || t.str || !isIdent(t.text) {
		if !ok {
			return "", fmt.Errorf("unexpected end of query")
		}
		return "", fmt.Errorf("unexpected token: '%s'", t.text)
	}
	p.pos++
	return t.text, nil
}

func isIdent(s string) bool {
	if s == "" || !unicode.IsLetter(rune(s[0])) || strings.HasSuffix(s, ".") || strings.Contains(s, "..") {
		return false
	}
	switch strings.ToUpper(s) {
	case "SELECT", "FROM", "WHERE", "AND", "OR", "LIMIT", "GROUP", "ORDER", "OFFSET":
		return false
	}
	return true
}

// parseSOQL parses the supported subset.
func parseSOQL(s string) (*query, error) {
	toks, err := lex(s)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	q := &query{}
	if err := p.expect("SELECT"); err != nil {
		return nil, err
	}
	if p.keyword("COUNT") {
		if err := p.expect("("); err != nil {
			return nil, err
		}
		if err := p.expect(")"); err != nil {
			return nil, err
		}
		q.count = true
	} else {
		for {
			f, err := p.ident()
			if err != nil {
				return nil, err
			}
			q.fields = append(q.fields, f)
			if !p.keyword(",") {
				break
			}
		}
	}
	if err := p.expect("FROM"); err != nil {
		return nil, err
	}
	if q.object, err = p.ident(); err != nil {
		return nil, err
	}
	if p.keyword("WHERE") {
		if q.where, err = p.or(); err != nil {
			return nil, err
		}
	}
	if p.keyword("LIMIT") {
		t, ok := p.peek()
		n := 0
		if ok && !t.str {
			_, err = fmt.Sscanf(t.text, "%d", &n)
		}
		if !ok || t.str || err != nil || n <= 0 {
			return nil, fmt.Errorf("LIMIT needs a positive number")
		}
		p.pos++
		q.limit = n
	}
	if t, ok := p.peek(); ok {
		return nil, fmt.Errorf("unexpected token: '%s'", t.text)
	}
	return q, nil
}

func (p *parser) or() (cond, error) { return joined[or](p, "OR", p.and) }

func (p *parser) and() (cond, error) { return joined[and](p, "AND", p.factor) }

// joined parses one or more terms that next reads, separated by keyword:
// one term alone, or a J of them (and, or).
func joined[J interface {
	~[]cond
	cond
}](p *parser, keyword string, next func() (cond, error)) (cond, error) {
	var terms J
	for {
		t, err := next()
		if err != nil {
			return nil, err
		}
		terms = append(terms, t)
		if !p.keyword(keyword) {
			break
		}
	}
	if len(terms) == 1 {
		return terms[0], nil
	}
	return terms, nil
}

func (p *parser) factor() (cond, error) {
	if p.keyword("(") {
		c, err := p.or()
		if err != nil {
			return nil, err
		}
		return c, p.expect(")")
	}
	f, err := p.ident()
	if err != nil {
		return nil, err
	}
	c := compare{field: f}
	switch {
	case p.keyword("="):
	case p.keyword("!="):
		c.not = true
	default:
		t, _ := p.peek()
		return nil, fmt.Errorf("unexpected token: '%s': only = and != are understood here", t.text)
	}
	t, ok := p.peek()
	if !ok {
		return nil, fmt.Errorf("unexpected end of query")
	}
	p.pos++
	switch {
	case t.str:
		c.value = t.text
	case strings.EqualFold(t.text, "null"):
		c.null = true
	case strings.EqualFold(t.text, "true"), strings.EqualFold(t.text, "false"):
		c.value, c.isBool = strings.ToLower(t.text), true
	default:
		return nil, fmt.Errorf("unexpected token: '%s'", t.text)
	}
	return c, nil
}
