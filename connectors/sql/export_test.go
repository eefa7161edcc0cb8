package sql

import "github.com/audiencesync/audiencesync/connectors"

// SpecWithCount is Spec with the count statement replaced by count, so a
// test can make the declared count disagree with the rows read, which one
// snapshot never does.
func SpecWithCount(count func(query string) string) connectors.Spec {
	return connectors.SourceSpec(Type, "SQL (test count)", sample,
		func(s *Settings, env connectors.Env) (*Source, error) {
			src, err := New(s, env)
			if err == nil {
				src.countQuery = count
			}
			return src, err
		})
}

// CountQuery is the statement that counts a query's rows.
var CountQuery = countQuery
