package httpsonly_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aind/aindfs/internal/httpsonly"
)

var rule = httpsonly.Rule{PlainHTTP: func(host string) string {
	return fmt.Sprintf("plain http to %s: use https", host)
}}

func TestCheck(t *testing.T) {
	tests := []struct{ url, wantErr string }{
		{"https://api.example.org", ""},
		{"https://10.0.0.1", ""},
		{"http://127.0.0.1:8080", ""},
		{"http://127.5.0.1", ""},
		{"http://localhost:8080", ""},
		{"http://LOCALHOST", ""},
		{"http://[::1]:8080", ""},
		{"http://[::ffff:127.0.0.1]", ""},
		{"http://api.example.org", "plain http to api.example.org: use https"},
		{"http://10.0.0.1:8080", "plain http to 10.0.0.1: use https"},
		{"http://localhost.example.org", "plain http to localhost.example.org: use https"},
		{"http://127.0.0.1.example.org", "plain http to 127.0.0.1.example.org: use https"},
		{"http://[::ffff:10.0.0.1]", "plain http to ::ffff:10.0.0.1: use https"},
		{"ftp://api.example.org", `scheme must be https, not "ftp"`},
		{"ws://localhost", `scheme must be https, not "ws"`},
	}
	for _, tt := range tests {
		u, err := url.Parse(tt.url)
		if err != nil {
			t.Fatal(err)
		}
		err = rule.Check(u)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("Check(%s): %v, want accepted", tt.url, err)
		case tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr):
			t.Errorf("Check(%s) = %v, want %q", tt.url, err, tt.wantErr)
		}
	}
}

// A redirect may not lead where the address itself could not be; one to
// this machine is followed.
func TestClientRedirects(t *testing.T) {
	var landed atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		landed.Add(1)
	}))
	defer target.Close()
	tests := []struct{ to, wantErr string }{
		{target.URL + "/here", ""},
		{"http://api.example.invalid/there", "refused redirect to http://api.example.invalid/there: plain http to api.example.invalid: use https"},
		{"ftp://api.example.invalid/there", `refused redirect to ftp://api.example.invalid/there: scheme must be https, not "ftp"`},
	}
	for _, tt := range tests {
		srv := httptest.NewServer(http.RedirectHandler(tt.to, http.StatusFound))
		before := landed.Load()
		resp, err := rule.Client(nil).Get(srv.URL)
		srv.Close()
		if tt.wantErr == "" {
			if err != nil {
				t.Errorf("redirect to %s: %v", tt.to, err)
				continue
			}
			resp.Body.Close()
			if landed.Load() != before+1 {
				t.Errorf("redirect to %s was not followed", tt.to)
			}
			continue
		}
		if err == nil {
			resp.Body.Close()
			t.Errorf("redirect to %s followed, want %q", tt.to, tt.wantErr)
			continue
		}
		if !errors.Is(err, httpsonly.ErrRedirect) || !strings.Contains(err.Error(), tt.wantErr) {
			t.Errorf("redirect to %s: %v, want ErrRedirect saying %q", tt.to, err, tt.wantErr)
		}
	}
}

// The caller's client keeps its own redirect policy, and is not changed.
func TestClientKeepsCallerPolicy(t *testing.T) {
	stop := errors.New("no redirects here")
	own := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return stop }}
	target := httptest.NewServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer target.Close()
	srv := httptest.NewServer(http.RedirectHandler(target.URL, http.StatusFound))
	defer srv.Close()
	c := rule.Client(own)
	if c == own {
		t.Fatal("Client returned the caller's client, not a copy")
	}
	if _, err := c.Get(srv.URL); !errors.Is(err, stop) {
		t.Errorf("err %v, want the caller's policy to apply", err)
	}
	if err := own.CheckRedirect(nil, nil); err != stop {
		t.Errorf("caller's policy changed: %v", err)
	}
}
