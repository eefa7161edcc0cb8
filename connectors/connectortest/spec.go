package connectortest

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/audiencesync/audiencesync/connectors"
)

// Spec checks a connector's declaration: it names a type and a summary,
// can build what its role says, and its Sample is a commented YAML mapping
// of one connection name to a body whose type is the spec's and whose other
// keys decode strictly into Settings and validate. It returns the decoded
// settings for further checks.
func Spec(t *testing.T, spec connectors.Spec) any {
	t.Helper()
	require.NotEmpty(t, spec.Type)
	require.NotEmpty(t, spec.Summary, "spec %s has no Summary", spec.Type)
	require.NotNil(t, spec.Settings, "spec %s has no Settings", spec.Type)
	switch spec.Role {
	case connectors.RoleSource:
		require.NotNil(t, spec.NewSource, "source spec %s has no NewSource", spec.Type)
	case connectors.RoleDestination:
		require.NotNil(t, spec.NewDestination, "destination spec %s has no NewDestination", spec.Type)
	default:
		t.Fatalf("spec %s has no role", spec.Type)
	}
	require.Contains(t, spec.Sample, "#", "spec %s: Sample should explain itself with comments", spec.Type)

	var doc yaml.Node
	require.NoError(t, yaml.Unmarshal([]byte(spec.Sample), &doc), "spec %s: Sample is not YAML", spec.Type)
	require.Len(t, doc.Content, 1, "spec %s: Sample is empty", spec.Type)
	root := doc.Content[0]
	require.Equal(t, yaml.MappingNode, root.Kind, "spec %s: Sample must map a connection name to its settings", spec.Type)
	require.Len(t, root.Content, 2, "spec %s: Sample must hold exactly one connection", spec.Type)
	body := root.Content[1]
	require.Equal(t, yaml.MappingNode, body.Kind, "spec %s: the Sample connection must be a mapping", spec.Type)

	settingsNode := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	typ := ""
	for i := 0; i+1 < len(body.Content); i += 2 {
		if body.Content[i].Value == "type" {
			typ = body.Content[i+1].Value
			continue
		}
		settingsNode.Content = append(settingsNode.Content, body.Content[i], body.Content[i+1])
	}
	require.Equal(t, spec.Type, typ, "spec %s: the Sample connection's type", spec.Type)

	raw, err := yaml.Marshal(settingsNode)
	require.NoError(t, err)
	settings := spec.Settings()
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(settings); err != nil {
		t.Fatalf("spec %s: Sample does not decode strictly into Settings: %v", spec.Type, err)
	}
	if v, ok := settings.(connectors.Validator); ok {
		require.NoError(t, v.Validate(), "spec %s: Sample does not validate", spec.Type)
	}
	return settings
}
