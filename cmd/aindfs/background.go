package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
)

// A mount started with --background runs in a child process, which tells
// its parent through a pipe (file descriptor readyFD, named in readyFDVar)
// either "serving DIR" once the mount serves, or why it could not mount.
const (
	readyFDVar    = "AINDFS_READY_FD"
	readyFD       = 3 // the first of exec.Cmd.ExtraFiles
	servingPrefix = "serving "
)

// backgroundWait bounds how long mount --background waits for the mount to
// serve. Mounting takes well under a second; what can take longer (a
// catalog or S3 that does not answer) happens later, at the first lookup.
const backgroundWait = time.Minute

// takeReadyPipe returns the pipe to the parent of a background mount, or
// nil in any other process. The variable is removed so that processes the
// mount starts (fusermount3) do not take it for theirs.
func takeReadyPipe() *os.File {
	if os.Getenv(readyFDVar) != strconv.Itoa(readyFD) {
		return nil
	}
	os.Unsetenv(readyFDVar)
	syscall.CloseOnExec(readyFD)
	return os.NewFile(readyFD, "ready")
}

// serving says that the mount at dir serves: the ready line on stderr,
// READY to systemd when it started the process, and "serving" to the
// parent of a background mount.
func (g *globals) serving(dir string) {
	fmt.Fprintf(g.stderr, "aindfs: serving %s\n", dir)
	if g.ready != nil {
		fmt.Fprintf(g.ready, "%s%s\n", servingPrefix, dir)
		g.ready.Close()
		g.ready = nil
	}
	if _, err := daemon.SdNotify(false, daemon.SdNotifyReady); err != nil {
		g.log.Warn("could not tell systemd the mount is ready", "err", err)
	}
}

// notReady tells the parent of a background mount why the mount failed.
func (g *globals) notReady(err error) {
	if g.ready != nil {
		fmt.Fprintln(g.ready, err)
		g.ready.Close()
		g.ready = nil
	}
}

// mountInBackground runs the same command line in a new session, detached
// from the terminal, and returns once that process serves the mount (the
// ready line, exit 0) or has failed (its reason and exit status).
func (g *globals) mountInBackground(ctx context.Context) error {
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("--background: find this program: %w", err)
	}
	r, w, err := os.Pipe()
	if err != nil {
		return fmt.Errorf("--background: %w", err)
	}
	defer r.Close()
	null, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		w.Close()
		return fmt.Errorf("--background: %w", err)
	}
	child := exec.Command(exe, g.args...)
	child.Stdin, child.Stdout, child.Stderr = null, null, null
	child.ExtraFiles = []*os.File{w}
	child.Env = append(os.Environ(), readyFDVar+"="+strconv.Itoa(readyFD))
	child.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	err = child.Start()
	w.Close()
	null.Close()
	if err != nil {
		return fmt.Errorf("--background: start %s: %w", exe, err)
	}
	said := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(r)
		said <- strings.TrimSpace(string(b))
	}()

	timeout := time.NewTimer(backgroundWait)
	defer timeout.Stop()
	select {
	case msg := <-said:
		if dir, ok := strings.CutPrefix(msg, servingPrefix); ok {
			fmt.Fprintf(g.stderr, "aindfs: serving %s\n", dir)
			g.log.Info("serving in the background", "dir", dir, "pid", child.Process.Pid)
			return child.Process.Release()
		}
		werr := child.Wait()
		if msg == "" {
			msg = fmt.Sprintf("the background mount ended before serving (%v)", werr)
		}
		if child.ProcessState.ExitCode() == exitUsage {
			return usageError{errors.New(msg)}
		}
		return errors.New(msg)
	case <-timeout.C:
		err = fmt.Errorf("--background: not serving after %s; stopped the mount (pid %d)", backgroundWait, child.Process.Pid)
	case <-ctx.Done():
		err = fmt.Errorf("--background: interrupted before the mount served (%v); stopped it (pid %d)", context.Cause(ctx), child.Process.Pid)
	}
	// SIGTERM lets the child unmount what it may have mounted; it exits
	// within unmount's own bound, and is killed if it does not.
	child.Process.Signal(syscall.SIGTERM)
	exited := make(chan struct{})
	go func() { child.Wait(); close(exited) }()
	select {
	case <-exited:
	case <-time.After(10 * time.Second):
		child.Process.Kill()
		<-exited
	}
	return err
}
