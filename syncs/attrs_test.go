package syncs_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/report"
	"github.com/audiencesync/audiencesync/syncs"
)

// TestSourceAttributesAreCounted runs a configured sync whose CSV source
// has attributes: the config's source.attributes reach the source, the
// report counts them, and no value reaches the destination's files.
func TestSourceAttributesAreCounted(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const sentinel = "zz-stage-sentinel"
	csv := "id,email,stage,visits\n" +
		"1,member-1@example.com," + sentinel + ",3\n" +
		"2,member-2@example.com,,many\n" +
		"3,member-3@example.com," + sentinel + ",\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "in.csv"), []byte(csv), 0o600))
	cfg := `state:
  path: ./state.db
connections:
  crm: {type: csv, path: ./in.csv}
  exports: {type: file, dir: ./out, formats: [google]}
syncs:
  - name: buyers
    source:
      connection: crm
      key: id
      fields: {email: email}
      attributes:
        lifecycle_stage: {field: stage, type: string}
        visits: {type: number}
    destinations:
      - connection: exports
`
	path := filepath.Join(dir, "audiencesync.yaml")
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	svc, err := syncs.Open(t.Context(), syncs.Options{ConfigPath: path})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, svc.Close()) })
	rep, err := svc.Run(t.Context(), "buyers", syncs.RunOptions{})
	require.NoError(t, err)
	require.Equal(t, []report.AttributeCount{
		{Name: "lifecycle_stage", Present: 2, Missing: 1},
		{Name: "visits", Present: 1, Missing: 1, Invalid: 1},
	}, rep.Source.Attributes)
	require.Equal(t, int64(3), rep.Destinations[0].Members, "an attribute never leaves a member out")
	err = filepath.Walk(filepath.Join(dir, "out"), func(p string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		require.NoError(t, err)
		require.NotContains(t, string(data), sentinel, p)
		return nil
	})
	require.NoError(t, err)
}
