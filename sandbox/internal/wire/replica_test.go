package wire

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

type testAudience struct {
	name    string
	members Set
}

func TestAudiences(t *testing.T) {
	t.Parallel()
	tab := NewAudiences[testAudience](100, 36)
	a := tab.NewID()
	tab.Add(a, &testAudience{name: "first"})
	b := tab.NewID()
	tab.Add(b, &testAudience{name: "second", members: SetOf([]string{"y", "x"})})
	require.Equal(t, []string{"2t", "2u"}, []string{a, b}, "base-36 ids counting up")
	require.Equal(t, 2, tab.Len())
	require.Equal(t, []string{"first", "second"}, List(&tab, func(_ string, a *testAudience) string { return a.name }))
	members := func(a *testAudience) Set { return a.members }
	var mu sync.Mutex
	require.Equal(t, []string{"x", "y"}, MembersOf(&mu, &tab, b, members))
	require.Nil(t, MembersOf(&mu, &tab, "nope", members))
	require.Equal(t, []Membership{{Members: 0, Identifiers: []string{}}, {Members: 2, People: 2, Identifiers: []string{"x", "y"}}},
		Listing(&mu, &tab, func(_ string, a *testAudience) Membership { return Inspect(true, a.members) }))
	require.Equal(t, Membership{Members: 2, People: 2}, Inspect(false, tab.byID[b].members), "identifiers only when asked for")
	require.True(t, mu.TryLock(), "Listing and MembersOf unlock")
	mu.Unlock()
	tab.Delete(a)
	tab.Delete("nope")
	_, ok := tab.Get(a)
	require.False(t, ok)
	var names []string
	for _, a := range tab.All() {
		names = append(names, a.name)
	}
	require.Equal(t, []string{"second"}, names)
	require.Equal(t, int64(102), tab.Next())
}

func TestRestoreAudiences(t *testing.T) {
	t.Parallel()
	like := NewAudiences[testAudience](10, 10)
	build := func(id string) (string, *testAudience, error) {
		if id == "" {
			return "", nil, errors.New("an id is required")
		}
		return id, &testAudience{name: id}, nil
	}
	tab, err := RestoreAudiences(&like, "list", []string{"12", "40"}, 11, build)
	require.NoError(t, err)
	require.Equal(t, "41", tab.NewID(), "new ids follow the highest restored one")

	_, err = RestoreAudiences(&like, "list", []string{"12", "12"}, 0, build)
	require.EqualError(t, err, "list 1: id 12 is used twice")
	_, err = RestoreAudiences(&like, "list", []string{""}, 0, build)
	require.EqualError(t, err, "list 0: an id is required")
}

// TestRestore replaces a replica's table under its lock, and leaves it
// whole when the snapshot is refused.
func TestRestore(t *testing.T) {
	t.Parallel()
	build := func(id string) (string, *testAudience, error) {
		if id == "" {
			return "", nil, errors.New("an id is required")
		}
		return id, &testAudience{name: id}, nil
	}
	var mu sync.Mutex
	tab := NewAudiences[testAudience](10, 10)
	tab.Add(tab.NewID(), &testAudience{name: "kept"})
	require.EqualError(t, Restore(&mu, &tab, "list", []string{"12", ""}, 0, build), "list 1: an id is required")
	require.Equal(t, 1, tab.Len(), "a refused snapshot changes nothing")
	a, ok := tab.Get("11")
	require.True(t, ok)
	require.Equal(t, "kept", a.name)

	require.NoError(t, Restore(&mu, &tab, "list", []string{"12", "40"}, 0, build))
	require.Equal(t, 2, tab.Len())
	_, ok = tab.Get("11")
	require.False(t, ok, "the restored table replaces the old one")
	require.Equal(t, "41", tab.NewID())
	require.True(t, mu.TryLock(), "the lock is released")
}

func TestSaveAndLoadState(t *testing.T) {
	t.Parallel()
	type snap struct {
		N int `json:"n"`
	}
	var got snap
	p := NewPersisted(func() snap { return snap{N: 3} }, func(s snap) error { got = s; return nil })
	raw, err := p.Save()
	require.NoError(t, err)
	require.NoError(t, p.Load(raw))
	require.Equal(t, 3, got.N)
	require.ErrorContains(t, LoadState(json.RawMessage(`{"n":1,"m":2}`), func(snap) error { return nil }), "unknown field")
	require.ErrorContains(t, LoadState(json.RawMessage(`{"n":1} {}`), func(snap) error { return nil }), "unexpected data")
}

func TestReadBody(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	require.NoError(t, ReadBody(&b, httptest.NewRequest("POST", "/", strings.NewReader("hello")), 5))
	require.Equal(t, "hello", b.String())
	var big strings.Builder
	require.ErrorIs(t, ReadBody(&big, httptest.NewRequest("POST", "/", strings.NewReader("hello!")), 5), ErrBodyTooLarge)
}

func TestWriteJSON(t *testing.T) {
	t.Parallel()
	w := httptest.NewRecorder()
	WriteJSON(w, 201, "application/json; charset=UTF-8", map[string]int{"a": 1})
	require.Equal(t, 201, w.Code)
	require.Equal(t, "application/json; charset=UTF-8", w.Header().Get("Content-Type"))
	require.JSONEq(t, `{"a":1}`, w.Body.String())
}

func TestSetRetryAfter(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		d    time.Duration
		want string
	}{
		{"whole seconds", 3 * time.Second, "3"},
		{"a fraction rounds up", 1500 * time.Millisecond, "2"},
		{"under a second is one", time.Millisecond, "1"},
		{"zero", 0, "0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := http.Header{}
			SetRetryAfter(h, tt.d)
			require.Equal(t, tt.want, h.Get("Retry-After"))
		})
	}
}

func TestClock(t *testing.T) {
	t.Parallel()
	fixed := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	require.Equal(t, fixed, Clock(func() time.Time { return fixed })())
	require.WithinDuration(t, time.Now(), Clock(nil)(), time.Minute, "nil means time.Now")
}

func TestSeeded(t *testing.T) {
	t.Parallel()
	var (
		mu    sync.Mutex
		state []string
		held  []bool
	)
	reseed := func() {
		held = append(held, !mu.TryLock()) // called with mu held
		state = []string{"seed"}
	}
	b := NewBase(NewMount("acme", Prefixes("/v1/")), &mu, func() []string { return state }, func(s []string) error { state = s; return nil }, reseed)
	require.Equal(t, []string{"seed"}, state, "a replica starts seeded")
	require.Equal(t, "acme", b.Platform(), "the base mounts the replica")

	require.NoError(t, b.Load([]byte(`["changed"]`)))
	require.Equal(t, []string{"changed"}, state)
	saved, err := b.Save()
	require.NoError(t, err)
	require.JSONEq(t, `["changed"]`, string(saved))

	b.Reset()
	require.Equal(t, []string{"seed"}, state)
	require.Equal(t, []bool{true, true}, held)
	require.True(t, mu.TryLock(), "Reset unlocks")
}

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

	back, err := a.Saved().Restored(anyIDs, a.Created, a.Updated, a.Members.Save())
	require.NoError(t, err)
	require.Equal(t, a.Saved(), back.Saved())
	require.Equal(t, a.Times(), back.Times())
	require.Equal(t, []string{"a", "b", "c"}, back.Members.Sorted())
	require.Equal(t, 2, back.Members.People(), "a row is one person")

	_, err = a.Saved().Restored(anyIDs, made, made, SavedMembers{Members: []string{"a"}, Secondary: []int{3}})
	require.Error(t, err, "members that do not hold together are refused")

	numeric := SavedIDs{Want: "numeric ids wanted", Valid: func(id, account string) bool { return id == "7" && account == "acct" }}
	_, err = a.Saved().Restored(numeric, made, made, a.Members.Save())
	require.NoError(t, err, "ids Valid accepts are restored")
	for _, sa := range []SavedAudience{{ID: "8", Account: "acct"}, {ID: "7", Account: "other"}} {
		_, err = sa.Restored(numeric, made, made, a.Members.Save())
		require.EqualError(t, err, "numeric ids wanted", "ids Valid refuses (%+v) are refused with Want", sa)
	}
}

// anyIDs takes every saved id and account.
var anyIDs = SavedIDs{Want: "never refused", Valid: func(string, string) bool { return true }}

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
		a, err := sa.Restored(anyIDs, time.Time{}, time.Time{}, SavedMembers{})
		return sa.ID, &a, err
	}))
	require.Equal(t, "103", t2.NewID(), "ids go on after the saved ones")
	require.Equal(t, []string{"x", "y"}, List(&t2, func(_ string, a *Audience) string { return a.Name }))
}
