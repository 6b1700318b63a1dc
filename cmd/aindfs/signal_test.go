package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aind/aindfs/internal/logtest"
)

// helperSignalsVar makes the test binary run helperSignals instead of the
// tests: a mount command whose unmount never ends.
const helperSignalsVar = "AINDFS_TEST_HELPER_SIGNALS"

func TestMain(m *testing.M) {
	if os.Getenv(helperSignalsVar) != "" {
		os.Exit(helperSignals())
	}
	// The process a test's mount --background starts runs this binary
	// again with the command line of aindfs.
	if os.Getenv(readyFDVar) != "" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// stuckMount is a mount whose unmount hangs, as one can when the kernel
// side of a FUSE mount is stuck.
type stuckMount struct{}

func (stuckMount) Wait() { time.Sleep(time.Hour) }

func (stuckMount) Unmount() error {
	fmt.Println("unmounting")
	time.Sleep(time.Hour)
	return nil
}

// helperSignals serves a stuckMount as `aindfs mount` does, catching
// SIGINT and SIGTERM, and SIGHUP and SIGUSR2 (printing what they would do,
// and logging to stdout once they are ignored).
func helperSignals() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := logtest.Logger(os.Stdout)
	defer onSignal(ctx, log, syscall.SIGHUP, func() { fmt.Println("refresh") })()
	defer onSignal(ctx, log, syscall.SIGUSR2, func() { fmt.Println("log level") })()
	fmt.Println("serving")
	if err := serveUntilDone(ctx, stop, logtest.Logger(io.Discard), "/mnt", stuckMount{}); err != nil {
		fmt.Println(err)
	}
	return 0
}

// TestSecondSignalEndsStuckUnmount: the first Ctrl-C starts the unmount; when
// that hangs, SIGHUP and SIGUSR2 are logged and ignored, and a second Ctrl-C
// ends the process at once.
func TestSecondSignalEndsStuckUnmount(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperSignalsVar+"=1")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// A helper that neither prints nor dies would leave a read waiting
	// forever: after a minute it is killed, and the read fails.
	watchdog := time.AfterFunc(time.Minute, func() { cmd.Process.Kill() })
	defer watchdog.Stop()
	done := make(chan error, 1)
	lines := bufio.NewScanner(out)
	expect := func(want string) {
		t.Helper()
		if !lines.Scan() || lines.Text() != want {
			cmd.Process.Kill()
			t.Fatalf("helper printed %q (%v), want %q", lines.Text(), lines.Err(), want)
		}
	}
	expect("serving")
	cmd.Process.Signal(syscall.SIGHUP)
	expect("refresh")
	cmd.Process.Signal(os.Interrupt)
	expect("unmounting")
	// SIGHUP and SIGUSR2 during the unmount neither act nor kill.
	for _, sig := range []syscall.Signal{syscall.SIGHUP, syscall.SIGUSR2} {
		cmd.Process.Signal(sig)
		if !lines.Scan() || !strings.Contains(lines.Text(), "signal ignored while unmounting") || !strings.Contains(lines.Text(), sig.String()) {
			cmd.Process.Kill()
			t.Fatalf("after %v during the unmount the helper printed %q (%v), want the signal logged as ignored", sig, lines.Text(), lines.Err())
		}
	}
	go func() { done <- cmd.Wait() }()
	cmd.Process.Signal(os.Interrupt)
	select {
	case err := <-done:
		var exit *exec.ExitError
		if !errors.As(err, &exit) {
			t.Fatalf("after the second Ctrl-C the process exited with %v, want death by SIGINT", err)
		}
		if ws, ok := exit.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() || ws.Signal() != syscall.SIGINT {
			t.Errorf("after the second Ctrl-C the process ended with %v, want death by SIGINT", err)
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Fatal("the process still ran 20 s after a second Ctrl-C")
	}
}
