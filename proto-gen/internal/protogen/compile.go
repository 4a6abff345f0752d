package main

import (
	"context"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"

	"github.com/bufbuild/protocompile"
	"github.com/bufbuild/protocompile/linker"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/descriptorpb"
	"google.golang.org/protobuf/types/pluginpb"
)

// protoFiles lists the .proto files under root as sorted, slash-separated
// paths relative to it: the names they are imported by.
func protoFiles(root string) ([]string, error) {
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".proto") {
			return err
		}
		rel, err := filepath.Rel(root, p)
		files = append(files, filepath.ToSlash(rel))
		return err
	})
	if err != nil {
		return nil, err
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("no .proto files under %s", root)
	}
	slices.Sort(files)
	return files, nil
}

// request compiles files (paths relative to the import root) and returns the
// CodeGeneratorRequest protoc would send for them: every file they need,
// dependencies before dependents, with the source comments the plugins turn
// into doc comments. It has no parameter and no compiler version (the
// generated headers say "protoc (unknown)", as they do under buf).
func request(ctx context.Context, root string, files []string) (*pluginpb.CodeGeneratorRequest, error) {
	c := protocompile.Compiler{
		Resolver:       protocompile.WithStandardImports(&protocompile.SourceResolver{ImportPaths: []string{root}}),
		SourceInfoMode: protocompile.SourceInfoStandard,
	}
	compiled, err := c.Compile(ctx, files...)
	if err != nil {
		return nil, err
	}
	req := &pluginpb.CodeGeneratorRequest{FileToGenerate: files}
	seen := map[string]bool{}
	var add func(fd protoreflect.FileDescriptor)
	add = func(fd protoreflect.FileDescriptor) {
		if seen[fd.Path()] {
			return
		}
		seen[fd.Path()] = true
		imports := fd.Imports()
		for i := range imports.Len() {
			add(imports.Get(i).FileDescriptor)
		}
		req.ProtoFile = append(req.ProtoFile, descriptorProto(fd))
	}
	for _, f := range compiled {
		add(f)
	}
	return req, nil
}

// descriptorProto is fd as a FileDescriptorProto: the compiler's own for a
// file compiled from source (with json_name and source info as protoc fills
// them), else converted from the runtime's descriptor (well-known imports).
func descriptorProto(fd protoreflect.FileDescriptor) *descriptorpb.FileDescriptorProto {
	if r, ok := fd.(linker.Result); ok {
		return r.FileDescriptorProto()
	}
	return protodesc.ToFileDescriptorProto(fd)
}

// requiredFeatures is what a plugin must declare in its response to be
// trusted with req's files, as protoc checks: proto3 optional fields and
// editions need explicit support.
func requiredFeatures(req *pluginpb.CodeGeneratorRequest) uint64 {
	var need uint64
	for _, f := range req.GetProtoFile() {
		if !slices.Contains(req.GetFileToGenerate(), f.GetName()) {
			continue
		}
		if f.GetSyntax() == "editions" {
			need |= uint64(pluginpb.CodeGeneratorResponse_FEATURE_SUPPORTS_EDITIONS)
		}
		if hasProto3Optional(f.GetMessageType()) {
			need |= uint64(pluginpb.CodeGeneratorResponse_FEATURE_PROTO3_OPTIONAL)
		}
	}
	return need
}

func hasProto3Optional(msgs []*descriptorpb.DescriptorProto) bool {
	for _, m := range msgs {
		for _, f := range m.GetField() {
			if f.GetProto3Optional() {
				return true
			}
		}
		if hasProto3Optional(m.GetNestedType()) {
			return true
		}
	}
	return false
}
