package authz

import "strconv"

// Mode selects which header carries the credential.
type Mode int

const (
	// ModeWIF sends "authorization: Bearer <token>" and the merged
	// anthropic-beta header, and removes the client's x-api-key.
	ModeWIF Mode = iota + 1
	// ModeStaticKey sends "x-api-key: <key>" and removes the client's
	// authorization header; anthropic-beta is left alone.
	ModeStaticKey
)

// String returns "wif" or "static-key" (the names used in logs and metrics).
func (m Mode) String() string {
	switch m {
	case ModeWIF:
		return "wif"
	case ModeStaticKey:
		return "static-key"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

func (m Mode) valid() bool { return m == ModeWIF || m == ModeStaticKey }
