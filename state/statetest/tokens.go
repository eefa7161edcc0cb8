package statetest

import (
	"bytes"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/audiencesync/audiencesync/state"
)

var tokenT0 = time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)

// tokenFor is a token named name with id id, created n minutes after
// tokenT0; its hash is made from the name, as a store would get it.
func tokenFor(id, name, role string, n int) state.Token {
	sum := sha256.Sum256([]byte("secret of " + name))
	return state.Token{ID: id, Name: name, Role: role, Hash: sum[:], Created: tokenT0.Add(time.Duration(n) * time.Minute)}
}

func (b *bundle) create(t *testing.T, tok state.Token) {
	t.Helper()
	noError(t, b.tokens.CreateToken(b.ctx, tok))
}

func testTokenCreateAndRead(t *testing.T, b *bundle) {
	want := tokenFor("t1", "ci", "operator", 0)
	b.create(t, want)
	got, err := b.tokens.TokenByID(b.ctx, "t1")
	noError(t, err)
	requireSame(t, want, got)
	check(t, bytes.Equal(want.Hash, got.Hash), "the hash comes back byte for byte")
	check(t, got.LastUsed.IsZero(), "a new token was never used")
	_, err = b.tokens.TokenByID(b.ctx, "ci")
	errorIs(t, err, state.ErrNotFound) // by id only
}

func testTokenUnique(t *testing.T, b *bundle) {
	b.create(t, tokenFor("t1", "ci", "operator", 0))
	errorIs(t, b.tokens.CreateToken(b.ctx, tokenFor("t2", "ci", "viewer", 1)), state.ErrTokenExists)
	errorIs(t, b.tokens.CreateToken(b.ctx, tokenFor("t1", "grafana", "viewer", 1)), state.ErrTokenExists)
	list, err := b.tokens.ListTokens(b.ctx)
	noError(t, err)
	requireSame(t, []state.Token{tokenFor("t1", "ci", "operator", 0)}, list, "a refused token leaves nothing")
}

func testTokenList(t *testing.T, b *bundle) {
	list, err := b.tokens.ListTokens(b.ctx)
	noError(t, err)
	requireSame(t, 0, len(list))
	// Created out of order, so insertion order cannot pass for age.
	b.create(t, tokenFor("t3", "c", "viewer", 2))
	b.create(t, tokenFor("t1", "a", "operator", 0))
	b.create(t, tokenFor("t2", "b", "viewer", 1))
	list, err = b.tokens.ListTokens(b.ctx)
	noError(t, err)
	requireSame(t, []state.Token{tokenFor("t1", "a", "operator", 0), tokenFor("t2", "b", "viewer", 1), tokenFor("t3", "c", "viewer", 2)}, list)
}

func testTokenRevoke(t *testing.T, b *bundle) {
	b.create(t, tokenFor("t1", "ci", "operator", 0))
	b.create(t, tokenFor("t2", "grafana", "viewer", 1))
	// A name that is another token's id: the name wins.
	b.create(t, tokenFor("t3", "t2", "viewer", 2))

	got, err := b.tokens.RevokeToken(b.ctx, "ci")
	noError(t, err)
	requireSame(t, "t1", got.ID, "revoked by name")
	got, err = b.tokens.RevokeToken(b.ctx, "t2")
	noError(t, err)
	requireSame(t, "t3", got.ID, "a name is tried before an id")
	got, err = b.tokens.RevokeToken(b.ctx, "t2")
	noError(t, err)
	requireSame(t, "grafana", got.Name, "then by id")
	_, err = b.tokens.RevokeToken(b.ctx, "t2")
	errorIs(t, err, state.ErrNotFound)
	_, err = b.tokens.TokenByID(b.ctx, "t1")
	errorIs(t, err, state.ErrNotFound)
	list, err := b.tokens.ListTokens(b.ctx)
	noError(t, err)
	requireSame(t, 0, len(list))
}

func testTokenTouch(t *testing.T, b *bundle) {
	b.create(t, tokenFor("t1", "ci", "operator", 0))
	used := tokenT0.Add(time.Hour)
	noError(t, b.tokens.TouchToken(b.ctx, "t1", used))
	got, err := b.tokens.TokenByID(b.ctx, "t1")
	noError(t, err)
	requireSame(t, used, got.LastUsed)
	check(t, got.LastUsed.Location() == time.UTC, "times come back in UTC")
	errorIs(t, b.tokens.TouchToken(b.ctx, "no-such-token", used), state.ErrNotFound)
}
