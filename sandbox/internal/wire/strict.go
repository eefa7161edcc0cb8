// Package wire holds what the platform replicas share about request bodies:
// strict JSON decoding and the shape of a hashed identifier.
package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
)

// FieldError says which JSON field of a request body is wrong and why.
type FieldError struct {
	Path    string // dotted JSON path, e.g. audienceMembers[3].userData
	Unknown bool   // the field is not part of the schema
	Msg     string
}

func (e *FieldError) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

var rawMessageType = reflect.TypeFor[json.RawMessage]()

// DecodeStrict decodes one JSON value into v (a pointer to a struct or a
// slice) and rejects what a protobuf-backed or schema-checked API rejects:
// unknown fields, field names that match only case-insensitively (which
// encoding/json would otherwise accept), type mismatches and trailing data.
func DecodeStrict(data []byte, v any) error {
	// Fast path for well-formed bodies: when every object key in the body is
	// exactly one of the schema's field names, one typed decode decides.
	// Anything else takes the slow path below, which finds the precise error.
	if keysAreKnown(data, fieldNames(reflect.TypeOf(v))) {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err == nil {
			if _, err := dec.Token(); errors.Is(err, io.EOF) {
				return nil
			}
		}
	}
	var generic any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&generic); err != nil {
		return &FieldError{Msg: "invalid JSON: " + err.Error()}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &FieldError{Msg: "invalid JSON: unexpected data after the top-level value"}
	}
	if err := checkKeys(generic, reflect.TypeOf(v), ""); err != nil {
		return err
	}
	typed := json.NewDecoder(bytes.NewReader(data))
	typed.DisallowUnknownFields()
	if err := typed.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return &FieldError{Path: te.Field, Msg: fmt.Sprintf("expected %s, got JSON %s", describe(te.Type), te.Value)}
		}
		return &FieldError{Msg: "invalid JSON: " + err.Error()}
	}
	return nil
}

func describe(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Slice:
		return "a list"
	case reflect.Struct, reflect.Map:
		return "an object"
	case reflect.Int, reflect.Int32, reflect.Int64, reflect.Float64:
		return "a number"
	}
	return t.String()
}

// checkKeys walks the generic value beside the Go type and reports the first
// object key (in sorted order, so errors are deterministic) that does not
// exactly equal a declared json name.
func checkKeys(val any, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == rawMessageType {
		return nil
	}
	switch t.Kind() {
	case reflect.Struct:
		obj, ok := val.(map[string]any)
		if !ok {
			return nil // the typed decode reports the mismatch
		}
		fields := jsonFields(t)
		keys := make([]string, 0, len(obj))
		for k := range obj {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			ft, ok := fields[k]
			if !ok {
				return &FieldError{Path: path, Unknown: true, Msg: fmt.Sprintf("unknown field %q", k)}
			}
			if err := checkKeys(obj[k], ft, join(path, k)); err != nil {
				return err
			}
		}
	case reflect.Slice:
		arr, ok := val.([]any)
		if !ok {
			return nil
		}
		for i, el := range arr {
			if err := checkKeys(el, t.Elem(), path+"["+strconv.Itoa(i)+"]"); err != nil {
				return err
			}
		}
	case reflect.Map:
		obj, ok := val.(map[string]any)
		if !ok {
			return nil
		}
		for k, el := range obj {
			if err := checkKeys(el, t.Elem(), join(path, k)); err != nil {
				return err
			}
		}
	}
	return nil
}

func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := make(map[string]reflect.Type, t.NumField())
	for i := range t.NumField() {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[name] = f.Type
	}
	return out
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// fieldNames is every JSON field name declared anywhere in t's schema,
// cached per type.
func fieldNames(t reflect.Type) map[string]struct{} {
	if names, ok := fieldNameCache.Load(t); ok {
		return names.(map[string]struct{})
	}
	names := map[string]struct{}{}
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		for t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array || t.Kind() == reflect.Map {
			t = t.Elem()
		}
		if t.Kind() != reflect.Struct || seen[t] || t == rawMessageType {
			return
		}
		seen[t] = true
		for name, ft := range jsonFields(t) {
			names[name] = struct{}{}
			walk(ft)
		}
	}
	walk(t)
	fieldNameCache.Store(t, names)
	return names
}

var fieldNameCache sync.Map // reflect.Type -> map[string]struct{}

// keysAreKnown reports whether every object key in data is exactly one of
// names. It is conservative: a string with an escape, or malformed input,
// answers false and leaves the decision to the slow path.
func keysAreKnown(data []byte, names map[string]struct{}) bool {
	for i := 0; i < len(data); i++ {
		if data[i] != '"' {
			continue
		}
		j := i + 1
		for j < len(data) && data[j] != '"' {
			if data[j] == '\\' {
				return false
			}
			j++
		}
		if j >= len(data) {
			return false
		}
		k := j + 1
		for k < len(data) && (data[k] == ' ' || data[k] == '\t' || data[k] == '\n' || data[k] == '\r') {
			k++
		}
		if k < len(data) && data[k] == ':' {
			if _, ok := names[string(data[i+1:j])]; !ok {
				return false
			}
		}
		i = j
	}
	return true
}
