package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"

	adminv1 "extauthz/proto-gen/extauthz/admin/v1"
)

// DefaultMaxWatchers bounds concurrent WatchCredentials streams unless
// Options.MaxWatchers says otherwise: enough for operators and a dashboard,
// few enough that Notify's work (one map write and one non-blocking send per
// watcher) stays negligible.
const DefaultMaxWatchers = 16

// Options configures a Server.
type Options struct {
	// Credentials are every configured credential, in configured order;
	// required, with unique non-empty names.
	Credentials []Credential
	// Changes is where the refreshers report status changes; default a new
	// one (then the service calls Server.Notify).
	Changes *Changes
	// Logger receives one line per RefreshCredential; default slog.Default().
	Logger *slog.Logger
	// Now is the clock of RefreshCredential's rate limit; default time.Now.
	Now func() time.Time
	// MaxWatchers bounds concurrent WatchCredentials streams; 0 means
	// DefaultMaxWatchers.
	MaxWatchers int
}

// Server implements extauthz.admin.v1.AdminService over a fixed set of
// credentials.
type Server struct {
	adminv1.UnimplementedAdminServiceServer

	creds       []Credential
	byName      map[string]Credential
	changes     *Changes
	log         *slog.Logger
	now         func() time.Time
	maxWatchers int
	limiter     refreshLimiter

	closeOnce sync.Once
	closed    chan struct{} // closed by Close: watches end, new ones are refused
	health    *health.Server
}

var _ adminv1.AdminServiceServer = (*Server)(nil)

// NewServer checks o and applies its defaults.
func NewServer(o Options) (*Server, error) {
	var problems []error
	if len(o.Credentials) == 0 {
		problems = append(problems, errors.New("admin: at least one credential is required"))
	}
	if o.MaxWatchers < 0 {
		problems = append(problems, fmt.Errorf("admin: MaxWatchers %d is negative", o.MaxWatchers))
	}
	s := &Server{
		byName:      make(map[string]Credential, len(o.Credentials)),
		changes:     o.Changes,
		log:         o.Logger,
		now:         o.Now,
		maxWatchers: o.MaxWatchers,
		limiter:     refreshLimiter{last: make(map[string]time.Time, len(o.Credentials))},
		closed:      make(chan struct{}),
		health:      health.NewServer(),
	}
	for i, c := range o.Credentials {
		switch {
		case c == nil:
			problems = append(problems, fmt.Errorf("admin: credential #%d is nil", i))
		case c.Name() == "":
			problems = append(problems, fmt.Errorf("admin: credential #%d has no name", i))
		case s.byName[c.Name()] != nil:
			problems = append(problems, fmt.Errorf("admin: credential name %q appears twice", c.Name()))
		default:
			s.byName[c.Name()] = c
			s.creds = append(s.creds, c)
		}
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	if s.changes == nil {
		s.changes = new(Changes)
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.maxWatchers == 0 {
		s.maxWatchers = DefaultMaxWatchers
	}
	return s, nil
}

// Register registers the AdminService on g.
func (s *Server) Register(g grpc.ServiceRegistrar) {
	adminv1.RegisterAdminServiceServer(g, s)
}

// Notify tells the watchers that the named credential's status changed. The
// service calls it on every status change (or hands Changes.Observer to the
// refreshers); it never blocks.
func (s *Server) Notify(name string) { s.changes.Notify(name) }

// Close ends every WatchCredentials stream (UNAVAILABLE), refuses new ones
// and marks the admin health services NOT_SERVING. Call it before the gRPC
// server's GracefulStop, which would otherwise wait for the watchers to hang
// up. Idempotent.
func (s *Server) Close() {
	s.closeOnce.Do(func() {
		close(s.closed)
		s.health.Shutdown()
	})
}

// ListCredentials returns every credential in configured order.
func (s *Server) ListCredentials(context.Context, *adminv1.ListCredentialsRequest) (*adminv1.ListCredentialsResponse, error) {
	resp := &adminv1.ListCredentialsResponse{Credentials: make([]*adminv1.Credential, len(s.creds))}
	for i, c := range s.creds {
		resp.Credentials[i] = render(c)
	}
	return resp, nil
}
