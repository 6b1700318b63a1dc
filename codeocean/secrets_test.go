package codeocean_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aind/aindfs/codeocean"
	"github.com/aind/aindfs/codeocean/fake"
	"github.com/aind/aindfs/internal/logtest"
)

// credentialForms are the ways the token can come back from a server that
// echoes what it was sent, and a piece of each long enough to be a leak.
func credentialForms() map[string]string {
	basic := []byte(token + ":")
	std := base64.StdEncoding.EncodeToString(basic)
	return map[string]string{
		"raw":             token,
		"base64":          std,
		"base64 start":    std[:16],
		"base64 url":      base64.RawURLEncoding.EncodeToString(basic),
		"base64 escaped":  url.QueryEscape(std),
		"header":          "Basic " + std,
		"lowercased raw":  strings.ToLower(token),
		"base64 no colon": base64.StdEncoding.EncodeToString([]byte(token))[:16],
	}
}

// A server or proxy that echoes the request's Authorization header, in any
// body shape, must not put any form of the credential in errors or logs,
// even when the echo is cut short to fit an error message.
func TestEchoedCredentialsAreHidden(t *testing.T) {
	echo := func(kind string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			h := r.Header.Get("Authorization")
			b64 := strings.TrimPrefix(h, "Basic ")
			switch kind {
			case "json":
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(500)
				fmt.Fprintf(w, `{"message": "bad header Authorization: %s (token %s)"}`, h, strings.ReplaceAll(token, "_", `\u005f`))
			case "json escaped slashes":
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(400)
				fmt.Fprintf(w, `{"message": "got %s"}`, strings.ReplaceAll(strings.ReplaceAll(h, "/", `\/`), "+", `\u002b`))
			case "json array":
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(400)
				fmt.Fprintf(w, `[{"id": %q, "message": "refused for %s"}]`, token, url.QueryEscape(b64))
			case "html":
				w.Header().Set("Content-Type", "text/html")
				w.WriteHeader(502)
				fmt.Fprintf(w, "<html><head><title>502 Bad Gateway</title></head><body><pre>Authorization: %s</pre><p>%s</p></body></html>",
					strings.ReplaceAll(h, "+", "&#43;"), strings.ToLower(token))
			case "text cut":
				// The echo straddles the cut of a long message.
				w.WriteHeader(503)
				fmt.Fprintf(w, "%s%s %s", strings.Repeat("x", 290), b64, h)
			}
		}
	}
	for _, kind := range []string{"json", "json escaped slashes", "json array", "html", "text cut"} {
		t.Run(kind, func(t *testing.T) {
			srv := httptest.NewServer(echo(kind))
			defer srv.Close()
			logs := &logtest.Buffer{}
			c, err := codeocean.New(codeocean.Config{
				Domain: srv.URL, Token: token, Retry: fastRetry,
				Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.SearchDataAssets(context.Background(), codeocean.SearchParams{Query: "tag:raw"})
			if err == nil {
				t.Fatal("an error answer was taken for success")
			}
			if !strings.Contains(err.Error(), "<token>") {
				t.Errorf("error %q does not show where the credential was hidden", err)
			}
			for name, form := range credentialForms() {
				if strings.Contains(err.Error(), form) {
					t.Errorf("error shows the %s form of the credential: %v", name, err)
				}
				if strings.Contains(logs.String(), form) {
					t.Errorf("debug log shows the %s form of the credential:\n%s", name, logs)
				}
			}
		})
	}
}

// A redirect must not carry the token where the domain itself could not
// point: plain http to a host that is not this machine.
func TestRedirectToPlainHTTPIsRefused(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "http://codeocean.example.invalid/api/v1/data_assets/search", http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	c, err := codeocean.New(codeocean.Config{Domain: srv.URL, Token: token, Retry: codeocean.Retry{MaxAttempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.SearchDataAssets(context.Background(), codeocean.SearchParams{Query: "x"})
	if err == nil || !strings.Contains(err.Error(), "refused redirect to http://codeocean.example.invalid") || !strings.Contains(err.Error(), "use https") {
		t.Fatalf("err = %v, want the redirect refused", err)
	}
}

// A plain http domain that is not this machine is refused before any
// request, naming the variable to fix.
func TestPlainHTTPDomainIsRefused(t *testing.T) {
	_, err := codeocean.New(codeocean.Config{Domain: "http://codeocean.example.org", Token: token})
	if err == nil || !strings.Contains(err.Error(), "CODE_OCEAN_DOMAIN") || !strings.Contains(err.Error(), "http://codeocean.example.org") {
		t.Fatalf("err = %v, want the domain refused, naming it and its variable", err)
	}
}

// A stalled server ends in an error that names the server, the request and
// the time it was given, both when an attempt's own limit ends it and when
// the caller's deadline does.
func TestStalledServerErrorSaysWhereAndHowLong(t *testing.T) {
	t.Run("attempt limit", func(t *testing.T) {
		s := start(t, catalog(1), fake.Options{}, func(c *codeocean.Config) {
			c.Timeout = 100 * time.Millisecond
			// Room for both attempts on a loaded machine: the attempts, not
			// the call's budget, are what runs out here.
			c.Retry.MaxElapsed = 2 * time.Second
			c.Retry.MaxAttempts = 2
		})
		s.srv.FailNext(100, fake.Fault{Delay: time.Hour})
		_, err := s.client.SearchDataAssets(context.Background(), codeocean.SearchParams{Query: "subject id:676909"})
		if err == nil {
			t.Fatal("a stalled server answered")
		}
		for _, want := range []string{s.client.Domain(), "POST data_assets/search", `query "subject id:676909"`, "no answer within 100ms", "gave up after 2 attempts"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
	})
	t.Run("caller's deadline", func(t *testing.T) {
		s := start(t, catalog(1), fake.Options{}, func(c *codeocean.Config) { c.Timeout = time.Hour })
		s.srv.FailNext(100, fake.Fault{Delay: time.Hour})
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		_, err := s.client.GetDataAsset(ctx, "abc")
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want the deadline", err)
		}
		for _, want := range []string{s.client.Domain(), "GET data_assets/abc", "before the caller's deadline", "ms"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not say %q", err, want)
			}
		}
	})
}
