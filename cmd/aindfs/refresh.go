package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/aind/aindfs/fs"
	"github.com/aind/aindfs/resolve"
)

// refresh makes a mount forget what it learnt of session id ("" for all):
// the resolver's answers, then the folders' listings and the kernel's
// entries, in that order, so that the next look finds the new answers.
func (g *globals) refresh(r *resolve.Resolver, m *fs.Mount, id string) int {
	var n int
	if id == "" {
		n = r.Forget()
	} else {
		n = r.Forget(resolve.MustParseSession(id))
	}
	m.Refresh(id)
	g.log.Info("refreshed: answers and listings forgotten", "session", orNone(id), "answers", n)
	return n
}

// refreshOnSignal refreshes every session each time the process gets
// SIGHUP, until ctx ends.
func (g *globals) refreshOnSignal(ctx context.Context, r *resolve.Resolver, m *fs.Mount) {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGHUP)
	go func() {
		defer signal.Stop(sig)
		for {
			select {
			case <-ctx.Done():
				return
			case <-sig:
				g.refresh(r, m, "")
			}
		}
	}()
}
