package state

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Token is one API token as the store keeps it: its hash, never the token.
type Token struct {
	// ID is the token's public id, which the token itself carries so that
	// a presented token is looked up by id and its hash then compared in
	// constant time.
	ID string
	// Name is what people call it (unique; "ci", "grafana").
	Name string
	// Role is what the token may do (the API's roles: viewer, operator).
	Role string
	// Hash is the SHA-256 of the whole token.
	Hash []byte
	// Created is when it was created; LastUsed when it was last accepted
	// (zero: never), to the precision its user recorded it.
	Created  time.Time
	LastUsed time.Time
}

// ErrTokenExists is returned by CreateToken for a name or id already taken.
var ErrTokenExists = errors.New("a token with this name or id exists")

// Tokens keeps the API tokens. All methods are safe for concurrent use.
type Tokens interface {
	// CreateToken records t. A name or id already recorded is an error
	// wrapping ErrTokenExists.
	CreateToken(ctx context.Context, t Token) error
	// TokenByID returns the token with id, or ErrNotFound.
	TokenByID(ctx context.Context, id string) (Token, error)
	// ListTokens lists every token, oldest first (by Created, then ID).
	ListTokens(ctx context.Context) ([]Token, error)
	// RevokeToken deletes the token whose name or id is nameOrID (a name
	// is tried first), and returns it; ErrNotFound when there is none.
	RevokeToken(ctx context.Context, nameOrID string) (Token, error)
	// TouchToken records that token id was used at. An unknown id (say,
	// revoked meanwhile) is ErrNotFound.
	TouchToken(ctx context.Context, id string, at time.Time) error
}

// CheckNew says what is missing from a token to create, or nil: its id,
// name and hash are required.
func (t Token) CheckNew() error {
	if t.ID == "" || t.Name == "" || len(t.Hash) == 0 {
		return fmt.Errorf("create token %q: id, name and hash are required", t.Name)
	}
	return nil
}
