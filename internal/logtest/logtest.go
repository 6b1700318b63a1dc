// Package logtest collects the log output of code under test, so that
// tests can check what it said. It imports nothing of the project, so any
// package's tests may use it.
package logtest

import (
	"bytes"
	"io"
	"log/slog"
	"sync"
)

// Buffer holds what is written to it. Loggers on several goroutines may
// write while a test reads it.
type Buffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *Buffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *Buffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Logger returns a logger that writes every record, debug ones included,
// as text lines to w.
func Logger(w io.Writer) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
