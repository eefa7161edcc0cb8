package postgres

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"iter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/state"
)

// keysChunk is how many keys one Identifiers or Taint statement names
// (as one bytea[] parameter).
const keysChunk = 5000

// stageSQL creates, once per connection, the temporary table Commit
// copies its changes into; its rows go at the end of each transaction.
const stageSQL = `CREATE TEMP TABLE IF NOT EXISTS member_changes (
	seq         integer NOT NULL,
	key         bytea NOT NULL,
	del         boolean NOT NULL,
	fingerprint bytea,
	last_sent   bigint,
	ids         bytea
) ON COMMIT DELETE ROWS`

// applySQL applies the staged changes to scope $1: only the last change of
// each key counts, as if each had been applied in turn (an upsert or a
// delete sets a member's whole row). The delete and the insert touch
// different keys, so one statement does both.
const applySQL = `WITH last AS (
		SELECT DISTINCT ON (key) key, del, fingerprint, last_sent, ids
		FROM member_changes ORDER BY key, seq DESC
	), gone AS (
		DELETE FROM members m USING last
		WHERE last.del AND m.scope_id = $1 AND m.key = last.key
	)
	INSERT INTO members (scope_id, key, fingerprint, last_sent, ids)
	SELECT $1, key, fingerprint, last_sent, ids FROM last WHERE NOT del
	ON CONFLICT (scope_id, key) DO UPDATE SET
		fingerprint = excluded.fingerprint, last_sent = excluded.last_sent, ids = excluded.ids`

var stageCols = []string{"seq", "key", "del", "fingerprint", "last_sent", "ids"}

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
	return func(yield func(state.Entry, error) bool) {
		fail := func(err error) { yield(state.Entry{}, fmt.Errorf("snapshot %s: %w", scopeName(scope), s.scrub(err))) }
		id, ok, err := s.scopeID(ctx, scope, false)
		if err != nil {
			fail(err)
			return
		}
		if !ok {
			return
		}
		rows, err := s.query(ctx, `SELECT key, fingerprint, last_sent, ids FROM members WHERE scope_id = $1 ORDER BY key`, id)
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
			if e.Identifiers, err = audience.DecodeIdentifiers(raw[3]); err != nil {
				fail(fmt.Errorf("member %s: %w", e.Key, err))
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

// Commit implements state.MemberStore: the changes are copied into a
// temporary table and applied by one statement, in one transaction.
func (s *Store) Commit(ctx context.Context, scope state.Scope, changes []state.Change) error {
	if len(changes) == 0 {
		return nil
	}
	err := s.inScopeTx(ctx, scope, func(tx pgx.Tx, id int64) error {
		if _, err := tx.Exec(ctx, stageSQL); err != nil {
			return fmt.Errorf("stage changes: %w", err)
		}
		var packed []byte
		src := pgx.CopyFromSlice(len(changes), func(i int) ([]any, error) {
			ch := &changes[i]
			if ch.Delete {
				return []any{int32(i), ch.Key[:], true, nil, nil, nil}, nil
			}
			ids := ch.Packed
			if ids == nil {
				packed = audience.EncodeIdentifiers(packed[:0], ch.Identifiers)
				ids = packed
			}
			return []any{int32(i), ch.Key[:], false, ch.Fingerprint[:], toMicros(ch.LastSent), ids}, nil
		})
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"member_changes"}, stageCols, src); err != nil {
			return fmt.Errorf("copy changes: %w", err)
		}
		if _, err := tx.Exec(ctx, applySQL, id); err != nil {
			return fmt.Errorf("apply changes: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("commit %d changes to %s: %w", len(changes), scopeName(scope), err)
	}
	return nil
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
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `DELETE FROM members WHERE scope_id = (SELECT id FROM scopes WHERE sync = $1 AND dest = $2)`,
			scope.Sync, scope.Destination)
		return err
	})
	if err != nil {
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

// toMicros stores a time as unix microseconds; the zero time has its own
// (very negative) value and comes back as the zero time.
func toMicros(t time.Time) int64 { return t.UnixMicro() }

// fromMicros reverses toMicros, in UTC.
func fromMicros(v int64) time.Time {
	t := time.UnixMicro(v).UTC()
	if t.IsZero() {
		return time.Time{}
	}
	return t
}
