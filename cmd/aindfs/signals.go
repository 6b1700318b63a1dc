package main

import (
	"context"
	"os"
	"os/signal"
)

// onSignal calls do each time the process gets sig, until ctx ends.
func onSignal(ctx context.Context, sig os.Signal, do func()) {
	c := make(chan os.Signal, 1)
	signal.Notify(c, sig)
	go func() {
		defer signal.Stop(c)
		for {
			select {
			case <-ctx.Done():
				return
			case <-c:
				do()
			}
		}
	}()
}
