package wire

// Scanner reads the plain subset of JSON that the replicas' fast paths
// accept: tokens separated by JSON whitespace, and strings without escapes
// holding only printable ASCII, so that a string's JSON text is its value
// and can be a slice of the input. Whatever lies outside the subset makes a
// method answer false, and the caller leaves the input to a strict decoder.
type Scanner struct {
	s string
	i int
}

// NewScanner returns a scanner at the start of s.
func NewScanner(s string) Scanner { return Scanner{s: s} }

// Space skips JSON whitespace.
func (t *Scanner) Space() {
	for t.i < len(t.s) {
		switch t.s[t.i] {
		case ' ', '\t', '\n', '\r':
			t.i++
		default:
			return
		}
	}
}

// Consume reads the punctuation c, after whitespace, if it comes next.
func (t *Scanner) Consume(c byte) bool {
	t.Space()
	if t.i < len(t.s) && t.s[t.i] == c {
		t.i++
		return true
	}
	return false
}

// At reports whether c comes next, after whitespace, without reading it.
func (t *Scanner) At(c byte) bool {
	t.Space()
	return t.i < len(t.s) && t.s[t.i] == c
}

// End reports whether only whitespace is left.
func (t *Scanner) End() bool {
	t.Space()
	return t.i == len(t.s)
}

// Offset is how much of the input has been read.
func (t *Scanner) Offset() int { return t.i }

// Since returns the input read from offset start on.
func (t *Scanner) Since(start int) string { return t.s[start:t.i] }

// plainByte is which bytes a plain string holds: anything but a control
// character, '"', '\\' and, so that no UTF-8 question arises, non-ASCII.
var plainByte = func() (tab [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		tab[c] = c != '"' && c != '\\'
	}
	return tab
}()

// Str reads a plain string and returns its value.
func (t *Scanner) Str() (string, bool) {
	if !t.At('"') {
		return "", false
	}
	start := t.i + 1
	j := start
	for j < len(t.s) && plainByte[t.s[j]] {
		j++
	}
	if j >= len(t.s) || t.s[j] != '"' {
		return "", false
	}
	t.i = j + 1
	return t.s[start:j], true
}

// Key reads the object key name and its colon.
func (t *Scanner) Key(name string) bool {
	k, ok := t.Str()
	return ok && k == name && t.Consume(':')
}

// Bool reads true or false.
func (t *Scanner) Bool() (v, ok bool) {
	t.Space()
	rest := t.s[t.i:]
	switch {
	case len(rest) >= 4 && rest[:4] == "true":
		t.i += 4
		return true, t.delimited()
	case len(rest) >= 5 && rest[:5] == "false":
		t.i += 5
		return false, t.delimited()
	}
	return false, false
}

// delimited reports whether a literal just read ends where a JSON token
// may end, so that "truex" is not read as true.
func (t *Scanner) delimited() bool {
	if t.i == len(t.s) {
		return true
	}
	switch t.s[t.i] {
	case ' ', '\t', '\n', '\r', ',', '}', ']':
		return true
	}
	return false
}

// Object reads an object, calling field after each key (a plain string)
// and its colon; field reads the value.
func (t *Scanner) Object(field func(key string) bool) bool {
	if !t.Consume('{') {
		return false
	}
	if t.Consume('}') {
		return true
	}
	for {
		k, ok := t.Str()
		if !ok || !t.Consume(':') || !field(k) {
			return false
		}
		if !t.Consume(',') {
			return t.Consume('}')
		}
	}
}

// Array reads an array, calling elem to read each element.
func (t *Scanner) Array(elem func() bool) bool {
	if !t.Consume('[') {
		return false
	}
	if t.Consume(']') {
		return true
	}
	for {
		if !elem() {
			return false
		}
		if !t.Consume(',') {
			return t.Consume(']')
		}
	}
}
