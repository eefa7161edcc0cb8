package platformconn

import (
	"context"

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
	// connectors.Fatal.
	NoSuchID   func(id string) error
	Unnamed    error
	NoSuchName func(name string) error
	// Gone, when set, hears of an audience recorded last run that is gone.
	Gone func(id string)
}

// Find looks the audience spec names up (see Lookup).
func (l *Lookup[A]) Find(ctx context.Context, spec connectors.AudienceSpec) (A, error) {
	var none A
	if spec.ID != "" {
		a, found, err := l.ByID(ctx, spec.ID)
		switch {
		case err != nil:
			return none, err
		case !found:
			return none, connectors.Fatal(l.NoSuchID(spec.ID))
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
		return none, connectors.Fatal(l.Unnamed)
	}
	a, found, err := l.ByName(ctx, spec.Name)
	if err != nil || found {
		return a, err
	}
	if !spec.Create {
		return none, connectors.Fatal(l.NoSuchName(spec.Name))
	}
	return l.Create(ctx, spec)
}
