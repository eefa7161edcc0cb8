package connectors

import "strings"

// CutAudience splits source.audience at its first colon into a prefix,
// trimmed and lower-cased (name, id, soql…), and the rest, trimmed, for a
// source that selects its audience by kind. ok is false when s has no
// colon; a source then reads s whole, as it also does when the prefix is
// not one of its own (a list named "Promo: spring").
func CutAudience(s string) (prefix, rest string, ok bool) {
	prefix, rest, ok = strings.Cut(s, ":")
	return strings.ToLower(strings.TrimSpace(prefix)), strings.TrimSpace(rest), ok
}
