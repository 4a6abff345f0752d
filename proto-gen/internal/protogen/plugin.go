package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/pluginpb"
)

// generate runs rc from the module root dir: it compiles every .proto file,
// runs every plugin, and only when all have succeeded replaces the generated
// files under the output directory.
func generate(ctx context.Context, dir string, rc Recipe) error {
	protoRoot := filepath.Join(dir, rc.ProtoRoot)
	files, err := protoFiles(protoRoot)
	if err != nil {
		return err
	}
	req, err := request(ctx, protoRoot, files)
	if err != nil {
		return err
	}
	var out []*pluginpb.CodeGeneratorResponse_File
	for _, p := range rc.Plugins {
		resp, err := runPlugin(ctx, dir, p, req)
		if err != nil {
			return err
		}
		out = append(out, resp.GetFile()...)
	}
	if err := checkFiles(out); err != nil {
		return err
	}
	outDir := filepath.Join(dir, rc.OutDir)
	if err := removeGenerated(outDir); err != nil {
		return err
	}
	return writeFiles(outDir, out)
}

// runPlugin sends req, with p's parameter, to p and returns its response.
// A plugin that fails, reports an error, or does not declare a feature the
// files need is an error.
func runPlugin(ctx context.Context, dir string, p Plugin, req *pluginpb.CodeGeneratorRequest) (*pluginpb.CodeGeneratorResponse, error) {
	name := strings.Join(p.Command, " ")
	if len(p.Command) == 0 {
		return nil, errors.New("plugin without a command")
	}
	r := proto.CloneOf(req)
	if p.Param != "" {
		r.Parameter = proto.String(p.Param)
	}
	in, err := proto.Marshal(r)
	if err != nil {
		return nil, err
	}
	var stdout bytes.Buffer
	cmd := exec.CommandContext(ctx, p.Command[0], p.Command[1:]...)
	cmd.Dir, cmd.Stdin, cmd.Stdout, cmd.Stderr = dir, bytes.NewReader(in), &stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	resp := new(pluginpb.CodeGeneratorResponse)
	if err := proto.Unmarshal(stdout.Bytes(), resp); err != nil {
		return nil, fmt.Errorf("%s: reading its response: %w", name, err)
	}
	if resp.Error != nil {
		return nil, fmt.Errorf("%s: %s", name, resp.GetError())
	}
	if need := requiredFeatures(r); resp.GetSupportedFeatures()&need != need {
		return nil, fmt.Errorf("%s: does not support the features the files use (needs %#x, supports %#x)",
			name, need, resp.GetSupportedFeatures())
	}
	return resp, nil
}

// generatedSuffix marks the files the plugins write; removeGenerated deletes
// exactly these.
const generatedSuffix = ".pb.go"

// removeGenerated deletes every generated file under dir, so that files of a
// deleted .proto do not linger.
func removeGenerated(dir string) error {
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && p == dir {
			return nil
		}
		if err != nil || d.IsDir() || !strings.HasSuffix(p, generatedSuffix) {
			return err
		}
		return os.Remove(p)
	})
}

// checkFiles refuses what the plugins may not write: each name must be a
// clean relative path ending in .pb.go (what removeGenerated will find
// again), and appear once; insertion points are refused, since no plugin of
// the recipe uses them.
func checkFiles(files []*pluginpb.CodeGeneratorResponse_File) error {
	seen := map[string]bool{}
	for _, f := range files {
		name := f.GetName()
		switch {
		case f.GetInsertionPoint() != "":
			return fmt.Errorf("%s: insertion points are not supported", name)
		case name == "" || path.IsAbs(name) || path.Clean(name) != name || strings.HasPrefix(name, "../") || strings.Contains(name, `\`):
			return fmt.Errorf("%q: a generated file must have a clean relative name", name)
		case !strings.HasSuffix(name, generatedSuffix):
			return fmt.Errorf("%s: a generated file must end in %s", name, generatedSuffix)
		case seen[name]:
			return fmt.Errorf("%s: generated twice", name)
		}
		seen[name] = true
	}
	return nil
}

// writeFiles writes files, which checkFiles accepted, under dir.
func writeFiles(dir string, files []*pluginpb.CodeGeneratorResponse_File) error {
	for _, f := range files {
		p := filepath.Join(dir, filepath.FromSlash(f.GetName()))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(f.GetContent()), 0o644); err != nil {
			return err
		}
	}
	return nil
}
