package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
)

// onSignal calls do each time the process gets sig, until ctx ends. After
// that, while the mount unmounts, sig is still caught but only logged: left
// to its default action it would kill the process half-way through. Calling
// stop lets sig go.
func onSignal(ctx context.Context, log *slog.Logger, sig os.Signal, do func()) (stop func()) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, sig)
	quit := make(chan struct{})
	go func() {
		for {
			select {
			case <-quit:
				return
			case <-c:
				if ctx.Err() != nil {
					log.Info("signal ignored while unmounting", "signal", sig)
					continue
				}
				do()
			}
		}
	}()
	return func() { signal.Stop(c); close(quit) }
}
