package platformhttp

import (
	"slices"
	"strings"
)

// CallName names the call to path in messages and logs without the ids
// in it: each segment that follows one of collections is an id and reads
// "{id}" ("/lists/42/members/9f3a" with "lists" and "members":
// "lists/{id}/members/{id}"), so neither an id nor a value derived from
// contact data (a member's hash) is shown.
func CallName(path string, collections ...string) string {
	parts := strings.Split(strings.Trim(path, "/"), "/")
	for i := 1; i < len(parts); i++ {
		if slices.Contains(collections, parts[i-1]) {
			parts[i] = "{id}"
		}
	}
	return strings.Join(parts, "/")
}
