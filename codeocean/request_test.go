package codeocean

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"5", 5 * time.Second, true},
		{" 0 ", 0, true},
		{"1.5", 1500 * time.Millisecond, true},
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
		{now.Add(-time.Hour).Format(http.TimeFormat), 0, true},
		{"", 0, false},
		{"-1", 0, false},
		{"soon", 0, false},
	}
	for _, tt := range tests {
		got, ok := parseRetryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("parseRetryAfter(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestBackoffIsCappedJitter(t *testing.T) {
	c := &Client{retry: Retry{BaseDelay: 10 * time.Millisecond, MaxDelay: 80 * time.Millisecond, MaxRetryAfter: time.Second}.withDefaults()}
	ceilings := []time.Duration{10, 20, 40, 80, 80, 80}
	for i, ceiling := range ceilings {
		attempt := i + 1
		ceiling *= time.Millisecond
		var longest time.Duration
		for range 200 {
			w := c.backoff(attempt, outcome{})
			if w < 0 || w > ceiling {
				t.Fatalf("attempt %d: wait %v outside [0, %v]", attempt, w, ceiling)
			}
			longest = max(longest, w)
		}
		// With 200 draws, never reaching past half the ceiling would mean no jitter range at all.
		if longest <= ceiling/2 {
			t.Errorf("attempt %d: longest of 200 waits %v, want some above %v", attempt, longest, ceiling/2)
		}
	}
	if w := c.backoff(1, outcome{hasAfter: true, retryAfter: 3 * time.Second}); w != time.Second {
		t.Errorf("Retry-After 3s with a 1s cap: wait %v", w)
	}
	if w := c.backoff(1, outcome{hasAfter: true, retryAfter: 300 * time.Millisecond}); w != 300*time.Millisecond {
		t.Errorf("Retry-After 300ms: wait %v", w)
	}
}

func TestBaseURL(t *testing.T) {
	tests := []struct{ domain, want, wantErr string }{
		{"", "https://codeocean.allenneuraldynamics.org/api/v1/", ""},
		{"https://codeocean.example.org", "https://codeocean.example.org/api/v1/", ""},
		{"https://codeocean.example.org/", "https://codeocean.example.org/api/v1/", ""},
		{"codeocean.example.org", "https://codeocean.example.org/api/v1/", ""},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080/api/v1/", ""},
		{"https://example.org/co", "https://example.org/co/api/v1/", ""},
		{"http://localhost:8080", "http://localhost:8080/api/v1/", ""},
		{"http://[::1]:8080", "http://[::1]:8080/api/v1/", ""},
		{"http://127.5.0.1", "http://127.5.0.1/api/v1/", ""},
		{"http://codeocean.example.org", "", "plain http would send the access token unencrypted"},
		{"http://10.0.0.1:8080", "", "use https"},
		{"http://localhost.example.org", "", "use https"},
		{"http://[::ffff:10.0.0.1]", "", "use https"},
		{"ftp://example.org", "", "scheme"},
		{"https://", "", "no host"},
		{"https://user:cop_secret@example.org", "", "credentials"},
	}
	for _, tt := range tests {
		u, err := baseURL(tt.domain)
		switch {
		case tt.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("baseURL(%q) error = %v, want one mentioning %q", tt.domain, err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), "cop_secret") {
				t.Errorf("baseURL(%q) error shows the password: %v", tt.domain, err)
			}
		case err != nil:
			t.Errorf("baseURL(%q): %v", tt.domain, err)
		case u.String() != tt.want:
			t.Errorf("baseURL(%q) = %s, want %s", tt.domain, u, tt.want)
		}
	}
}

func TestSearchSummarySaysWhatWasAsked(t *testing.T) {
	p := SearchParams{Query: "subject id:676909", Limit: 100, Offset: 200, NextToken: PageToken{Value: "opaque-secretish"}, Type: "dataset"}
	got := p.summary()
	want := `query "subject id:676909" limit=100 offset=200 next_token=set type=dataset`
	if got != want {
		t.Errorf("summary = %s, want %s", got, want)
	}
}
