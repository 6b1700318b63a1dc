package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

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

// controlSocket is where a mount listens for commands (refresh): a Unix
// socket only the user who mounted can use. stats.json names it.
func controlSocket() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("aindfs-%d.sock", os.Getpid()))
}

// refreshAnswer is what the control socket answers to a refresh.
type refreshAnswer struct {
	Session string `json:"session,omitempty"`
	Answers int    `json:"answers"`
}

// serveControl answers POST /refresh[?session=ID] at path until stop.
func (g *globals) serveControl(path string, r *resolve.Resolver, m *fs.Mount) (stop func(), err error) {
	os.Remove(path) // left by a process that died with this process's ID
	l, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /refresh", func(w http.ResponseWriter, req *http.Request) {
		id := req.URL.Query().Get("session")
		if id != "" {
			s, err := resolve.ParseSession(id)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			id = s.ID()
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(refreshAnswer{Session: id, Answers: g.refresh(r, m, id)})
	})
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(l)
	return func() { srv.Close(); os.Remove(path) }, nil
}

func newRefreshCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "refresh MOUNTPOINT [SESSION]",
		Short: "Make a running mount forget what it learnt of sessions",
		Long: `Make the mount at MOUNTPOINT forget its answers about SESSION (any name of
it), or about every session, and the folder listings under it, so that an
asset made or uploaded since shows up now rather than when the answers
expire (--metadata-ttl). File contents are kept: they never change. Files
already open read on. Without SESSION this is what SIGHUP does. Only the user
who mounted (or root) can refresh.`,
		Example: `  aindfs refresh /mnt/sessions
  aindfs refresh /mnt/sessions ecephys_676909_2023-12-13_13-43-40`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{}
			if len(args) == 2 {
				s, err := resolve.ParseSession(args[1])
				if err != nil {
					return usageError{err}
				}
				q.Set("session", s.ID())
			}
			b, err := os.ReadFile(filepath.Join(args[0], statsPath))
			if errors.Is(err, os.ErrNotExist) {
				return usageError{fmt.Errorf("%s is not an aindfs mount: it has no %s", args[0], statsPath)}
			}
			if err != nil {
				return err
			}
			var st mountStats
			if err := json.Unmarshal(b, &st); err != nil || st.Control == "" {
				return fmt.Errorf("%s names no control socket (%v): send SIGHUP to the mount's process instead", filepath.Join(args[0], statsPath), err)
			}
			client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{
				DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
					var d net.Dialer
					return d.DialContext(ctx, "unix", st.Control)
				},
			}}
			resp, err := client.Post("http://aindfs/refresh?"+q.Encode(), "", nil)
			if err != nil {
				return fmt.Errorf("refresh %s through %s: %w", args[0], st.Control, err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("refresh %s: %s", args[0], strings.TrimSpace(string(body)))
			}
			var ans refreshAnswer
			if err := json.Unmarshal(body, &ans); err != nil {
				return fmt.Errorf("refresh %s: %w", args[0], err)
			}
			_, err = fmt.Fprintf(g.stdout, "refreshed %s: %d answers forgotten\n", orEvery(ans.Session), ans.Answers)
			return err
		},
	}
}

func orEvery(id string) string {
	if id == "" {
		return "every session"
	}
	return id
}
