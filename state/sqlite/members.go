package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"iter"
	"slices"
	"strings"

	"github.com/audiencesync/audiencesync/audience"
	"github.com/audiencesync/audiencesync/state"
	"github.com/audiencesync/audiencesync/state/internal/record"
)

// scopeIDSQL selects the id of the scope bound to the first two parameters;
// it is NULL, and so matches no member, when the scope was never written.
const scopeIDSQL = `(SELECT id FROM scopes WHERE sync = ? AND dest = ?)`

const (
	membersSQL  = `SELECT key, fingerprint, last_sent FROM members WHERE scope_id = ` + scopeIDSQL
	snapshotSQL = `SELECT key, fingerprint, last_sent, ids FROM members WHERE scope_id = ` + scopeIDSQL + ` ORDER BY key`
	orderedSQL  = `SELECT key, fingerprint, last_sent FROM members WHERE scope_id = ` + scopeIDSQL + ` ORDER BY key`
	countSQL    = `SELECT count(*) FROM members WHERE scope_id = ` + scopeIDSQL
	resetSQL    = `DELETE FROM members WHERE scope_id = ` + scopeIDSQL
	deleteSQL   = `DELETE FROM members WHERE scope_id = ? AND key = ?`
)

// upsertRows is how many members one upsert statement writes. Each
// statement has a fixed cost in database/sql and the driver (binding,
// stepping, resetting) that a 10,000-member commit would otherwise pay per
// row; 64 rows are 320 parameters, far below SQLite's limit.
const upsertRows = 64

var (
	upsertSQL     = upsertQuery(1)
	upsertManySQL = upsertQuery(upsertRows)
)

// upsertQuery writes n members, or updates those already stored. Rows with
// the same key in one statement apply in order, as separate statements
// would.
func upsertQuery(n int) string {
	return `INSERT INTO members (scope_id, key, fingerprint, last_sent, ids) VALUES (?, ?, ?, ?, ?)` +
		strings.Repeat(`, (?, ?, ?, ?, ?)`, n-1) + `
		ON CONFLICT (scope_id, key) DO UPDATE SET
			fingerprint = excluded.fingerprint, last_sent = excluded.last_sent, ids = excluded.ids`
}

// identifiersChunk is how many keys one Identifiers query asks for; well
// under SQLite's parameter limit, large enough to amortise each query.
const identifiersChunk = 500

// identifiersSQL is the query for a full chunk of keys.
var identifiersSQL = identifiersQuery(identifiersChunk)

func identifiersQuery(n int) string {
	return `SELECT key, ids FROM members WHERE scope_id = ? AND key IN (?` + strings.Repeat(`, ?`, n-1) + `)`
}

// ctxCheckEvery is how many rows Commit writes between checks of its
// context; rows themselves run without one (see Commit).
const ctxCheckEvery = 1024

// Members implements state.Store. It runs one query and reuses its scan
// buffers, so it allocates next to nothing per member.
func (s *Store) Members(ctx context.Context, scope state.Scope, fn func(state.Entry) error) error {
	rows, err := s.read.QueryContext(ctx, membersSQL, scope.Sync, scope.Destination)
	if err != nil {
		return fmt.Errorf("read members of %s: %w", scopeName(scope), err)
	}
	defer rows.Close()
	var stop error
	if err := scanMembers(rows, func(e state.Entry) bool {
		stop = fn(e)
		return stop == nil
	}); err != nil {
		return fmt.Errorf("read members of %s: %w", scopeName(scope), err)
	}
	return stop
}

// scanMembers calls fn with each row of key, fingerprint and last_sent
// until it returns false, reusing its scan buffers.
func scanMembers(rows *sql.Rows, fn func(state.Entry) bool) error {
	var (
		key, fp  sql.RawBytes
		lastSent int64
		e        state.Entry
	)
	for rows.Next() {
		if err := rows.Scan(&key, &fp, &lastSent); err != nil {
			return err
		}
		if err := fillEntry(&e, key, fp, lastSent); err != nil {
			return err
		}
		if !fn(e) {
			return nil
		}
	}
	return rows.Err()
}

// Identifiers implements state.Store. Keys are looked up in chunks inside
// one read transaction, so the answer is one consistent snapshot.
func (s *Store) Identifiers(ctx context.Context, scope state.Scope, keys []audience.MemberKey) (map[audience.MemberKey][]audience.Identifier, error) {
	out := make(map[audience.MemberKey][]audience.Identifier, len(keys))
	if len(keys) == 0 {
		return out, nil
	}
	tx, err := s.read.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("read identifiers of %s: %w", scopeName(scope), err)
	}
	defer tx.Rollback()

	var id int64
	err = tx.QueryRowContext(ctx, `SELECT id FROM scopes WHERE sync = ? AND dest = ?`, scope.Sync, scope.Destination).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read identifiers of %s: %w", scopeName(scope), err)
	}

	err = inKeyChunks(keys, identifiersChunk, []any{id}, func(n int, args []any) error {
		query := identifiersSQL
		if n < identifiersChunk {
			query = identifiersQuery(n)
		}
		return readIdentifiers(ctx, tx, query, args, out)
	})
	if err != nil {
		return nil, fmt.Errorf("read identifiers of %s: %w", scopeName(scope), err)
	}
	return out, nil
}

// inKeyChunks calls fn for each run of at most size keys, with the
// statement arguments: lead, then the run's keys. n is the run's length.
func inKeyChunks(keys []audience.MemberKey, size int, lead []any, fn func(n int, args []any) error) error {
	args := make([]any, len(lead), len(lead)+size)
	copy(args, lead)
	for start := 0; start < len(keys); start += size {
		chunk := keys[start:min(start+size, len(keys))]
		args = args[:len(lead)]
		for i := range chunk {
			args = append(args, chunk[i][:])
		}
		if err := fn(len(chunk), args); err != nil {
			return err
		}
	}
	return nil
}

func readIdentifiers(ctx context.Context, tx *sql.Tx, query string, args []any, out map[audience.MemberKey][]audience.Identifier) error {
	rows, err := tx.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	var rawKey, rawIDs sql.RawBytes
	for rows.Next() {
		if err := rows.Scan(&rawKey, &rawIDs); err != nil {
			return err
		}
		var k audience.MemberKey
		if len(rawKey) != len(k) {
			return fmt.Errorf("corrupt member key of %d bytes", len(rawKey))
		}
		copy(k[:], rawKey)
		ids, err := audience.DecodeIdentifiers(rawIDs)
		if err != nil {
			return fmt.Errorf("member %s: %w", k, err)
		}
		out[k] = ids
	}
	return rows.Err()
}

// Snapshot implements state.Store.
func (s *Store) Snapshot(ctx context.Context, scope state.Scope) iter.Seq2[state.Entry, error] {
	return func(yield func(state.Entry, error) bool) {
		fail := func(err error) { yield(state.Entry{}, fmt.Errorf("snapshot %s: %w", scopeName(scope), err)) }
		rows, err := s.read.QueryContext(ctx, snapshotSQL, scope.Sync, scope.Destination)
		if err != nil {
			fail(err)
			return
		}
		defer rows.Close()
		var (
			key, fp, ids sql.RawBytes
			lastSent     int64
		)
		for rows.Next() {
			if err := rows.Scan(&key, &fp, &lastSent, &ids); err != nil {
				fail(err)
				return
			}
			var e state.Entry
			if err := fillEntry(&e, key, fp, lastSent); err != nil {
				fail(err)
				return
			}
			if e.Identifiers, err = audience.DecodeIdentifiers(ids); err != nil {
				fail(fmt.Errorf("member %s: %w", e.Key, err))
				return
			}
			if !yield(e, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			fail(err)
		}
	}
}

// MembersOrdered implements state.OrderedMembers. The members table's
// primary key is (scope_id, key), so the order costs no sort: SQLite walks
// the scope's part of the table.
func (s *Store) MembersOrdered(ctx context.Context, scope state.Scope) iter.Seq2[state.Entry, error] {
	return func(yield func(state.Entry, error) bool) {
		fail := func(err error) {
			yield(state.Entry{}, fmt.Errorf("read members of %s in key order: %w", scopeName(scope), err))
		}
		rows, err := s.read.QueryContext(ctx, orderedSQL, scope.Sync, scope.Destination)
		if err != nil {
			fail(err)
			return
		}
		defer rows.Close()
		if err := scanMembers(rows, func(e state.Entry) bool { return yield(e, nil) }); err != nil {
			fail(err)
		}
	}
}

// Count implements state.Store.
func (s *Store) Count(ctx context.Context, scope state.Scope) (int64, error) {
	var n int64
	if err := s.read.QueryRowContext(ctx, countSQL, scope.Sync, scope.Destination).Scan(&n); err != nil {
		return 0, fmt.Errorf("count members of %s: %w", scopeName(scope), err)
	}
	return n, nil
}

// Commit implements state.Store: all changes land in one transaction.
func (s *Store) Commit(ctx context.Context, scope state.Scope, changes []state.Change) error {
	if len(changes) == 0 {
		return nil
	}
	return s.inScopeTx(ctx, scope, fmt.Sprintf("commit %d changes to", len(changes)), func(tx *sql.Tx, id int64) error {
		return applyChanges(ctx, tx, id, changes)
	})
}

func applyChanges(ctx context.Context, tx *sql.Tx, scopeID int64, changes []state.Change) error {
	// The driver starts a watcher goroutine for every statement run with a
	// cancellable context; per statement that costs more than the insert.
	// The transaction itself still watches ctx (database/sql rolls it back
	// on cancellation) and the loop checks it every ctxCheckEvery rows.
	rowCtx := context.WithoutCancel(ctx)
	var one, many, del *sql.Stmt
	defer func() {
		for _, st := range []*sql.Stmt{one, many, del} {
			if st != nil {
				st.Close()
			}
		}
	}()
	prepare := func(st **sql.Stmt, query string) (*sql.Stmt, error) {
		if *st == nil {
			var err error
			if *st, err = tx.PrepareContext(rowCtx, query); err != nil {
				return nil, err
			}
		}
		return *st, nil
	}

	// Upserts wait in pending until a statement's worth is ready; a delete
	// first writes what is pending, so changes keep their order.
	pending := make([]*state.Change, 0, upsertRows)
	args := make([]any, 0, 5*upsertRows)
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		if len(pending) == upsertRows {
			st, err := prepare(&many, upsertManySQL)
			if err != nil {
				return err
			}
			args = args[:0]
			for _, ch := range pending {
				args = append(args, scopeID, ch.Key[:], ch.Fingerprint[:], toMicros(ch.LastSent), packedIDs(ch))
			}
			if _, err := st.ExecContext(rowCtx, args...); err != nil {
				return fmt.Errorf("write members %s to %s: %w", pending[0].Key, pending[len(pending)-1].Key, err)
			}
			pending = pending[:0]
			return nil
		}
		st, err := prepare(&one, upsertSQL)
		if err != nil {
			return err
		}
		for _, ch := range pending {
			if _, err := st.ExecContext(rowCtx, scopeID, ch.Key[:], ch.Fingerprint[:], toMicros(ch.LastSent), packedIDs(ch)); err != nil {
				return fmt.Errorf("write member %s: %w", ch.Key, err)
			}
		}
		pending = pending[:0]
		return nil
	}

	for i, ch := range byKey(changes) {
		if i%ctxCheckEvery == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		if !ch.Delete {
			pending = append(pending, ch)
			if len(pending) == upsertRows {
				if err := flush(); err != nil {
					return err
				}
			}
			continue
		}
		if err := flush(); err != nil {
			return err
		}
		st, err := prepare(&del, deleteSQL)
		if err != nil {
			return err
		}
		if _, err := st.ExecContext(rowCtx, scopeID, ch.Key[:]); err != nil {
			return fmt.Errorf("delete member %s: %w", ch.Key, err)
		}
	}
	if err := flush(); err != nil {
		return err
	}
	return ctx.Err()
}

// packedIDs is the change's identifiers as stored.
func packedIDs(ch *state.Change) []byte {
	if ch.Packed != nil {
		return ch.Packed
	}
	return audience.EncodeIdentifiers(nil, ch.Identifiers)
}

// byKey returns the changes in key order, keeping their order among
// changes to the same key. Member keys are hashes, so arrival order is
// random; visiting the table's pages in order makes each page's cost be paid
// once per commit.
func byKey(changes []state.Change) []*state.Change {
	out := make([]*state.Change, len(changes))
	for i := range changes {
		out[i] = &changes[i]
	}
	slices.SortStableFunc(out, func(a, b *state.Change) int { return bytes.Compare(a.Key[:], b.Key[:]) })
	return out
}

// Reset implements state.Store. The scope's audience id is kept.
func (s *Store) Reset(ctx context.Context, scope state.Scope) error {
	if err := s.exec(ctx, resetSQL, scope.Sync, scope.Destination); err != nil {
		return fmt.Errorf("reset %s: %w", scopeName(scope), err)
	}
	return nil
}

// inWriteTx runs fn in a write transaction and commits it if fn succeeds.
func (s *Store) inWriteTx(ctx context.Context, fn func(*sql.Tx) error) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	tx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return txErr(ctx, err)
	}
	return txErr(ctx, tx.Commit())
}

// exec runs one statement in a write transaction of its own.
func (s *Store) exec(ctx context.Context, query string, args ...any) error {
	return s.inWriteTx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, query, args...)
		return err
	})
}

// inScopeTx is inWriteTx for a change to one scope: fn gets the scope's
// id, created first when the scope is new. An error says what was being
// done ("commit 5 changes to") to which scope.
func (s *Store) inScopeTx(ctx context.Context, scope state.Scope, what string, fn func(tx *sql.Tx, scopeID int64) error) error {
	err := s.inWriteTx(ctx, func(tx *sql.Tx) error {
		id, err := ensureScope(ctx, tx, scope)
		if err != nil {
			return err
		}
		return fn(tx, id)
	})
	if err != nil {
		return fmt.Errorf("%s %s: %w", what, scopeName(scope), err)
	}
	return nil
}

// txErr reports a transaction that database/sql rolled back because ctx
// ended as ctx's error rather than as sql.ErrTxDone.
func txErr(ctx context.Context, err error) error {
	if errors.Is(err, sql.ErrTxDone) && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

// ensureScope returns the id of scope, creating it if needed.
func ensureScope(ctx context.Context, tx *sql.Tx, scope state.Scope) (int64, error) {
	if _, err := tx.ExecContext(ctx, `INSERT INTO scopes (sync, dest) VALUES (?, ?) ON CONFLICT (sync, dest) DO NOTHING`,
		scope.Sync, scope.Destination); err != nil {
		return 0, fmt.Errorf("record scope: %w", err)
	}
	var id int64
	if err := tx.QueryRowContext(ctx, `SELECT id FROM scopes WHERE sync = ? AND dest = ?`,
		scope.Sync, scope.Destination).Scan(&id); err != nil {
		return 0, fmt.Errorf("record scope: %w", err)
	}
	return id, nil
}

// fillEntry sets e's key, fingerprint and last-sent time from raw columns.
func fillEntry(e *state.Entry, key, fp []byte, lastSent int64) error {
	if len(key) != len(e.Key) || len(fp) != len(e.Fingerprint) {
		return fmt.Errorf("corrupt member row: key of %d bytes, fingerprint of %d", len(key), len(fp))
	}
	copy(e.Key[:], key)
	copy(e.Fingerprint[:], fp)
	e.LastSent = fromMicros(lastSent)
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

func scopeName(s state.Scope) string {
	return fmt.Sprintf("sync %q destination %q", s.Sync, s.Destination)
}
