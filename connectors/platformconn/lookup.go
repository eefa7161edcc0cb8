package platformconn

import (
	"context"
	"fmt"

	"github.com/audiencesync/audiencesync/connectors"
)

// Lookup finds the audience an AudienceSpec names, in the order every
// platform destination's Ensure follows: spec.ID, which must exist; the id
// recorded last run (spec.KnownID), which falls through to the name when
// it is gone; the name; and, when spec.Create allows, a new audience. A is
// what the destination keeps of the audience it found.
type Lookup[A any] struct {
	// ByID reads audience id; found is false when the platform does not
	// know it (or it is deleted, or belongs to another account).
	ByID func(ctx context.Context, id string) (a A, found bool, err error)
	// ByName finds the audience named name.
	ByName func(ctx context.Context, name string) (a A, found bool, err error)
	// Create creates the audience spec describes.
	Create func(ctx context.Context, spec connectors.AudienceSpec) (A, error)
	// NoSuchID says that spec.ID does not exist, Unnamed that the spec
	// has neither an id nor a name, and NoSuchName that no audience has
	// the name while creating it is not allowed; Find wraps each with
	// connectors.Fatal. Those left nil say it in Words.
	NoSuchID   func(id string) error
	Unnamed    error
	NoSuchName func(name string) error
	Words      Words
	// Gone, when set, hears of an audience recorded last run that is gone.
	Gone func(id string)
}

// Words name a platform's audiences in Lookup's errors, which then read
// "x: custom audience 7 does not exist in ad account 18ce54d4x5t (or was
// deleted): fix the audience id in the sync, or remove it to find the
// audience by name".
type Words struct {
	// Type is the connection type, which starts each error.
	Type string
	// Noun is what the platform calls an audience ("custom audience"),
	// Short what the advice calls it ("audience").
	Noun, Short string
	// Account names the account ("ad account 18ce54d4x5t").
	Account string
	// Where follows "create it" in the advice: where to create one by
	// hand (" in X Ads Manager"), or "".
	Where string
}

func (w Words) noSuchID(id string) error {
	return fmt.Errorf("%s: %s %s does not exist in %s (or was deleted): fix the audience id in the sync, or remove it to find the %s by name",
		w.Type, w.Noun, id, w.Account, w.Short)
}

func (w Words) unnamed() error {
	return fmt.Errorf("%s: the audience has neither an id nor a name: give the sync's audience a name or an id", w.Type)
}

func (w Words) noSuchName(name string) error {
	return fmt.Errorf("%s: %s has no %s named %q: create it%s, give its id in the sync, or allow audiencesync to create it",
		w.Type, w.Account, w.Noun, name, w.Where)
}

// Find looks the audience spec names up (see Lookup).
func (l *Lookup[A]) Find(ctx context.Context, spec connectors.AudienceSpec) (A, error) {
	var none A
	noSuchID, unnamed, noSuchName := l.NoSuchID, l.Unnamed, l.NoSuchName
	if noSuchID == nil {
		noSuchID = l.Words.noSuchID
	}
	if unnamed == nil {
		unnamed = l.Words.unnamed()
	}
	if noSuchName == nil {
		noSuchName = l.Words.noSuchName
	}
	if spec.ID != "" {
		a, found, err := l.ByID(ctx, spec.ID)
		switch {
		case err != nil:
			return none, err
		case !found:
			return none, connectors.Fatal(noSuchID(spec.ID))
		}
		return a, nil
	}
	if spec.KnownID != "" {
		a, found, err := l.ByID(ctx, spec.KnownID)
		if err != nil || found {
			return a, err
		}
		if l.Gone != nil {
			l.Gone(spec.KnownID)
		}
	}
	if spec.Name == "" {
		return none, connectors.Fatal(unnamed)
	}
	a, found, err := l.ByName(ctx, spec.Name)
	if err != nil || found {
		return a, err
	}
	if !spec.Create {
		return none, connectors.Fatal(noSuchName(spec.Name))
	}
	return l.Create(ctx, spec)
}

// Gone says that audience id, resolved earlier, no longer exists ("x:
// custom audience 7 is gone from ad account 18ce54d4x5t").
func (w Words) Gone(id string) error {
	return fmt.Errorf("%s: %s %s is gone from %s", w.Type, w.Noun, id, w.Account)
}

// Size is a destination's AudienceSize (connectors.AudienceSizer) for
// audience id: byID reads the audience (found is false when it is gone,
// a fatal error that w words), and size says what its figures tell.
func Size[A any](ctx context.Context, w Words, id string, byID func(ctx context.Context, id string) (a A, found bool, err error), size func(A) connectors.AudienceSize) (connectors.AudienceSize, error) {
	a, found, err := byID(ctx, id)
	switch {
	case err != nil:
		return connectors.AudienceSize{}, err
	case !found:
		return connectors.AudienceSize{}, connectors.Fatal(w.Gone(id))
	}
	return size(a), nil
}
