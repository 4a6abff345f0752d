package feedback

import (
	"log/slog"

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

// sanitize makes client text fit for a log line: secret.CleanText, at most
// maxIdentifierField bytes.
func sanitize(s string) string { return secret.CleanText(s, maxIdentifierField) }
