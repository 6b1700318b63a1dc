package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/spf13/pflag"
	"gopkg.in/natefinch/lumberjack.v2"
)

// defaultLogLevel shows warnings and errors: a mount that works says
// nothing but its ready line.
const defaultLogLevel = slog.LevelWarn

// A log file is rotated at logFileMaxMB (lumberjack's unit), keeping
// logFileBackups old files: a mount that runs for weeks at debug level
// uses at most about 600 MB of disk for its log.
const (
	logFileMaxMB   = 100
	logFileBackups = 5
)

// logLevels are the levels in the order SIGUSR2 steps through them.
var logLevels = []slog.Level{slog.LevelDebug, slog.LevelInfo, slog.LevelWarn, slog.LevelError}

// logFlags say where the log goes, in which form, from which level. The
// level is a LevelVar so that it can change while a mount runs.
type logFlags struct {
	logLevel  string
	logFormat string
	logFile   string
	level     slog.LevelVar
	file      *lumberjack.Logger // nil: the log goes to stderr
}

func (f *logFlags) register(flags *pflag.FlagSet) {
	flags.StringVar(&f.logLevel, "log-level", strings.ToLower(defaultLogLevel.String()), "log verbosity: debug, info, warn or error (a mount steps through them on SIGUSR2)")
	flags.StringVar(&f.logFormat, "log-format", "text", "text (key=value) or json (one object a line)")
	flags.StringVar(&f.logFile, "log-file", "", fmt.Sprintf("write the log to this file instead of stderr, rotated at %d MB (%d old files kept)", logFileMaxMB, logFileBackups))
}

// openLog builds g.log from the log flags; the errors name the flag.
func (g *globals) openLog() error {
	if err := g.level.UnmarshalText([]byte(g.logLevel)); err != nil {
		return fmt.Errorf("--log-level %q: want debug, info, warn or error", g.logLevel)
	}
	w := g.stderr
	if g.logFile != "" {
		g.file = &lumberjack.Logger{Filename: g.logFile, MaxSize: logFileMaxMB, MaxBackups: logFileBackups}
		// lumberjack opens the file at the first write: try it now, so
		// that a path that cannot be written fails the command at once.
		if _, err := g.file.Write(nil); err != nil {
			g.file = nil
			return fmt.Errorf("--log-file %s: %w", g.logFile, err)
		}
		w = g.file
	}
	opts := &slog.HandlerOptions{Level: &g.level}
	switch g.logFormat {
	case "text":
		g.log = slog.New(slog.NewTextHandler(w, opts))
	case "json":
		g.log = slog.New(slog.NewJSONHandler(w, opts))
	default:
		return fmt.Errorf("--log-format %q: want text or json", g.logFormat)
	}
	return nil
}

// closeLog closes the log file, if there is one.
func (g *globals) closeLog() {
	if g.file != nil {
		g.file.Close()
	}
}

// nextLogLevel is the level after l in logLevels, back to the first
// after the last.
func nextLogLevel(l slog.Level) slog.Level {
	for i, x := range logLevels {
		if x == l {
			return logLevels[(i+1)%len(logLevels)]
		}
	}
	return logLevels[0]
}

// stepLogLevel moves the log level to the next one, and logs the change
// at the new level, so that it shows whichever level it is.
func (g *globals) stepLogLevel() {
	next := nextLogLevel(g.level.Level())
	g.level.Set(next)
	g.log.Log(context.Background(), next, "log level changed", "level_now", strings.ToLower(next.String()))
}
