package envoymodel

import "fmt"

// Version selects how the filter reads the append fields of
// OkHttpResponse.headers (see the package comment).
type Version int

// The modelled Envoy versions.
const (
	// Envoy136 is Envoy 1.36 and earlier: only `append` is read.
	Envoy136 Version = iota + 1
	// Envoy1370 is Envoy 1.37.0: only `append_action` is read.
	Envoy1370
	// EnvoyCurrent is Envoy after the 1.37.0 revert: a present `append`
	// wins, else `append_action`.
	EnvoyCurrent
)

// Versions lists every modelled version, oldest first.
func Versions() []Version { return []Version{Envoy136, Envoy1370, EnvoyCurrent} }

// String names the version as the tests print it.
func (v Version) String() string {
	switch v {
	case Envoy136:
		return "envoy<=1.36"
	case Envoy1370:
		return "envoy-1.37.0"
	case EnvoyCurrent:
		return "envoy-current"
	}
	return fmt.Sprintf("Version(%d)", int(v))
}

func (v Version) valid() bool { return v >= Envoy136 && v <= EnvoyCurrent }
