package logonce

import (
	"strings"
	"testing"

	"github.com/aind/aindfs/internal/logtest"
)

// TestWarnOnce: the first warning of a key is a warning, the next ones
// debug lines; another key warns again.
func TestWarnOnce(t *testing.T) {
	var buf logtest.Buffer
	l := New(logtest.Logger(&buf))
	l.Warn("a", "left out", "name", "a")
	l.Warn("a", "left out", "name", "a")
	l.Warn("b", "left out", "name", "b")
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{"level=WARN", "level=DEBUG", "level=WARN"}
	if len(lines) != len(want) {
		t.Fatalf("%d lines, want %d:\n%s", len(lines), len(want), buf.String())
	}
	for i, w := range want {
		if !strings.Contains(lines[i], w) {
			t.Errorf("line %d = %q, want %s", i, lines[i], w)
		}
	}
}
