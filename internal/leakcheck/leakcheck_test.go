package leakcheck

import "testing"

func TestFind(t *testing.T) {
	cases := []struct {
		text  string
		known []string
		leaks int
	}{
		{"nothing here", nil, 0},
		{"authorization: Bearer sk-ant-oat01-… (fingerprint 1a2b3c4d)", nil, 0},
		{"token sk-ant-oat01-AbCdEf123", nil, 1},
		{"key sk-ant-api03-xyz_1234", nil, 1},
		{"jwt eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ4In0.sig", nil, 1},
		{"request token abc123secret", []string{"abc123secret"}, 1},
		{"line1\nabc", []string{"", "zzz"}, 0},
	}
	for _, c := range cases {
		if got := Find(c.text, c.known...); len(got) != c.leaks {
			t.Errorf("Find(%q) = %q, want %d leaks", c.text, got, c.leaks)
		}
	}
	if got := Find("a\nb sk-ant-oat01-AbCdEf123"); len(got) != 1 || got[0] != "credential-shaped text on line 2" {
		t.Errorf("description = %q", got)
	}
}

func TestRecorder(t *testing.T) {
	var r Recorder
	r.Remember("s3cret-value")
	r.Write([]byte("all fine\n"))
	if leaks := r.Leaks(); len(leaks) != 0 {
		t.Fatalf("leaks in clean output: %v", leaks)
	}
	r.Write([]byte("oops s3cret-value\n"))
	if leaks := r.Leaks(); len(leaks) != 1 {
		t.Fatalf("leaks = %v, want one", leaks)
	}
}
