package retry

import (
	"testing"
	"time"
)

func TestWaitStaysUnderItsCeiling(t *testing.T) {
	p := Policy{BaseDelay: 100 * time.Millisecond, MaxDelay: time.Second, MaxRetryAfter: 3 * time.Second}
	ceilings := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, c := range ceilings {
		for range 200 {
			if w := p.Wait(i+1, 0, false); w < 0 || w > c*time.Millisecond {
				t.Fatalf("attempt %d: wait %v outside [0, %v]", i+1, w, c*time.Millisecond)
			}
		}
	}
	if w := p.Wait(1, 2*time.Second, true); w != 2*time.Second {
		t.Errorf("Retry-After 2s: wait %v", w)
	}
	if w := p.Wait(1, time.Hour, true); w != 3*time.Second {
		t.Errorf("Retry-After 1h: wait %v, want the 3s cap", w)
	}
}

func TestRetryAfter(t *testing.T) {
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		in   string
		want time.Duration
		ok   bool
	}{
		{"", 0, false},
		{"3", 3 * time.Second, true},
		{"0.5", 500 * time.Millisecond, true},
		{"-1", 0, false},
		{"soon", 0, false},
		{"Mon, 01 Jan 2024 00:00:10 GMT", 10 * time.Second, true},
		{"Sun, 31 Dec 2023 23:00:00 GMT", 0, true},
	}
	for _, tt := range tests {
		got, ok := RetryAfter(tt.in, now)
		if got != tt.want || ok != tt.ok {
			t.Errorf("%q: %v %v, want %v %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestStatus(t *testing.T) {
	for code, want := range map[int]bool{429: true, 500: true, 502: true, 503: true, 504: true, 400: false, 404: false, 501: false} {
		if Status(code) != want {
			t.Errorf("%d: %v", code, !want)
		}
	}
}
