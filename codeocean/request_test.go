package codeocean

import (
	"strings"
	"testing"
)

func TestBaseURL(t *testing.T) {
	tests := []struct{ domain, want, wantErr string }{
		{"", "https://codeocean.allenneuraldynamics.org/api/v1/", ""},
		{"https://codeocean.example.org", "https://codeocean.example.org/api/v1/", ""},
		{"https://codeocean.example.org/", "https://codeocean.example.org/api/v1/", ""},
		{"codeocean.example.org", "https://codeocean.example.org/api/v1/", ""},
		{"http://127.0.0.1:8080", "http://127.0.0.1:8080/api/v1/", ""},
		{"https://example.org/co", "https://example.org/co/api/v1/", ""},
		{"http://localhost:8080", "http://localhost:8080/api/v1/", ""},
		{"http://codeocean.example.org", "", "plain http would send the access token unencrypted"},
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
