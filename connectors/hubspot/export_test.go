package hubspot

import (
	"context"
	"time"

	"github.com/audiencesync/audiencesync/connectors"
)

// NewWithSleep is New with retries and pacing waited by sleep, in steps of
// at least a millisecond, so tests run on a fake clock.
func NewWithSleep(s *Settings, env connectors.Env, sleep func(context.Context, time.Duration) error) (*Source, error) {
	t := defaultTuning()
	t.MinWait, t.MaxWait, t.Sleep = time.Millisecond, 10*time.Millisecond, sleep
	return newSource(s, env, t)
}

// SpecWithSleep is Spec with NewWithSleep, for tests through the service
// layer.
func SpecWithSleep(sleep func(context.Context, time.Duration) error) connectors.Spec {
	return connectors.SourceSpec(Type, "HubSpot (test pacing)", sample,
		func(s *Settings, env connectors.Env) (*Source, error) { return NewWithSleep(s, env, sleep) })
}

// DecodeAll runs every decoder of HubSpot answers on data, for fuzzing.
func DecodeAll(data []byte) {
	_, _ = decodeList(data)
	_, _ = decodeSearch(data)
	_, _ = decodeIDMapping(data)
	if m, err := decodeMemberships(data); err == nil {
		for _, id := range m.ids {
			if id == "" {
				panic("a membership without record id accepted")
			}
		}
	}
	if found, _, err := decodeBatch(data); err == nil {
		for _, c := range found {
			if c.ID == "" {
				panic("a contact without id accepted")
			}
		}
	}
	_ = decodeError(data).daily()
}

// ParseRef exposes parseRef's verdict: the kind (name, id, legacy) and value.
func ParseRef(s string) (kind, value string, err error) {
	r, err := parseRef(s)
	if err != nil {
		return "", "", err
	}
	return [...]string{byName: "name", byID: "id", byLegacyID: "legacy"}[r.kind], r.value, nil
}
