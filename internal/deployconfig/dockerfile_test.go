package deployconfig

import (
	"errors"
	"go/build"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestParseDockerfile(t *testing.T) {
	src := `# syntax=docker/dockerfile:1
ARG GO=1.26
FROM --platform=$BUILDPLATFORM golang:1.26 AS build
RUN a \
    # a comment inside a continuation
    b \
    c
from scratch
COPY --from=build /x /x
`
	stages, err := ParseDockerfile([]byte(src))
	if err != nil {
		t.Fatal(err)
	}
	if len(stages) != 2 || stages[0].Image != "golang:1.26" || stages[0].Name != "build" || stages[1].Image != "scratch" {
		t.Fatalf("stages = %+v", stages)
	}
	run := stages[0].Find("RUN")
	if len(run) != 1 || run[0].Args != "a b c" || run[0].Line != 4 {
		t.Errorf("RUN = %+v, want one instruction %q starting on line 4", run, "a b c")
	}
	if copies := stages[1].Find("COPY"); len(copies) != 1 || copies[0].Args != "--from=build /x /x" {
		t.Errorf("COPY = %+v", copies)
	}
}

func TestParseDockerfileRejectsMalformed(t *testing.T) {
	for name, src := range map[string]string{
		"empty":                   "# nothing\n",
		"instruction before FROM": "RUN x\nFROM scratch\n",
		"FROM without image":      "FROM\n",
		"FROM with junk":          "FROM a b c d\n",
		"dangling continuation":   "FROM scratch\nRUN a \\\n",
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseDockerfile([]byte(src)); !errors.Is(err, ErrDockerfile) {
				t.Fatalf("ParseDockerfile = %v, want ErrDockerfile", err)
			}
		})
	}
}

// The project's image: a pinned multi-stage build of a static binary into a distroless (or
// scratch) image that runs as a non-root user and checks its own health with `extauthz health`.
func TestProjectDockerfile(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	stages, err := ParseDockerfile(data)
	if err != nil {
		t.Fatal(err)
	}
	if len(stages) < 2 {
		t.Fatalf("%d stage(s), want a multi-stage build", len(stages))
	}
	pinned := regexp.MustCompile(`^[a-z0-9./-]+:[A-Za-z0-9._-]+$|@sha256:[0-9a-f]{64}$`)
	for _, s := range stages {
		if s.Image != "scratch" && (!pinned.MatchString(s.Image) || strings.HasSuffix(s.Image, ":latest")) {
			t.Errorf("base image %q is not pinned", s.Image)
		}
	}

	build := strings.Join(instructionArgs(stages[0].Find("RUN")), "\n") + strings.Join(instructionArgs(stages[0].Find("ENV")), "\n")
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "go build"} {
		if !strings.Contains(build, want) {
			t.Errorf("the build stage does not use %s", want)
		}
	}

	final := stages[len(stages)-1]
	if final.Image != "scratch" && !strings.HasPrefix(final.Image, "gcr.io/distroless/") {
		t.Errorf("final image %q is neither distroless nor scratch", final.Image)
	}
	users := final.Find("USER")
	if len(users) == 0 {
		t.Fatal("the final stage sets no USER")
	}
	user, _, _ := strings.Cut(users[len(users)-1].Args, ":")
	if user == "root" || user == "0" || !regexp.MustCompile(`^[1-9][0-9]*$`).MatchString(user) {
		t.Errorf("USER %q: want a numeric non-root uid (Kubernetes runAsNonRoot cannot verify a name)", user)
	}
	health := final.Find("HEALTHCHECK")
	if len(health) != 1 || !regexp.MustCompile(`CMD \["/extauthz", ?"health"\]$`).MatchString(health[0].Args) {
		t.Errorf("HEALTHCHECK = %+v, want CMD [\"/extauthz\", \"health\"]", health)
	}
	if ep := final.Find("ENTRYPOINT"); len(ep) != 1 || ep[0].Args != `["/extauthz"]` {
		t.Errorf(`ENTRYPOINT = %+v, want ["/extauthz"]`, ep)
	}
	// Started with its defaults, the container serves Check only on a socket in /run/extauthz,
	// a directory the image gives to its user: nothing on a network can ask it for a token.
	env := strings.Join(instructionArgs(final.Find("ENV")), " ")
	for _, want := range []string{"EXTAUTHZ_GRPC_ADDR=unix:/run/extauthz/extauthz.sock", "EXTAUTHZ_ADMIN_ADDR=unix:/run/extauthz/admin.sock", "EXTAUTHZ_HTTP_ADDR=0.0.0.0:9192"} {
		if !strings.Contains(env, want) {
			t.Errorf("the final stage does not set %s", want)
		}
	}
	socketDir := false
	for _, c := range final.Find("COPY") {
		socketDir = socketDir || strings.Contains(c.Args, "--chown="+user+":") && strings.HasSuffix(c.Args, " /run/")
	}
	if !socketDir {
		t.Errorf("the final stage does not give /run/extauthz to uid %s", user)
	}
	for _, e := range final.Find("EXPOSE") {
		if strings.Contains(e.Args, "9191") {
			t.Errorf("EXPOSE %s: the image serves gRPC on a unix socket", e.Args)
		}
	}
}

// The build context keeps only what the build needs: everything is excluded, then the module
// files and the binary's packages are let back in.
func TestDockerignoreKeepsTheContextSmall(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var rules []string
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
			rules = append(rules, line)
		}
	}
	if len(rules) == 0 || rules[0] != "*" {
		t.Fatalf("the first rule is not *: %v", rules)
	}
	for _, want := range []string{"!go.mod", "!go.sum", "!cmd/", "!internal/"} {
		if !strings.Contains(strings.Join(rules, "\n"), want) {
			t.Errorf(".dockerignore does not let %s back in", strings.TrimPrefix(want, "!"))
		}
	}
}

func instructionArgs(ins []Instruction) []string {
	out := make([]string, len(ins))
	for i, in := range ins {
		out[i] = in.Args
	}
	return out
}

// The build context holds every file `go build ./cmd/extauthz` reads in the image's build
// (linux, CGO_ENABLED=0): the module files, and the Go, assembly and embedded files of every
// package of this module the binary imports, directly or not. Tests, fixtures and everything
// else stay out.
func TestDockerignoreKeepsWhatTheBuildReads(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(repoRoot, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	ignore := parseDockerignore(t, data)
	needed := append([]string{"go.mod", "go.sum"}, buildFiles(t, "cmd/extauthz")...)
	for _, f := range needed {
		if ignore.excludes(f) {
			t.Errorf(".dockerignore leaves out %s, which the build reads", f)
		}
	}
	if len(needed) < 20 {
		t.Errorf("found only %d files the build reads: %v", len(needed), needed)
	}
	for _, f := range []string{"extauthz", "README.md", ".git/HEAD", "envoy/local.yaml", "internal/envoyconfig/check_test.go", "internal/e2e/testdata/x.json", "internal/zzprobe/probe.go"} {
		if !ignore.excludes(f) {
			t.Errorf(".dockerignore keeps %s in the build context", f)
		}
	}
}

// dockerignore is a parsed .dockerignore: Docker's rules in order, the last match winning, a
// rule matching a path when it matches the path or one of its parent directories.
type dockerignore []dockerignoreRule

type dockerignoreRule struct {
	re     *regexp.Regexp
	negate bool
}

func parseDockerignore(t *testing.T, data []byte) dockerignore {
	t.Helper()
	var rules dockerignore
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		pattern, negate := strings.CutPrefix(line, "!")
		if strings.ContainsAny(pattern, `[\`) {
			t.Fatalf(".dockerignore rule %q: character classes and escapes are not modelled here", line)
		}
		pattern = strings.TrimPrefix(filepath.ToSlash(filepath.Clean(pattern)), "/")
		var re strings.Builder
		re.WriteString("^")
		for i := 0; i < len(pattern); i++ {
			switch rest := pattern[i:]; {
			case strings.HasPrefix(rest, "**/"):
				re.WriteString("(.*/)?")
				i += 2
			case strings.HasPrefix(rest, "**"):
				re.WriteString(".*")
				i++
			case rest[0] == '*':
				re.WriteString("[^/]*")
			case rest[0] == '?':
				re.WriteString("[^/]")
			default:
				re.WriteString(regexp.QuoteMeta(rest[:1]))
			}
		}
		re.WriteString("$")
		rules = append(rules, dockerignoreRule{regexp.MustCompile(re.String()), negate})
	}
	return rules
}

func (d dockerignore) excludes(path string) bool {
	excluded := false
	for _, r := range d {
		parts := strings.Split(path, "/")
		for i := range parts {
			if r.re.MatchString(strings.Join(parts[:i+1], "/")) {
				excluded = !r.negate
				break
			}
		}
	}
	return excluded
}

// buildFiles lists, relative to the repository root, the files a linux CGO_ENABLED=0 build of
// the package in dir reads from this module, following its imports of the module's packages.
func buildFiles(t *testing.T, dir string) []string {
	t.Helper()
	ctx := build.Default
	ctx.GOOS, ctx.GOARCH, ctx.CgoEnabled = "linux", "amd64", false
	const module = "extauthz/"
	seen := map[string]bool{}
	var files []string
	var visit func(dir string)
	visit = func(dir string) {
		if seen[dir] {
			return
		}
		seen[dir] = true
		pkg, err := ctx.ImportDir(filepath.Join(repoRoot, dir), 0)
		if err != nil {
			t.Fatalf("package %s: %v", dir, err)
		}
		for _, list := range [][]string{pkg.GoFiles, pkg.CgoFiles, pkg.SFiles, pkg.HFiles, pkg.SysoFiles, pkg.EmbedPatterns} {
			for _, name := range list {
				matches, err := filepath.Glob(filepath.Join(repoRoot, dir, name))
				if err != nil || len(matches) == 0 {
					t.Fatalf("package %s: %s matches no file (%v)", dir, name, err)
				}
				for _, m := range matches {
					rel, _ := filepath.Rel(repoRoot, m)
					files = append(files, filepath.ToSlash(rel))
				}
			}
		}
		for _, imp := range pkg.Imports {
			if sub, ok := strings.CutPrefix(imp, module); ok {
				visit(sub)
			}
		}
	}
	visit(dir)
	return files
}
