package configs_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/audiencesync/audiencesync/configs"
)

// TestCheckFiles: with CheckFiles a file source's path must name a file
// that exists and opens; the problem names the file, the line of its key,
// the resolved path and what to do. Without CheckFiles nothing is
// checked.
func TestCheckFiles(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		files map[string]string // besides config.yaml
		path  string            // the source's path
		want  string            // "" for no problem
	}{
		{"present", map[string]string{"in.csv": "id\n"}, "in.csv", ""},
		{"present in a subdirectory", map[string]string{"exports/in.csv": "id\n"}, "exports/in.csv", ""},
		{"missing", nil, "in.csv", `config.yaml:4: connection "crm": path in.csv does not exist (`},
		{"a directory", map[string]string{"exports/x": ""}, "exports", `connection "crm": path exports is a directory (`},
		{"missing absolute", nil, "/nonexistent/audiencesync/in.csv", "path /nonexistent/audiencesync/in.csv does not exist: export the file there, or correct the path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			files := map[string]string{"config.yaml": strings.Replace(minimal, "path: in.csv", "path: "+tt.path, 1)}
			for k, v := range tt.files {
				files[k] = v
			}
			path := writeConfig(t, files)
			_, err := configs.Load(path, testRegistry(), configs.LoadOptions{})
			require.NoError(t, err, "without CheckFiles no file is looked at")
			_, err = configs.Load(path, testRegistry(), configs.LoadOptions{CheckFiles: true})
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.want)
			if !filepath.IsAbs(tt.path) {
				require.ErrorContains(t, err, filepath.Join(filepath.Dir(path), tt.path)+": a relative path is taken from the config file's directory")
			}
		})
	}
}
