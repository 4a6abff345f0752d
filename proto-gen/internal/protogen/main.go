// Command protogen regenerates proto-gen/ from the project's .proto files
// under proto/, without protoc: github.com/bufbuild/protocompile compiles
// them, and the protoc plugins named in recipe (pinned by go.mod's tool
// directives, run as `go tool NAME`) generate the Go code from a
// CodeGeneratorRequest exactly as they would under protoc or buf.
//
// Run it from the module root, as scripts/protogen does:
//
//	go run ./proto-gen/internal/protogen
//
// It first removes every generated file (*.pb.go) under proto-gen/, so a
// deleted .proto file leaves nothing behind; regenerating an unchanged tree
// changes nothing.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
)

func main() {
	fs := flag.NewFlagSet("protogen", flag.ExitOnError)
	root := fs.String("root", ".", "the module root: proto sources and output directories are relative to it")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: go run ./proto-gen/internal/protogen [-root DIR]\n\nRegenerates proto-gen/ from proto/ with the plugins pinned in go.mod.")
		fs.PrintDefaults()
	}
	_ = fs.Parse(os.Args[1:])
	if fs.NArg() > 0 {
		fs.Usage()
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := generate(ctx, *root, recipe); err != nil {
		fmt.Fprintf(os.Stderr, "protogen: %v\n", err)
		os.Exit(1)
	}
}
