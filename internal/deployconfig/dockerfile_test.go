package deployconfig

import (
	"errors"
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
	env := strings.Join(instructionArgs(final.Find("ENV")), " ")
	for _, want := range []string{"EXTAUTHZ_GRPC_ADDR=0.0.0.0:9191", "EXTAUTHZ_HTTP_ADDR=0.0.0.0:9192"} {
		if !strings.Contains(env, want) {
			t.Errorf("the final stage does not set %s", want)
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
