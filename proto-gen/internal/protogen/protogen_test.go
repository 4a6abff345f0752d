package main

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/pluginpb"
)

// fakePluginEnv makes the test binary act as a protoc plugin (see TestMain);
// its value picks the behaviour.
const fakePluginEnv = "PROTOGEN_FAKE_PLUGIN"

func TestMain(m *testing.M) {
	if mode := os.Getenv(fakePluginEnv); mode != "" {
		fakePlugin(mode)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// fakePlugin answers the request on stdin. Mode "list" writes one file per
// file to generate, listing the parameter, every proto_file in order and the
// leading comment of its first message; "fail" reports an error; "escape"
// names a file outside the output directory; "plain" declares no features.
func fakePlugin(mode string) {
	in, _ := io.ReadAll(os.Stdin)
	req := new(pluginpb.CodeGeneratorRequest)
	if err := proto.Unmarshal(in, req); err != nil {
		panic(err)
	}
	resp := &pluginpb.CodeGeneratorResponse{
		SupportedFeatures: proto.Uint64(uint64(pluginpb.CodeGeneratorResponse_FEATURE_PROTO3_OPTIONAL)),
	}
	switch mode {
	case "fail":
		resp.Error = proto.String("fake plugin refuses")
	case "escape":
		resp.File = []*pluginpb.CodeGeneratorResponse_File{{Name: proto.String("../escape.pb.go"), Content: proto.String("x")}}
	default:
		if mode == "plain" {
			resp.SupportedFeatures = nil
		}
		var b strings.Builder
		b.WriteString("param=" + req.GetParameter() + "\n")
		for _, f := range req.GetProtoFile() {
			b.WriteString("file " + f.GetName() + "\n")
			for _, loc := range f.GetSourceCodeInfo().GetLocation() {
				if c := strings.TrimSpace(loc.GetLeadingComments()); c != "" {
					b.WriteString("  comment " + c + "\n")
					break
				}
			}
		}
		for _, name := range req.GetFileToGenerate() {
			resp.File = append(resp.File, &pluginpb.CodeGeneratorResponse_File{
				Name:    proto.String(strings.TrimSuffix(name, ".proto") + ".fake.pb.go"),
				Content: proto.String(b.String()),
			})
		}
	}
	out, _ := proto.Marshal(resp)
	os.Stdout.Write(out)
}

// tree writes files (slash paths → content) under a new directory.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

var testProtos = map[string]string{
	"proto/a/v1/a.proto": `syntax = "proto3";
package a.v1;
import "b/b.proto";
import "google/protobuf/timestamp.proto";
// A is documented.
message A { b.B b = 1; google.protobuf.Timestamp at = 2; optional string s = 3; }
`,
	"proto/b/b.proto": `syntax = "proto3";
package b;
// B is documented too.
message B {}
`,
	"out/old/gone.pb.go":   "stale generated file",
	"out/internal/keep.go": "package keep",
}

func fakeRecipe(params ...string) Recipe {
	rc := Recipe{ProtoRoot: "proto", OutDir: "out"}
	for _, p := range params {
		rc.Plugins = append(rc.Plugins, Plugin{Command: []string{os.Args[0]}, Param: p})
	}
	return rc
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestGenerate: the plugins get what protoc would send (every file,
// dependencies first, with comments, and their parameter), their files land
// under the output directory, and stale generated files go while others stay.
func TestGenerate(t *testing.T) {
	t.Setenv(fakePluginEnv, "list")
	dir := tree(t, testProtos)
	if err := generate(context.Background(), dir, fakeRecipe("paths=source_relative")); err != nil {
		t.Fatal(err)
	}
	want := `param=paths=source_relative
file b/b.proto
  comment B is documented too.
file google/protobuf/timestamp.proto
file a/v1/a.proto
  comment A is documented.
`
	if got := read(t, filepath.Join(dir, "out/a/v1/a.fake.pb.go")); got != want {
		t.Errorf("a.fake.pb.go =\n%s\nwant\n%s", got, want)
	}
	if _, err := os.Stat(filepath.Join(dir, "out/b/b.fake.pb.go")); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "out/old/gone.pb.go")); !os.IsNotExist(err) {
		t.Errorf("stale generated file kept: %v", err)
	}
	if got := read(t, filepath.Join(dir, "out/internal/keep.go")); got != "package keep" {
		t.Errorf("keep.go = %q", got)
	}
}

// TestGenerateChangesNothingOnFailure: a plugin's error (or an unsafe file
// name, or a missing feature) leaves the previous generated files alone.
func TestGenerateChangesNothingOnFailure(t *testing.T) {
	for mode, want := range map[string]string{
		"fail":   "fake plugin refuses",
		"escape": "clean relative name",
		"plain":  "does not support the features",
	} {
		t.Run(mode, func(t *testing.T) {
			t.Setenv(fakePluginEnv, mode)
			dir := tree(t, testProtos)
			err := generate(context.Background(), dir, fakeRecipe(""))
			if err == nil || !strings.Contains(err.Error(), want) {
				t.Fatalf("err = %v, want one containing %q", err, want)
			}
			if got := read(t, filepath.Join(dir, "out/old/gone.pb.go")); got != "stale generated file" {
				t.Errorf("old file = %q", got)
			}
			if _, err := os.Stat(filepath.Join(dir, "escape.pb.go")); !os.IsNotExist(err) {
				t.Errorf("a file escaped the output directory: %v", err)
			}
		})
	}
}

func TestGenerateReportsCompileErrors(t *testing.T) {
	dir := tree(t, map[string]string{"proto/x.proto": `syntax = "proto3"; message X { Missing m = 1; }`})
	err := generate(context.Background(), dir, fakeRecipe(""))
	if err == nil || !strings.Contains(err.Error(), "x.proto:1:") {
		t.Fatalf("err = %v, want a position in x.proto", err)
	}
	if err := generate(context.Background(), t.TempDir(), fakeRecipe("")); err == nil {
		t.Fatal("no error without .proto files")
	}
}

func TestCheckFilesRefusesUnsafeNames(t *testing.T) {
	for _, name := range []string{"", "/abs.pb.go", "../up.pb.go", "a/../../up.pb.go", "a//b.pb.go", "./a.pb.go", `a\b.pb.go`, "a.go"} {
		f := &pluginpb.CodeGeneratorResponse_File{Name: proto.String(name), Content: proto.String("x")}
		if err := checkFiles([]*pluginpb.CodeGeneratorResponse_File{f}); err == nil {
			t.Errorf("checkFiles accepted %q", name)
		}
	}
	twice := &pluginpb.CodeGeneratorResponse_File{Name: proto.String("a.pb.go"), Content: proto.String("x")}
	if err := checkFiles([]*pluginpb.CodeGeneratorResponse_File{twice, twice}); err == nil {
		t.Error("checkFiles accepted a file generated twice")
	}
	point := &pluginpb.CodeGeneratorResponse_File{Name: proto.String("a.pb.go"), InsertionPoint: proto.String("imports")}
	if err := checkFiles([]*pluginpb.CodeGeneratorResponse_File{point}); err == nil {
		t.Error("checkFiles accepted an insertion point")
	}
}
