package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
)

// moduleRoot is the directory of the go.mod governing the working
// directory; it must be extauthz's.
func moduleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "list", "-m", "-f", "{{.Path}} {{.Dir}}").Output()
	if err != nil {
		return "", fmt.Errorf("finding the module (run from the extauthz repository, or pass -extauthz): %w", err)
	}
	path, dir, _ := strings.Cut(strings.TrimSpace(string(out)), " ")
	if path != "extauthz" {
		return "", fmt.Errorf("the module here is %q, not extauthz (run from the repository, or pass -extauthz)", path)
	}
	return dir, nil
}

// buildExtauthz builds ./cmd/extauthz of the module into dir, so that the
// benchmark measures the code as it is now. It also says which code that is.
func buildExtauthz(ctx context.Context, dir string) (bin, revision string, err error) {
	root, err := moduleRoot(ctx)
	if err != nil {
		return "", "", err
	}
	bin = filepath.Join(dir, "extauthz")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./cmd/extauthz")
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", "", fmt.Errorf("go build ./cmd/extauthz: %w\n%s", err, stderr.String())
	}
	return bin, sourceRevision(ctx, root), nil
}

// sourceRevision names the checked-out commit and whether the working tree
// differs from it, or "unknown" outside git.
func sourceRevision(ctx context.Context, root string) string {
	git := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "git", args...)
		cmd.Dir = root
		out, err := cmd.Output()
		return strings.TrimSpace(string(out)), err
	}
	rev, err := git("rev-parse", "--short", "HEAD")
	if err != nil {
		return "unknown"
	}
	if changes, err := git("status", "--porcelain", "--untracked-files=no"); err == nil && changes != "" {
		return rev + " with uncommitted changes"
	}
	return rev
}

// instrumentation names the build settings of this binary that would slow
// the baseline (this binary in its baseline-server mode) and the load
// generator below a default build — -race, -msan, -asan — or is "".
func instrumentation(bi *debug.BuildInfo) string {
	var found []string
	for _, s := range bi.Settings {
		if (s.Key == "-race" || s.Key == "-msan" || s.Key == "-asan") && s.Value == "true" {
			found = append(found, s.Key)
		}
	}
	return strings.Join(found, " ")
}
