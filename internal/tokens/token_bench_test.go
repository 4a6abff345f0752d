package tokens

import (
	"testing"
	"time"

	"extauthz/internal/secret"
)

// BenchmarkRefresherToken measures the request path: one atomic load, no
// allocation.
func BenchmarkRefresherToken(b *testing.B) {
	r, err := NewRefresher(RefresherOptions{Source: &fakeSource{}, Exchanger: &fakeExchanger{lifetime: time.Hour}})
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	tok := newToken(Grant{AccessToken: secret.New("bench"), ExpiresIn: time.Hour}, now, 1)
	r.state.Store(&snapshot{token: tok, next: now.Add(45 * time.Minute)})
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if got, _ := r.Token(now); got != tok {
			b.Fatal("wrong token")
		}
	}
}

func TestTokenDoesNotAllocate(t *testing.T) {
	r, err := NewRefresher(RefresherOptions{Source: &fakeSource{}, Exchanger: &fakeExchanger{lifetime: time.Hour}})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	r.state.Store(&snapshot{token: newToken(Grant{AccessToken: secret.New("x"), ExpiresIn: time.Hour}, now, 1)})
	if n := testing.AllocsPerRun(100, func() { r.Token(now) }); n != 0 {
		t.Errorf("Token allocates %v times per call", n)
	}
	if n := testing.AllocsPerRun(100, func() { r.Token(now.Add(2 * time.Hour)) }); n != 0 {
		t.Errorf("Token (denied) allocates %v times per call", n)
	}
}
