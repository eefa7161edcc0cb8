package wire

import (
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestAudienceSavedAndRestored(t *testing.T) {
	t.Parallel()
	made := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	a := NewAudience("7", "acct", "Buyers", made)
	a.Description = "synthetic"
	a.Updated = made.Add(time.Hour)
	a.Members.AddRow([]string{"b", "c"})
	a.Members.Add("a")

	require.Equal(t, SavedAudience{ID: "7", Account: "acct", Name: "Buyers", Description: "synthetic"}, a.Saved())
	require.Equal(t, SavedTimes{Created: made, Updated: made.Add(time.Hour)}, a.Times())
	require.Equal(t, Listed{Account: "acct", ID: "7", Name: "Buyers"}, a.Listed())

	back, err := a.Saved().Restored(a.Created, a.Updated, a.Members.Save())
	require.NoError(t, err)
	require.Equal(t, a.Saved(), back.Saved())
	require.Equal(t, a.Times(), back.Times())
	require.Equal(t, []string{"a", "b", "c"}, back.Members.Sorted())
	require.Equal(t, 2, back.Members.People(), "a row is one person")

	_, err = a.Saved().Restored(made, made, SavedMembers{Members: []string{"a"}, Secondary: []int{3}})
	require.Error(t, err, "members that do not hold together are refused")
}

func TestSaveIsWhatRestoreLoads(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	t1 := NewAudiences[Audience](100, 10)
	for _, name := range []string{"x", "y"} {
		a := NewAudience(t1.NewID(), "acct", name, time.Time{})
		t1.Add(a.ID, &a)
	}
	saved, next := Save(&mu, &t1, func(a *Audience) SavedAudience { return a.Saved() })
	require.Equal(t, []SavedAudience{{ID: "101", Account: "acct", Name: "x"}, {ID: "102", Account: "acct", Name: "y"}}, saved)
	require.Equal(t, int64(102), next)
	require.True(t, mu.TryLock(), "Save unlocks")
	mu.Unlock()

	t2 := NewAudiences[Audience](0, 10)
	require.NoError(t, Restore(&mu, &t2, "audience", saved, next, func(sa SavedAudience) (string, *Audience, error) {
		a, err := sa.Restored(time.Time{}, time.Time{}, SavedMembers{})
		return sa.ID, &a, err
	}))
	require.Equal(t, "103", t2.NewID(), "ids go on after the saved ones")
	require.Equal(t, []string{"x", "y"}, List(&t2, func(_ string, a *Audience) string { return a.Name }))
}
