package configs_test

import (
	"errors"
	"time"

	"github.com/audiencesync/audiencesync/auth"
	"github.com/audiencesync/audiencesync/connectors"
)

// The fake connectors stand in for real ones, which the loader must not
// depend on: their settings have a plain field, a nested struct, an inline
// struct and secrets at several depths, and they validate themselves.

// fakeSource is the settings of type fakesrc.
type fakeSource struct {
	Path    string        `yaml:"path"`
	APIKey  auth.Secret   `yaml:"api_key"`
	Timeout time.Duration `yaml:"timeout"`
	Auth    *fakeAuth     `yaml:"auth"`
}

type fakeAuth struct {
	User  string      `yaml:"user"`
	Token auth.Secret `yaml:"token"`
}

// LocalFiles names the file the fake source would read.
func (s *fakeSource) LocalFiles() []connectors.LocalFile {
	return []connectors.LocalFile{{Key: "path", Path: s.Path}}
}

func (s *fakeSource) Validate() error {
	if s.Path == "" {
		return errors.New("path is required: name the file to read")
	}
	return nil
}

// fakeCommon is lifted into fakeDestination with ",inline", as shared
// platform settings are.
type fakeCommon struct {
	Sandbox  bool   `yaml:"sandbox"`
	Endpoint string `yaml:"endpoint"`
}

// fakeDestination is the settings of type fakedst.
type fakeDestination struct {
	fakeCommon `yaml:",inline"`
	Account    string      `yaml:"account"`
	Token      auth.Secret `yaml:"token"`
	OAuth      fakeOAuth   `yaml:"oauth"`
	Scopes     []string    `yaml:"scopes"`
	MaxBatch   int         `yaml:"max_batch"`
}

type fakeOAuth struct {
	ClientID     string      `yaml:"client_id"`
	ClientSecret auth.Secret `yaml:"client_secret"`
}

func (s *fakeDestination) Validate() error {
	var errs []error
	if s.Account == "" {
		errs = append(errs, errors.New("account is required"))
	}
	if !s.Sandbox && s.Token.IsZero() && s.OAuth.ClientSecret.IsZero() {
		errs = append(errs, errors.New("set token or oauth, or sandbox: true"))
	}
	return errors.Join(errs...)
}

// testRegistry returns a registry with fakesrc and fakedst.
func testRegistry() *connectors.Registry {
	var reg connectors.Registry
	reg.Register(connectors.Spec{
		Type:     "fakesrc",
		Role:     connectors.RoleSource,
		Settings: func() any { return &fakeSource{} },
		NewSource: func(any, connectors.Env) (connectors.Source, error) {
			return nil, errors.New("fake source: not built in config tests")
		},
	})
	reg.Register(connectors.Spec{
		Type:     "fakedst",
		Role:     connectors.RoleDestination,
		Settings: func() any { return &fakeDestination{} },
		NewDestination: func(any, connectors.Env) (connectors.Destination, error) {
			return nil, errors.New("fake destination: not built in config tests")
		},
	})
	return &reg
}

// env returns a LookupEnv reading from vars.
func env(vars map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := vars[name]
		return v, ok
	}
}
