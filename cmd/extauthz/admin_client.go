package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"google.golang.org/grpc/status"

	"extauthz/internal/admin"
	adminv1 "extauthz/proto-gen/extauthz/admin/v1"
)

// adminFlagSet is the flags every admin API command takes.
type adminFlagSet struct {
	addr    *string
	timeout *time.Duration
	tls     tlsFlags // the admin listener speaks the gRPC listener's TLS
}

// adminFlags adds the flags every admin API command takes: --addr,
// --timeout with the command's default, and the TLS flags.
func adminFlags(fs *flag.FlagSet, timeout time.Duration, timeoutUsage string) *adminFlagSet {
	f := &adminFlagSet{
		addr:    fs.String("addr", "", "admin API address (host:port or unix:/path; default EXTAUTHZ_ADMIN_ADDR or "+defaultAdminAddr+")"),
		timeout: fs.Duration("timeout", timeout, timeoutUsage),
	}
	f.tls.register(fs)
	return f
}

// openAdmin connects (lazily) to the admin API at the flags' address or its
// default and bounds the call by their timeout. On a non-zero code the
// command exits with it: the problem has been printed. Otherwise done
// releases both.
func openAdmin(ctx context.Context, cmd string, f *adminFlagSet, lookup env, stderr io.Writer) (
	c adminv1.AdminServiceClient, target string, callCtx context.Context, done func(), code int) {
	target, err := adminAddr(*f.addr, lookup)
	if err != nil {
		fmt.Fprintf(stderr, "extauthz %s: %v\n", cmd, err)
		return nil, "", nil, nil, exitUsage
	}
	tc, err := f.tls.config()
	if err != nil {
		printProblems(stderr, cmd, err)
		return nil, "", nil, nil, exitUsage
	}
	timeout := *f.timeout
	conn, err := dialTLS(target, tc)
	if err != nil {
		fmt.Fprintf(stderr, "extauthz %s: %v\n", cmd, err)
		return nil, "", nil, nil, exitFailed
	}
	callCtx, cancel := context.WithTimeout(ctx, timeout)
	return adminv1.NewAdminServiceClient(conn), target, callCtx, func() { cancel(); conn.Close() }, exitOK
}

// defaultAdminAddr is the admin API's address without EXTAUTHZ_ADMIN_ADDR.
const defaultAdminAddr = "127.0.0.1:9193"

// adminAddr is flagValue, else EXTAUTHZ_ADMIN_ADDR, else defaultAdminAddr;
// an error when the environment switches the admin API off and no --addr
// says where to go.
func adminAddr(flagValue string, lookup env) (string, error) {
	if v := strings.TrimSpace(flagValue); v != "" {
		return v, nil
	}
	v, _ := lookup.Lookup("EXTAUTHZ_ADMIN_ADDR")
	switch v = strings.TrimSpace(v); {
	case v == "":
		return defaultAdminAddr, nil
	case strings.EqualFold(v, "off"):
		return "", errors.New("EXTAUTHZ_ADMIN_ADDR=off: the admin API is disabled; pass --addr to reach one")
	}
	return v, nil
}

// callError describes a failed admin call: its gRPC code and the server's
// message, cleaned, since the server may be any admin API.
func callError(err error) string {
	st := status.Convert(err)
	return st.Code().String() + ": " + admin.CleanText(st.Message())
}
