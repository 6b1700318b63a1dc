package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/aind/aindfs/fs"
	"github.com/spf13/cobra"
)

func newLsCmd(g *globals) *cobra.Command {
	var (
		src    sourceFlags
		long   bool
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:   "ls [-l] PATH...",
		Short: "List a folder of the tree, without FUSE",
		Long: `List each PATH of the tree the mount serves (sessions/, subjects/, assets/), for
machines where FUSE is not available. PATH is relative to the top of the tree,
such as sessions/<session-id>/raw/ecephys. Without -l, a link to a folder
is listed as that folder; with -l, as the link, unless PATH ends in /.`,
		Example: `  aindfs ls sessions
  aindfs ls -l sessions/ecephys_676909_2023-12-13_13-43-40/raw
  aindfs ls -l --data testdata/data --offline sessions/ecephys_676909_2023-12-13_13-43-40/`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			tree, done, err := g.openTree(cmd.Context(), src)
			if err != nil {
				return err
			}
			defer done()
			for i, p := range args {
				if asJSON {
					if err := listJSON(cmd.Context(), g.stdout, tree, p, long); err != nil {
						return err
					}
					continue
				}
				if len(args) > 1 {
					if i > 0 {
						fmt.Fprintln(g.stdout)
					}
					fmt.Fprintf(g.stdout, "%s:\n", p)
				}
				if err := listPath(cmd.Context(), g.stdout, tree, p, long); err != nil {
					return err
				}
			}
			return nil
		},
	}
	src.register(cmd, defaultDataDir())
	cmd.Flags().BoolVarP(&long, "long", "l", false, "show mode, size and modification time; links with their targets")
	cmd.Flags().BoolVar(&asJSON, "json", false, `one JSON object an entry: {"path", "name", "type": dir|file|symlink, "size", "mode", "mtime", "target"}`)
	return cmd
}

// openTree builds the tree over the sources the flags name.
func (g *globals) openTree(ctx context.Context, src sourceFlags) (*fs.Tree, func(), error) {
	sources, err := g.openSources(ctx, src)
	if err != nil {
		return nil, nil, err
	}
	tree := fs.New(fs.Config{Resolver: sources.resolver, Objects: fs.StoreObjects(sources.store), Logger: g.log})
	return tree, sources.Close, nil
}

// treeError makes a path the user typed wrong (absent, malformed, a file
// for a folder) exit 2, and anything else (a network failure) exit 1.
func treeError(err error) error {
	for _, e := range []error{fs.ErrNotExist, fs.ErrInvalidName, fs.ErrNameTooLong, fs.ErrNotDir, fs.ErrIsDir, fs.ErrLoop} {
		if errors.Is(err, e) {
			return usageError{err}
		}
	}
	return err
}

// walkFile returns the file at path, links followed, for the commands that
// print one file at a time (cat, url): a folder there is a usage mistake.
func walkFile(ctx context.Context, tree *fs.Tree, path string) (fs.File, error) {
	n, err := tree.Walk(ctx, path, true)
	if err != nil {
		return nil, treeError(err)
	}
	f, ok := n.(fs.File)
	if !ok {
		return nil, usageError{&fs.PathError{Path: n.Path(), Err: fs.ErrIsDir}}
	}
	return f, nil
}

// entries returns the entries ls shows for path: a folder's, or the node
// itself. A link at path is followed unless long is set and path does not
// end in "/", as ls -l does.
func entries(ctx context.Context, tree *fs.Tree, path string, long bool) ([]fs.Node, error) {
	follow := !long || strings.HasSuffix(path, "/")
	n, err := tree.Walk(ctx, path, follow)
	if err != nil {
		return nil, treeError(err)
	}
	if d, ok := n.(fs.Dir); ok {
		nodes, err := d.ReadDir(ctx)
		if err != nil {
			return nil, treeError(err)
		}
		return nodes, nil
	}
	return []fs.Node{n}, nil
}

// listEntry is one entry as ls --json prints it.
type listEntry struct {
	Path    string    `json:"path"`
	Name    string    `json:"name"`
	Type    string    `json:"type"`
	Size    int64     `json:"size"`
	Mode    string    `json:"mode"`
	ModTime time.Time `json:"mtime"`
	Target  string    `json:"target,omitempty"`
}

var kindNames = map[fs.Kind]string{fs.KindDir: "dir", fs.KindFile: "file", fs.KindSymlink: "symlink"}

// listJSON writes the entries of path, one JSON object a line.
func listJSON(ctx context.Context, w io.Writer, tree *fs.Tree, path string, long bool) error {
	nodes, err := entries(ctx, tree, path, long)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	for _, n := range nodes {
		a := n.Attr()
		e := listEntry{Path: n.Path(), Name: n.Name(), Type: kindNames[a.Kind], Size: a.Size,
			Mode: fmt.Sprintf("%04o", a.Mode.Perm()), ModTime: a.ModTime.UTC()}
		if l, ok := n.(fs.Symlink); ok {
			e.Target = l.Target()
		}
		if err := enc.Encode(e); err != nil {
			return err
		}
	}
	return nil
}

func listPath(ctx context.Context, w io.Writer, tree *fs.Tree, path string, long bool) error {
	entries, err := entries(ctx, tree, path, long)
	if err != nil {
		return err
	}
	if !long {
		for _, e := range entries {
			if _, err := fmt.Fprintln(w, e.Name()); err != nil {
				return err
			}
		}
		return nil
	}
	width := 1
	for _, e := range entries {
		width = max(width, len(fmt.Sprint(e.Attr().Size)))
	}
	for _, e := range entries {
		if _, err := fmt.Fprintln(w, longLine(e, width)); err != nil {
			return err
		}
	}
	return nil
}

// longLine formats an entry as ls -l does: mode, size, time, name.
func longLine(n fs.Node, width int) string {
	a := n.Attr()
	kind := "-"
	switch a.Kind {
	case fs.KindDir:
		kind = "d"
	case fs.KindSymlink:
		kind = "l"
	}
	line := fmt.Sprintf("%s%s %*d %s %s", kind, a.Mode.Perm().String()[1:], width, a.Size,
		a.ModTime.UTC().Format("2006-01-02 15:04"), n.Name())
	if l, ok := n.(fs.Symlink); ok {
		line += " -> " + l.Target()
	}
	return line
}
