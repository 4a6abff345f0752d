package main

// Recipe says how generated code is made: which .proto files, which plugins
// with which options, and where the files go.
type Recipe struct {
	// ProtoRoot is the import root of the .proto files, relative to the
	// module root; every .proto file under it is generated. Well-known
	// imports (google/protobuf/*.proto) come from the protobuf runtime.
	ProtoRoot string
	// OutDir receives the plugins' files, relative to the module root.
	OutDir string
	// Plugins run in order, each over every .proto file.
	Plugins []Plugin
}

// Plugin is one protoc plugin and its parameter.
type Plugin struct {
	// Command runs the plugin from the module root: a CodeGeneratorRequest
	// on its stdin, a CodeGeneratorResponse on its stdout.
	Command []string
	// Param is the plugin's parameter string (protoc's --NAME_opt).
	Param string
}

// recipe is proto-gen/'s one recipe. The plugins run through `go tool`, so
// their versions are the ones go.mod pins: protoc-gen-go is the project's own
// google.golang.org/protobuf, and protoc-gen-go-grpc is its own module.
var recipe = Recipe{
	ProtoRoot: "proto",
	OutDir:    "proto-gen",
	Plugins: []Plugin{
		{Command: []string{"go", "tool", "protoc-gen-go"}, Param: "paths=source_relative"},
		{Command: []string{"go", "tool", "protoc-gen-go-grpc"}, Param: "paths=source_relative"},
	},
}
