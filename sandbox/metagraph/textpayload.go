package metagraph

import (
	"encoding/json"

	"github.com/audiencesync/audiencesync/sandbox/internal/wire"
)

// parseTextPayload is parsePayload for the shape the connector sends, read
// without encoding/json: an object of exactly the keys "schema" and "data",
// once each, the schema a key or a list of keys, the data a list of rows,
// each a list of strings (or a string, under a one-key schema), with JSON
// whitespace between tokens. Every string must be plain: printable ASCII
// without escapes, so that its JSON text is its value and a cell can be a
// slice of raw. ok is false for anything else, including a schema
// parseSchema refuses, and parseAnyPayload then decides; when ok, the
// answer is the one parseAnyPayload gives.
func parseTextPayload(raw string) (up *upload, gerr *graphError, ok bool) {
	t := textScanner{wire.NewScanner(raw)}
	if !t.Consume('{') {
		return nil, nil, false
	}
	first, ok := t.Str()
	if !ok || !t.Consume(':') {
		return nil, nil, false
	}
	var keys []string
	var single bool
	switch first {
	case "schema":
		if keys, single, ok = t.schema(); !ok || !t.Consume(',') || !t.Key("data") {
			return nil, nil, false
		}
		up, gerr, ok = t.data(keys, single)
	case "data":
		// The rows need the schema that follows them: check them now,
		// read them once it is known.
		rows := t
		if _, _, ok = t.data(nil, false); !ok || !t.Consume(',') || !t.Key("schema") {
			return nil, nil, false
		}
		if keys, single, ok = t.schema(); !ok {
			return nil, nil, false
		}
		up, gerr, ok = rows.data(keys, single)
	default:
		return nil, nil, false
	}
	if !ok || !t.Consume('}') || !t.End() {
		return nil, nil, false
	}
	return up, gerr, true
}

// textScanner reads a payload in the subset of JSON wire.Scanner reads.
type textScanner struct{ wire.Scanner }

// schema reads the schema value, a key or a list of keys, and checks it
// as parseSchema does; it reports false for a schema parseSchema refuses
// as well, since that error must wait until the whole payload is known to
// be valid JSON.
func (t *textScanner) schema() (keys []string, single, ok bool) {
	start := t.Offset()
	if t.At('"') {
		_, ok = t.Str()
	} else if ok = t.Consume('['); ok {
		for n := 0; ok && !t.Consume(']'); n++ {
			if n > 0 && !t.Consume(',') {
				return nil, false, false
			}
			_, ok = t.Str()
		}
	}
	if !ok {
		return nil, false, false
	}
	keys, single, gerr := parseSchema(json.RawMessage(t.Since(start)))
	return keys, single, gerr == nil
}

// data reads the data value, a list of rows, and answers for it under the
// schema keys; without keys it only checks the rows.
func (t *textScanner) data(keys []string, single bool) (up *upload, gerr *graphError, ok bool) {
	if !t.Consume('[') {
		return nil, nil, false
	}
	up = &upload{samples: map[string]string{}}
	var r rowIDs
	cells := make([]string, 0, len(keys))
	n := 0
	for ; !t.Consume(']'); n++ {
		if n > 0 && !t.Consume(',') {
			return nil, nil, false
		}
		var bare bool
		if cells, bare, ok = t.row(cells[:0]); !ok || bare && !single && keys != nil {
			// A string where a list belongs is an error of the strict
			// path, which names it.
			return nil, nil, false
		}
		switch {
		case keys == nil || n >= MaxRowsPerRequest || gerr != nil:
			// The rest need only be well-formed.
		case len(cells) != len(keys):
			gerr = widthError(n, len(cells), len(keys))
		default:
			if bad, badKey := r.textRow(keys, cells); badKey != "" {
				up.reject(bad, badKey)
			}
		}
	}
	if err := rowCountError(n); err != nil {
		return nil, err, true
	}
	if gerr != nil {
		return nil, gerr, true
	}
	up.ids, up.ends, up.total = r.ids, r.ends, n
	return up, nil, true
}

// row reads a row, a list of plain strings or one plain string (bare),
// appending its cells to cells.
func (t *textScanner) row(cells []string) (_ []string, bare, ok bool) {
	if t.At('"') {
		v, ok := t.Str()
		return append(cells, v), true, ok
	}
	if !t.Consume('[') {
		return cells, false, false
	}
	for n := 0; !t.Consume(']'); n++ {
		if n > 0 && !t.Consume(',') {
			return cells, false, false
		}
		v, ok := t.Str()
		if !ok {
			return cells, false, false
		}
		cells = append(cells, v)
	}
	return cells, false, true
}
