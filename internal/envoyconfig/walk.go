package envoyconfig

import (
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/anypb"
)

const anyFullName protoreflect.FullName = "google.protobuf.Any"

// A walker visits every populated field of a message tree. It finds Anys by their type wherever
// they are (singular, repeated or map values), unpacks them through the global registry and
// descends into the unpacked message, so nothing depends on a hand-listed path.
type walker struct {
	// message is called for every message in the tree (the root, nested messages and the
	// content of every Any), before its fields.
	message func(path string, m proto.Message)
	// field is called for every populated field, with its value.
	field func(path string, fd protoreflect.FieldDescriptor, v protoreflect.Value)
	// unpacked is called for the content of every Any, before it is walked.
	unpacked func(path string, m proto.Message)
	// failed is called when an Any cannot be unpacked.
	failed func(path string, err error)
}

func (w *walker) walk(path string, m proto.Message) {
	w.visit(path, m.ProtoReflect())
}

func (w *walker) visit(path string, m protoreflect.Message) {
	if m.Descriptor().FullName() == anyFullName {
		w.any(path, m)
		return
	}
	if w.message != nil {
		w.message(path, m.Interface())
	}
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		fieldPath := join(path, string(fd.Name()))
		switch {
		case fd.IsList():
			list := v.List()
			for i := range list.Len() {
				w.value(fieldPath+"["+elementKey(list.Get(i), fd, i)+"]", fd, list.Get(i))
			}
		case fd.IsMap():
			v.Map().Range(func(k protoreflect.MapKey, mv protoreflect.Value) bool {
				w.value(fieldPath+"["+k.String()+"]", fd.MapValue(), mv)
				return true
			})
		default:
			w.value(fieldPath, fd, v)
		}
		return true
	})
}

func (w *walker) value(path string, fd protoreflect.FieldDescriptor, v protoreflect.Value) {
	if w.field != nil {
		w.field(path, fd, v)
	}
	if fd.Message() != nil {
		w.visit(path, v.Message())
	}
}

// any unpacks an Any. The path shows the unpacked type: typed_config(ExtAuthz).
func (w *walker) any(path string, m protoreflect.Message) {
	a, ok := m.Interface().(*anypb.Any)
	if !ok { // a dynamic Any; cannot happen with generated types, but do not panic
		w.fail(path, fmt.Errorf("google.protobuf.Any of unexpected Go type %T", m.Interface()))
		return
	}
	inner, err := a.UnmarshalNew()
	if err != nil {
		w.fail(path, fmt.Errorf("unpack %s: %w", a.GetTypeUrl(), err))
		return
	}
	path += "(" + string(inner.ProtoReflect().Descriptor().Name()) + ")"
	if w.unpacked != nil {
		w.unpacked(path, inner)
	}
	w.visit(path, inner.ProtoReflect())
}

func (w *walker) fail(path string, err error) {
	if w.failed != nil {
		w.failed(path, err)
	}
}

// elementKey names a list element by its "name" field when it has one (clusters, listeners,
// filters), else by its index.
func elementKey(v protoreflect.Value, fd protoreflect.FieldDescriptor, i int) string {
	if fd.Message() != nil {
		if name := fd.Message().Fields().ByName("name"); name != nil && name.Kind() == protoreflect.StringKind && !name.IsList() {
			if s := v.Message().Get(name).String(); s != "" {
				return s
			}
		}
	}
	return fmt.Sprint(i)
}

func join(path, name string) string {
	if path == "" {
		return name
	}
	return path + "." + name
}
