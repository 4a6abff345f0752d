package feedback

import (
	"log/slog"
	"strings"
	"unicode"
	"unicode/utf8"

	accesslogv3 "github.com/envoyproxy/go-control-plane/envoy/service/accesslog/v3"

	"extauthz/internal/secret"
)

// maxIdentifierField is the most bytes of one identifier field that reach a
// log line.
const maxIdentifierField = 128

// identifierAttrs describes a stream's identifier for one log line: the
// node's id and cluster and the log name, each sanitised. Nothing else of it
// is read or kept.
func identifierAttrs(id *accesslogv3.StreamAccessLogsMessage_Identifier) []slog.Attr {
	return []slog.Attr{
		slog.String("node_id", sanitize(id.GetNode().GetId())),
		slog.String("node_cluster", sanitize(id.GetNode().GetCluster())),
		slog.String("log_name", sanitize(id.GetLogName())),
	}
}

// sanitize makes client text fit for a log line: at most maxIdentifierField
// bytes (cut on a character boundary, marked with "…"), every character that
// is not printable (controls, format characters such as bidi overrides,
// invalid UTF-8) replaced by '?', and anything credential-shaped masked. The
// result is a new string that does not alias s.
func sanitize(s string) string {
	truncated := false
	if len(s) > maxIdentifierField {
		s, truncated = s[:maxIdentifierField], true
	}
	var b strings.Builder
	b.Grow(len(s) + len("…"))
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if truncated && !utf8.FullRuneInString(s[i:]) {
			break // a character cut by the bound, not invalid input
		}
		if r == utf8.RuneError && n == 1 || !unicode.IsPrint(r) {
			b.WriteByte('?')
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	if truncated {
		b.WriteString("…")
	}
	return secret.Scrub(b.String())
}
