// Package auth holds credentials: secret references resolved from the
// environment or files, and the token sources and signers each platform
// needs.
package auth

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

const redacted = "[redacted]"

// Secret is a credential read from config. In the YAML it is either a
// reference, ${env:NAME} or ${file:PATH}, or (discouraged) a literal. Its
// String, GoString, JSON and YAML forms are redacted so that printing a
// settings struct can never leak it; Reveal gives the value to the code that
// sends it.
type Secret struct {
	ref      string
	value    string
	resolved bool
}

// NewSecret returns a resolved secret holding value, for tests and code
// that obtains credentials at run time.
func NewSecret(value string) Secret { return Secret{value: value, resolved: true} }

// UnmarshalYAML keeps the reference as written; Resolve reads it.
func (s *Secret) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return errors.New("a secret must be a string such as ${env:NAME} or ${file:PATH}")
	}
	*s = Secret{ref: n.Value}
	return nil
}

// MarshalYAML writes the reference back, never the value.
func (s Secret) MarshalYAML() (any, error) {
	if s.IsReference() {
		return s.ref, nil
	}
	return redacted, nil
}

// MarshalJSON never writes the value.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// String is redacted.
func (s Secret) String() string { return redacted }

// GoString is redacted, so %#v does not leak either.
func (s Secret) GoString() string { return redacted }

// IsZero reports whether nothing was configured.
func (s Secret) IsZero() bool { return s.ref == "" && s.value == "" }

// IsReference reports whether the secret was written as ${env:…} or ${file:…}.
func (s Secret) IsReference() bool {
	return strings.HasPrefix(s.ref, "${") && strings.HasSuffix(s.ref, "}")
}

// Ref returns the reference as written when it is one, for messages; a
// literal is never returned.
func (s Secret) Ref() string {
	if s.IsReference() {
		return s.ref
	}
	return redacted
}

// Reveal returns the secret's value. Call it only where the value is sent.
func (s Secret) Reveal() string { return s.value }

// Resolved reports whether Resolve has run successfully.
func (s Secret) Resolved() bool { return s.resolved }

// Resolve reads the value the reference points at. Relative file paths are
// taken from baseDir. lookupEnv is os.LookupEnv outside tests.
func (s *Secret) Resolve(baseDir string, lookupEnv func(string) (string, bool)) error {
	if s.resolved || s.IsZero() {
		return nil
	}
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	ref := s.ref
	switch {
	case strings.HasPrefix(ref, "${env:") && strings.HasSuffix(ref, "}"):
		name := ref[len("${env:") : len(ref)-1]
		if name == "" {
			return errors.New("empty environment variable name in ${env:}")
		}
		v, ok := lookupEnv(name)
		if !ok || v == "" {
			return fmt.Errorf("environment variable %s is not set: export it, or point the secret at a file with ${file:PATH}", name)
		}
		s.value = v
	case strings.HasPrefix(ref, "${file:") && strings.HasSuffix(ref, "}"):
		path := ref[len("${file:") : len(ref)-1]
		if path == "" {
			return errors.New("empty path in ${file:}")
		}
		if !filepath.IsAbs(path) && baseDir != "" {
			path = filepath.Join(baseDir, path)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("read secret file %s: %w", path, errors.Unwrap(err))
		}
		s.value = strings.TrimRight(string(b), "\r\n")
		if s.value == "" {
			return fmt.Errorf("secret file %s is empty", path)
		}
	case strings.HasPrefix(ref, "${"):
		return fmt.Errorf("unknown secret reference %q: use ${env:NAME} or ${file:PATH}", ref)
	default:
		s.value = ref
	}
	s.resolved = true
	return nil
}
