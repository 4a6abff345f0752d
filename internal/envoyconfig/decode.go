package envoyconfig

import (
	"errors"
	"os"

	bootstrapv3 "github.com/envoyproxy/go-control-plane/envoy/config/bootstrap/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"sigs.k8s.io/yaml"
)

// A Config is a decoded Envoy bootstrap file.
type Config struct {
	// Name labels the file in every Violation (usually its path).
	Name string
	// Bootstrap is the decoded configuration.
	Bootstrap *bootstrapv3.Bootstrap
	// Extensions lists the content of every Any in the tree, in walk order.
	Extensions []Extension
}

// An Extension is the unpacked content of one google.protobuf.Any in a Config.
type Extension struct {
	// Path locates the Any, ending in its unpacked type: …typed_config(ExtAuthz).
	Path string
	// Message is the unpacked message.
	Message proto.Message
}

// validator is implemented by every message generated with protoc-gen-validate.
type validator interface{ ValidateAll() error }

// Load reads and decodes the bootstrap file at path (see Decode).
func Load(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, &Violation{File: path, Rule: ErrDecode, Err: err}
	}
	return Decode(path, data)
}

// Decode converts YAML to the v3 Bootstrap strictly (unknown fields, duplicate keys and
// unregistered @types fail), then validates the bootstrap and the unpacked content of every Any
// with protoc-gen-validate. It returns a nil Config only when the file cannot be decoded at all;
// validation failures come back as *Violation errors (ErrDecode, ErrInvalid) beside a Config.
func Decode(name string, data []byte) (*Config, error) {
	js, err := yaml.YAMLToJSONStrict(data)
	if err != nil {
		return nil, &Violation{File: name, Rule: ErrDecode, Err: err}
	}
	b := new(bootstrapv3.Bootstrap)
	if err := (protojson.UnmarshalOptions{}).Unmarshal(js, b); err != nil {
		return nil, &Violation{File: name, Rule: ErrDecode, Err: err}
	}

	cfg := &Config{Name: name, Bootstrap: b}
	var problems []error
	if err := b.ValidateAll(); err != nil {
		problems = append(problems, &Violation{File: name, Rule: ErrInvalid, Err: err})
	}
	w := walker{
		unpacked: func(path string, m proto.Message) {
			cfg.Extensions = append(cfg.Extensions, Extension{Path: path, Message: m})
			if v, ok := m.(validator); ok {
				if err := v.ValidateAll(); err != nil {
					problems = append(problems, &Violation{File: name, Path: path, Rule: ErrInvalid, Err: err})
				}
			}
		},
		failed: func(path string, err error) {
			problems = append(problems, &Violation{File: name, Path: path, Rule: ErrDecode, Err: err})
		},
	}
	w.walk("", b)
	return cfg, errors.Join(problems...)
}

// Validate decodes a bootstrap and checks it: every problem Decode and Check find, joined.
func Validate(name string, data []byte) error {
	cfg, err := Decode(name, data)
	if cfg == nil {
		return err
	}
	return errors.Join(err, Check(cfg))
}

// ValidateFile is Validate for the file at path.
func ValidateFile(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return &Violation{File: path, Rule: ErrDecode, Err: err}
	}
	return Validate(path, data)
}
