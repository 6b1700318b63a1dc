// Package logonce says a thing in the log once: an entry left out of a
// listing is worth a warning the first time, not at every ls.
package logonce

import (
	"log/slog"

	lru "github.com/hashicorp/golang-lru/v2"
)

// remembered bounds what a Logger remembers having said; past it, the
// oldest are forgotten and may be said again.
const remembered = 4096

// Logger logs warnings once per key.
type Logger struct {
	log  *slog.Logger
	said *lru.Cache[string, struct{}]
}

// New returns a Logger writing to log.
func New(log *slog.Logger) *Logger {
	said, _ := lru.New[string, struct{}](remembered) // fails only for a size below 1
	return &Logger{log: log, said: said}
}

// Warn logs msg with args at warning level the first time key is given,
// and at debug level after.
func (l *Logger) Warn(key, msg string, args ...any) {
	if seen, _ := l.said.ContainsOrAdd(key, struct{}{}); seen {
		l.log.Debug(msg, args...)
		return
	}
	l.log.Warn(msg, args...)
}
