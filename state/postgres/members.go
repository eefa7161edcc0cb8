package postgres

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"

	"github.com/jackc/pgx/v5"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/state/internal/record"
)

// keysChunk is how many keys one Identifiers or Taint statement names
// (as one bytea[] parameter).
const keysChunk = 5000

// stageSQL creates, once per connection, the temporary table Commit
// copies its upserts into; its rows go at the end of each transaction.
const stageSQL = `CREATE TEMP TABLE IF NOT EXISTS member_changes (
	key         bytea NOT NULL,
	fingerprint bytea NOT NULL,
	last_sent   bigint NOT NULL,
	ids         bytea
) ON COMMIT DELETE ROWS`

// upsertSQL writes the staged members to scope $1. Each probe of the
// members index is by key, so a commit costs what it writes, however
// large the scope.
const upsertSQL = `INSERT INTO members (scope_id, key, fingerprint, last_sent, ids)
	SELECT $1, key, fingerprint, last_sent, ids FROM member_changes
	ON CONFLICT (scope_id, key) DO UPDATE SET
		fingerprint = excluded.fingerprint, last_sent = excluded.last_sent, ids = excluded.ids`

const deleteSQL = `DELETE FROM members WHERE scope_id = $1 AND key = ANY($2)`

var stageCols = []string{"key", "fingerprint", "last_sent", "ids"}

// scopeID returns the id of scope; with create, it records a new scope
// first (in its own statement: an empty scope row is harmless, and a
// committed one can be cached). Without create, ok is false for a scope
// never written.
func (s *Store) scopeID(ctx context.Context, scope state.Scope, create bool) (id int64, ok bool, err error) {
	if v, hit := s.scopes.Load(scope); hit {
		return v.(int64), true, nil
	}
	if create {
		err = s.queryRow(ctx, `INSERT INTO scopes (sync, dest) VALUES ($1, $2)
			ON CONFLICT (sync, dest) DO NOTHING RETURNING id`, scope.Sync, scope.Destination).Scan(&id)
		if err == nil {
			s.scopes.Store(scope, id)
			return id, true, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			s.connLost(err)
			return 0, false, fmt.Errorf("record scope: %w", err)
		}
		// Another writer recorded it first; a new statement sees it.
	}
	err = s.queryRow(ctx, `SELECT id FROM scopes WHERE sync = $1 AND dest = $2`, scope.Sync, scope.Destination).Scan(&id)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return 0, false, nil
	case err != nil:
		s.connLost(err)
		return 0, false, fmt.Errorf("look up scope: %w", err)
	}
	s.scopes.Store(scope, id)
	return id, true, nil
}

// Members implements state.MemberStore.
func (s *Store) Members(ctx context.Context, scope state.Scope, fn func(state.Entry) error) error {
	id, ok, err := s.scopeID(ctx, scope, false)
	if err != nil || !ok {
		return s.membersErr(scope, err)
	}
	rows, err := s.query(ctx, `SELECT key, fingerprint, last_sent FROM members WHERE scope_id = $1`, id)
	if err != nil {
		s.connLost(err)
		return s.membersErr(scope, err)
	}
	defer rows.Close()
	var e state.Entry
	for rows.Next() {
		raw := rows.RawValues()
		if err := fillEntry(&e, raw[0], raw[1], raw[2]); err != nil {
			return s.membersErr(scope, err)
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		s.connLost(err)
		return s.membersErr(scope, err)
	}
	return nil
}

func (s *Store) membersErr(scope state.Scope, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("read members of %s: %w", scopeName(scope), s.scrub(err))
}

// Identifiers implements state.MemberStore. The chunks are read in one
// repeatable-read transaction, so the answer is one snapshot.
func (s *Store) Identifiers(ctx context.Context, scope state.Scope, keys []audience.MemberKey) (map[audience.MemberKey][]audience.Identifier, error) {
	out := make(map[audience.MemberKey][]audience.Identifier, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	id, ok, err := s.scopeID(ctx, scope, false)
	if err != nil {
		return nil, fmt.Errorf("read identifiers of %s: %w", scopeName(scope), s.scrub(err))
	}
	if !ok {
		return out, nil
	}
	err = s.inReadTx(ctx, func(tx pgx.Tx) error {
		return inKeyChunks(keys, func(chunk [][]byte) error {
			rows, err := tx.Query(ctx, `SELECT key, ids FROM members WHERE scope_id = $1 AND key = ANY($2)`, id, chunk)
			if err != nil {
				return err
			}
			defer rows.Close()
			for rows.Next() {
				raw := rows.RawValues()
				var k audience.MemberKey
				if len(raw[0]) != len(k) {
					return fmt.Errorf("corrupt member key of %d bytes", len(raw[0]))
				}
				copy(k[:], raw[0])
				ids, err := audience.DecodeIdentifiers(raw[1])
				if err != nil {
					return fmt.Errorf("member %s: %w", k, err)
				}
				out[k] = ids
			}
			return rows.Err()
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read identifiers of %s: %w", scopeName(scope), err)
	}
	return out, nil
}

// inReadTx runs fn in a read-only repeatable-read transaction.
func (s *Store) inReadTx(ctx context.Context, fn func(pgx.Tx) error) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY`); err != nil {
			return err
		}
		return fn(tx)
	})
}

// inKeyChunks calls fn with the keys, keysChunk at a time, as byte
// slices.
func inKeyChunks(keys []audience.MemberKey, fn func([][]byte) error) error {
	chunk := make([][]byte, 0, min(len(keys), keysChunk))
	for start := 0; start < len(keys); start += keysChunk {
		chunk = chunk[:0]
		for i := start; i < min(start+keysChunk, len(keys)); i++ {
			chunk = append(chunk, keys[i][:])
		}
		if err := fn(chunk); err != nil {
			return err
		}
	}
	return nil
}

// Snapshot implements state.MemberStore.
func (s *Store) Snapshot(ctx context.Context, scope state.Scope) iter.Seq2[state.Entry, error] {
	return s.ordered(ctx, scope, true, "snapshot %s")
}

// Compile-time guard: the engine plans large audiences with this stream.
var _ state.OrderedMembers = (*Store)(nil)

// MembersOrdered yields the committed members of scope in key order,
// without their identifiers: the stream a plan of a large audience merges
// with the sorted source instead of holding every member in memory (the
// optional state.OrderedMembers). The members table's primary key is
// (scope_id, key), so the order costs no sort, and bytea compares
// bytewise.
func (s *Store) MembersOrdered(ctx context.Context, scope state.Scope) iter.Seq2[state.Entry, error] {
	return s.ordered(ctx, scope, false, "read members of %s in key order")
}

// ordered streams scope's members in key order, with their identifiers
// when ids is set; what names the stream in errors.
func (s *Store) ordered(ctx context.Context, scope state.Scope, ids bool, what string) iter.Seq2[state.Entry, error] {
	return func(yield func(state.Entry, error) bool) {
		fail := func(err error) { yield(state.Entry{}, fmt.Errorf(what+": %w", scopeName(scope), s.scrub(err))) }
		id, ok, err := s.scopeID(ctx, scope, false)
		if err != nil {
			fail(err)
			return
		}
		if !ok {
			return
		}
		cols := `key, fingerprint, last_sent`
		if ids {
			cols += `, ids`
		}
		rows, err := s.query(ctx, `SELECT `+cols+` FROM members WHERE scope_id = $1 ORDER BY key`, id)
		if err != nil {
			s.connLost(err)
			fail(err)
			return
		}
		defer rows.Close()
		for rows.Next() {
			raw := rows.RawValues()
			var e state.Entry
			if err := fillEntry(&e, raw[0], raw[1], raw[2]); err != nil {
				fail(err)
				return
			}
			if ids {
				if e.Identifiers, err = audience.DecodeIdentifiers(raw[3]); err != nil {
					fail(fmt.Errorf("member %s: %w", e.Key, err))
					return
				}
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

// Count implements state.MemberStore.
func (s *Store) Count(ctx context.Context, scope state.Scope) (int64, error) {
	id, ok, err := s.scopeID(ctx, scope, false)
	if err != nil || !ok {
		return 0, s.countErr(scope, err)
	}
	var n int64
	if err := s.queryRow(ctx, `SELECT count(*) FROM members WHERE scope_id = $1`, id).Scan(&n); err != nil {
		s.connLost(err)
		return 0, s.countErr(scope, err)
	}
	return n, nil
}

func (s *Store) countErr(scope state.Scope, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("count members of %s: %w", scopeName(scope), s.scrub(err))
}

// Commit implements state.MemberStore, in one transaction: only the last
// change of each key counts (an upsert or a delete sets a member's whole
// row), so the outcome is that of applying the changes in order. The
// upserts are copied into a temporary table and written by one
// statement; the deletes are one statement per keysChunk keys.
func (s *Store) Commit(ctx context.Context, scope state.Scope, changes []state.Change) error {
	if len(changes) == 0 {
		return nil
	}
	upserts, deletes := lastChanges(changes)
	err := s.inScopeTx(ctx, scope, func(tx pgx.Tx, id int64) error {
		if len(deletes) > 0 {
			if err := inKeyChunks(deletes, func(chunk [][]byte) error {
				_, err := tx.Exec(ctx, deleteSQL, id, chunk)
				return err
			}); err != nil {
				return fmt.Errorf("delete members: %w", err)
			}
		}
		if len(upserts) == 0 {
			return nil
		}
		if _, err := tx.Exec(ctx, stageSQL); err != nil {
			return fmt.Errorf("stage changes: %w", err)
		}
		var packed []byte
		src := pgx.CopyFromSlice(len(upserts), func(i int) ([]any, error) {
			ch := upserts[i]
			ids := ch.Packed
			if ids == nil {
				// pgx encodes each row before asking for the next, so
				// one buffer serves every row.
				packed = audience.EncodeIdentifiers(packed[:0], ch.Identifiers)
				ids = packed
			}
			return []any{ch.Key[:], ch.Fingerprint[:], toMicros(ch.LastSent), ids}, nil
		})
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"member_changes"}, stageCols, src); err != nil {
			return fmt.Errorf("copy changes: %w", err)
		}
		if _, err := tx.Exec(ctx, upsertSQL, id); err != nil {
			return fmt.Errorf("write members: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("commit %d changes to %s: %w", len(changes), scopeName(scope), err)
	}
	return nil
}

// lastChanges splits the last change of each key into upserts and
// deleted keys, in the changes' order.
func lastChanges(changes []state.Change) (upserts []*state.Change, deletes []audience.MemberKey) {
	last := make(map[audience.MemberKey]int, len(changes))
	for i := range changes {
		last[changes[i].Key] = i
	}
	upserts = make([]*state.Change, 0, len(last))
	for i := range changes {
		ch := &changes[i]
		switch {
		case last[ch.Key] != i:
		case ch.Delete:
			deletes = append(deletes, ch.Key)
		default:
			upserts = append(upserts, ch)
		}
	}
	return upserts, deletes
}

// inScopeTx is inTx for a change to one scope: fn gets the scope's id,
// recorded first when the scope is new.
func (s *Store) inScopeTx(ctx context.Context, scope state.Scope, fn func(tx pgx.Tx, scopeID int64) error) error {
	id, _, err := s.scopeID(ctx, scope, true)
	if err != nil {
		return s.scrub(err)
	}
	return s.inTx(ctx, func(tx pgx.Tx) error { return fn(tx, id) })
}

// Reset implements state.MemberStore. The scope's audience id is kept.
func (s *Store) Reset(ctx context.Context, scope state.Scope) error {
	if err := s.exec(ctx, `DELETE FROM members WHERE scope_id = (SELECT id FROM scopes WHERE sync = $1 AND dest = $2)`,
		scope.Sync, scope.Destination); err != nil {
		return fmt.Errorf("reset %s: %w", scopeName(scope), err)
	}
	return nil
}

// fillEntry sets e from a member row's raw (binary) columns: key,
// fingerprint and last_sent as a big-endian int8.
func fillEntry(e *state.Entry, key, fp, lastSent []byte) error {
	if len(key) != len(e.Key) || len(fp) != len(e.Fingerprint) || len(lastSent) != 8 {
		return fmt.Errorf("corrupt member row: key of %d bytes, fingerprint of %d, last_sent of %d", len(key), len(fp), len(lastSent))
	}
	copy(e.Key[:], key)
	copy(e.Fingerprint[:], fp)
	e.LastSent = fromMicros(int64(binary.BigEndian.Uint64(lastSent)))
	return nil
}

// toMicros and fromMicros are how times are stored (state.UnixMicros);
// nullMicros stores the zero time as NULL, for times that are absent
// rather than unknown.
var (
	toMicros   = state.UnixMicros
	fromMicros = state.FromUnixMicros
	nullMicros = record.NullMicros
)
