package metagraph

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"sync"

	"github.com/audiencesync/audiencesync/sandbox/internal/wire"
)

// bodies recycles form body buffers: a full users request is a few
// megabytes, and nothing parsed from a body refers to it.
var bodies = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBody is the largest buffer kept for reuse, so that one huge body
// is not held on to.
const maxPooledBody = 16 << 20

// readForm reads a form-encoded body of at most maxBodyBytes.
func readForm(r *http.Request) (url.Values, *graphError) {
	buf := bodies.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= maxPooledBody {
			buf.Reset()
			bodies.Put(buf)
		}
	}()
	if !readBody(buf, r) {
		return nil, paramError("request body unreadable or larger than %d bytes", maxBodyBytes)
	}
	form, err := parseForm(buf.Bytes())
	if err != nil {
		return nil, paramError("malformed form body: %v", err)
	}
	return form, nil
}

// readBody reads a request body of at most maxBodyBytes into buf.
func readBody(buf *bytes.Buffer, r *http.Request) bool {
	return wire.ReadBody(buf, r, maxBodyBytes) == nil
}

// parseForm is url.ParseQuery(string(body)), without copying the body to a
// string first and with a quicker unescape for the large payload value.
func parseForm(body []byte) (url.Values, error) {
	if form, ok := parseCleanForm(body); ok {
		return form, nil
	}
	return url.ParseQuery(string(body))
}

// probeParams is as many separators as parseCleanForm asks url.ParseQuery
// about; a body with more parameters goes to url.ParseQuery.
const probeParams = "&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&&"

// parseCleanForm parses a form body that url.ParseQuery accepts without
// error, giving the same values; for any other body it reports false.
func parseCleanForm(body []byte) (url.Values, bool) {
	// A semicolon, wherever it is, makes url.ParseQuery report an error.
	if bytes.IndexByte(body, ';') >= 0 {
		return nil, false
	}
	seps := bytes.Count(body, []byte{'&'})
	if seps > len(probeParams) {
		return nil, false
	}
	// url.ParseQuery limits the number of parameters by a GODEBUG
	// setting; asking it about as many empty ones keeps its verdict.
	if _, err := url.ParseQuery(probeParams[:seps]); err != nil {
		return nil, false
	}
	form := make(url.Values, seps+1)
	for len(body) > 0 {
		var pair []byte
		pair, body, _ = bytes.Cut(body, []byte{'&'})
		if len(pair) == 0 {
			continue
		}
		k, v, _ := bytes.Cut(pair, []byte{'='})
		key, ok := unescapeQuery(k)
		if !ok {
			return nil, false
		}
		value, ok := unescapeQuery(v)
		if !ok {
			return nil, false
		}
		form[key] = append(form[key], value)
	}
	return form, true
}

// unescapeQuery is url.QueryUnescape of a well-formed s: it copies the runs
// between escapes whole rather than byte by byte, and reports false where
// url.QueryUnescape would report an error.
func unescapeQuery(s []byte) (string, bool) {
	pct, plus := indexFrom(s, '%', 0), indexFrom(s, '+', 0)
	if pct == len(s) && plus == len(s) {
		return string(s), true
	}
	var b strings.Builder
	b.Grow(max(len(s)-2*bytes.Count(s[pct:], []byte{'%'}), 0))
	for at := 0; at < len(s); {
		switch {
		case plus < pct:
			b.Write(s[at:plus])
			b.WriteByte(' ')
			at = plus + 1
			plus = indexFrom(s, '+', at)
		case pct == len(s):
			b.Write(s[at:])
			at = len(s)
		case pct+2 >= len(s) || !isHex(s[pct+1]) || !isHex(s[pct+2]):
			return "", false
		default:
			b.Write(s[at:pct])
			// Escapes come in runs (%22%2C%22 between JSON strings):
			// take the run before looking for the next one.
			for at = pct; at+2 < len(s) && s[at] == '%' && isHex(s[at+1]) && isHex(s[at+2]); at += 3 {
				b.WriteByte(unhex(s[at+1])<<4 | unhex(s[at+2]))
			}
			pct = indexFrom(s, '%', at)
		}
	}
	return b.String(), true
}

// indexFrom is the index of the first c in s from i on, or len(s).
func indexFrom(s []byte, c byte, i int) int {
	if j := bytes.IndexByte(s[i:], c); j >= 0 {
		return i + j
	}
	return len(s)
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
}
