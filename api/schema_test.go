package api_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// The subset of JSON Schema the OpenAPI document uses, checked here: type,
// properties, required, additionalProperties (false or a schema), items,
// enum, minimum, maximum, format date-time and local $ref. A keyword the
// checker does not know fails the check, so the document cannot drift
// into what it would silently pass.

type schema map[string]any

var knownKeywords = []string{"type", "properties", "required", "additionalProperties", "items", "enum", "minimum", "maximum",
	"format", "$ref", "description"}

// doc is a decoded OpenAPI document.
type doc map[string]any

// lookup resolves a local reference (#/components/schemas/Name).
func (d doc) lookup(ref string) (schema, error) {
	path, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, fmt.Errorf("reference %q is not local", ref)
	}
	var cur any = map[string]any(d)
	for _, part := range strings.Split(path, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("reference %q: %s is not an object", ref, part)
		}
		if cur, ok = m[part]; !ok {
			return nil, fmt.Errorf("reference %q: no %s", ref, part)
		}
	}
	s, ok := cur.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("reference %q is not an object", ref)
	}
	return s, nil
}

// validate checks value (decoded JSON) against s and returns every
// violation, each with the path where it was found.
func (d doc) validate(s schema, value any, at string) []string {
	var errs []string
	fail := func(format string, args ...any) { errs = append(errs, at+": "+fmt.Sprintf(format, args...)) }
	for k := range s {
		if !slices.Contains(knownKeywords, k) {
			fail("schema keyword %q is not one the checker knows", k)
		}
	}
	if ref, ok := s["$ref"].(string); ok {
		target, err := d.lookup(ref)
		if err != nil {
			fail("%v", err)
			return errs
		}
		return append(errs, d.validate(target, value, at)...)
	}
	if enum, ok := s["enum"].([]any); ok && !slices.Contains(enum, value) {
		fail("%v is not one of %v", value, enum)
	}
	typ, _ := s["type"].(string)
	switch typ {
	case "":
	case "object":
		obj, ok := value.(map[string]any)
		if !ok {
			fail("want an object, got %T", value)
			return errs
		}
		props, _ := s["properties"].(map[string]any)
		required, _ := s["required"].([]any)
		for _, name := range required {
			if _, ok := obj[name.(string)]; !ok {
				fail("required property %q is missing", name)
			}
		}
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if p, ok := props[k].(map[string]any); ok {
				errs = append(errs, d.validate(p, obj[k], at+"."+k)...)
				continue
			}
			switch extra := s["additionalProperties"].(type) {
			case bool:
				if !extra {
					fail("property %q is not in the schema", k)
				}
			case map[string]any:
				errs = append(errs, d.validate(extra, obj[k], at+"."+k)...)
			}
		}
	case "array":
		arr, ok := value.([]any)
		if !ok {
			fail("want an array, got %T", value)
			return errs
		}
		if items, ok := s["items"].(map[string]any); ok {
			for i, v := range arr {
				errs = append(errs, d.validate(items, v, fmt.Sprintf("%s[%d]", at, i))...)
			}
		}
	case "string":
		str, ok := value.(string)
		if !ok {
			fail("want a string, got %T", value)
			return errs
		}
		if s["format"] == "date-time" {
			if _, err := time.Parse(time.RFC3339Nano, str); err != nil {
				fail("%q is not an RFC 3339 date-time", str)
			}
		}
	case "integer", "number":
		n, ok := value.(json.Number)
		if !ok {
			fail("want a number, got %T", value)
			return errs
		}
		f, err := n.Float64()
		if err != nil || typ == "integer" && strings.ContainsAny(n.String(), ".eE") {
			fail("%s is not an %s", n, typ)
		}
		if lo, ok := s["minimum"].(json.Number); ok {
			if l, _ := lo.Float64(); f < l {
				fail("%s is below the minimum %s", n, lo)
			}
		}
		if hi, ok := s["maximum"].(json.Number); ok {
			if h, _ := hi.Float64(); f > h {
				fail("%s is above the maximum %s", n, hi)
			}
		}
	case "boolean":
		if _, ok := value.(bool); !ok {
			fail("want a boolean, got %T", value)
		}
	default:
		fail("schema type %q is not one the checker knows", typ)
	}
	return errs
}

// decodeJSON decodes with numbers kept as json.Number, so that integers
// can be told from fractions.
func decodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	var v any
	err := dec.Decode(&v)
	return v, err
}
