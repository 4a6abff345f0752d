package deployconfig

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// LoadCompose loads a compose file with the compose specification's loader, validating it
// against the specification's schema. Relative paths resolve against the file's directory.
// The process environment is not consulted, so the result is the same on every machine.
func LoadCompose(ctx context.Context, path string) (*types.Project, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("compose file %s: %w", path, err)
	}
	details := types.ConfigDetails{
		WorkingDir:  filepath.Dir(abs),
		ConfigFiles: []types.ConfigFile{{Filename: abs}},
		Environment: types.Mapping{},
	}
	project, err := loader.LoadWithContext(ctx, details)
	if err != nil {
		return nil, fmt.Errorf("compose file %s: %w", path, err)
	}
	return project, nil
}
