package callerauth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"extauthz/internal/secret"
)

// childEnv makes the test binary a child that plays a local process: it
// dials the unix socket named by the variable, asks Check, prints one line
// and exits. The parent runs it under another uid.
const childEnv = "EXTAUTHZ_CALLERAUTH_CHILD"

// childMain prints "dial: ERRNO" when connect(2) fails, "rpc: CODE" when
// Check fails, "ok: FINGERPRINT" when it got the credential (shown as its
// fingerprint only), or "no-credential".
func childMain(path string) int {
	c, err := net.Dial("unix", path)
	if err != nil {
		var errno syscall.Errno
		if errors.As(err, &errno) && errno == syscall.EACCES {
			fmt.Println("dial: EACCES")
		} else {
			fmt.Println("dial:", err)
		}
		return 0
	}
	c.Close()
	conn, err := grpc.NewClient("unix:"+path, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Println("client:", err)
		return 1
	}
	defer conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	resp, err := authv3.NewAuthorizationClient(conn).Check(ctx, checkRequest())
	switch v, ok := apiKeyHeader(resp); {
	case err != nil:
		fmt.Println("rpc:", status.Code(err))
	case ok:
		fmt.Println("ok:", secret.New(v).Fingerprint())
	default:
		fmt.Println("no-credential")
	}
	return 0
}
