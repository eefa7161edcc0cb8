package configs

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/audiencesync/audiencesync/auth"
)

// resolveSecrets resolves every auth.Secret reachable from v (a settings
// struct, through nested structs, pointers, lists and maps), reporting each
// one that fails at the line it was written on, or at fallbackLine for a
// secret the file did not set (a connector's default).
func (l *loader) resolveSecrets(v reflect.Value, where string, fallbackLine int) {
	eachSecret(v, where, func(s *auth.Secret, at string) {
		err := s.Resolve(l.baseDir, l.lookupEnv)
		if err == nil {
			return
		}
		line, ok := l.dec.secretLines[s]
		if !ok {
			line = fallbackLine
		}
		msg := err.Error()
		if strings.HasPrefix(s.Ref(), "${file:") {
			msg += fmt.Sprintf(" (relative paths are taken from %s)", l.baseDir)
		}
		l.ps.addf(line, "%s: %s", at, msg)
	})
}

// eachSecret calls fn with a pointer to every secret reachable from v and
// the path of keys that leads to it.
func eachSecret(v reflect.Value, where string, fn func(s *auth.Secret, where string)) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			eachSecret(v.Elem(), where, fn)
		}
	case reflect.Struct:
		if v.Type() == secretType {
			if v.CanAddr() && v.Addr().CanInterface() {
				fn(v.Addr().Interface().(*auth.Secret), where)
			}
			return
		}
		for _, f := range fieldsOf(v.Type()) {
			if fv, ok := fieldAt(v, f.index); ok {
				eachSecret(fv, join(where, f.name), fn)
			}
		}
	case reflect.Slice, reflect.Array:
		for i := range v.Len() {
			eachSecret(v.Index(i), fmt.Sprintf("%s[%d]", where, i), fn)
		}
	case reflect.Map:
		// Map values cannot be addressed: resolve a copy and store it back.
		for _, k := range v.MapKeys() {
			e := reflect.New(v.Type().Elem()).Elem()
			e.Set(v.MapIndex(k))
			eachSecret(e, join(where, fmt.Sprint(k.Interface())), fn)
			v.SetMapIndex(k, e)
		}
	}
}

// fieldAt returns the field of struct v at index, or false when a nil
// inline pointer is in the way.
func fieldAt(v reflect.Value, index []int) (reflect.Value, bool) {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}, false
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, true
}
