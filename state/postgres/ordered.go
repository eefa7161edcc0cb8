package postgres

import (
	"context"
	"iter"

	"github.com/audiencesync/audiencesync/state"
)

// Compile-time guard: the engine plans a large audience as a merge of the
// source with this stream.
var _ state.OrderedMembers = (*Store)(nil)

// MembersOrdered implements state.OrderedMembers. The members table's
// primary key is (scope_id, key) and bytea compares byte by byte whatever
// the database's collation, so the order is the engine's and the server
// walks the index; pgx streams the rows, so the client holds one at a
// time.
func (s *Store) MembersOrdered(ctx context.Context, scope state.Scope) iter.Seq2[state.Entry, error] {
	return func(yield func(state.Entry, error) bool) {
		fail := func(err error) {
			yield(state.Entry{}, s.membersErr(scope, err))
		}
		id, ok, err := s.scopeID(ctx, scope, false)
		if err != nil {
			fail(err)
			return
		}
		if !ok {
			return
		}
		rows, err := s.query(ctx, `SELECT key, fingerprint, last_sent FROM members WHERE scope_id = $1 ORDER BY key`, id)
		if err != nil {
			s.connLost(err)
			fail(err)
			return
		}
		defer rows.Close()
		var e state.Entry
		for rows.Next() {
			raw := rows.RawValues()
			if err := fillEntry(&e, raw[0], raw[1], raw[2]); err != nil {
				fail(err)
				return
			}
			if !yield(e, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			s.connLost(err)
			fail(err)
		}
	}
}
