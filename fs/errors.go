package fs

import (
	"context"
	"errors"
	"fmt"
	iofs "io/fs"
	"strings"
	"unicode/utf8"
)

// Errors the tree returns (wrapped, with the path and the cause).
var (
	// ErrNotExist: nothing at this path. It is io/fs.ErrNotExist, so
	// os.IsNotExist and errors.Is(err, fs.ErrNotExist) both recognise it.
	ErrNotExist = iofs.ErrNotExist
	// ErrInvalidName: a name no path can hold (NUL, '/').
	ErrInvalidName = errors.New("invalid name")
	// ErrNameTooLong: a name longer than MaxNameLen bytes.
	ErrNameTooLong = errors.New("name too long")
	// ErrNotDir: a path goes through something that is not a folder.
	ErrNotDir = errors.New("not a folder")
	// ErrIsDir: a folder where a file was expected.
	ErrIsDir = errors.New("is a folder")
	// ErrLoop: too many symbolic links on the way.
	ErrLoop = errors.New("too many levels of symbolic links")
)

// MaxNameLen is the longest name of an entry, in bytes, as on Linux
// filesystems; S3 keys allow longer elements, but tools do not expect them.
const MaxNameLen = 255

// PathError is an error about one path of the tree.
type PathError struct {
	Path string
	Err  error
}

func (e *PathError) Error() string {
	if e.Path == "" {
		return "/: " + e.Err.Error()
	}
	return e.Path + ": " + e.Err.Error()
}

func (e *PathError) Unwrap() error { return e.Err }

// notExist is the error for name missing from folder dir, with why.
func notExist(dir, name string, why error) error {
	if why == nil {
		return &PathError{Path: join(dir, name), Err: ErrNotExist}
	}
	return &PathError{Path: join(dir, name), Err: fmt.Errorf("%w: %w", ErrNotExist, why)}
}

// lookup is d.Lookup(name) for a name from outside (the kernel, a path
// given to Walk): names no entry can have are refused here, before
// anything is asked.
func lookup(ctx context.Context, d Dir, name string) (Node, error) {
	if err := checkName(d.Path(), name); err != nil {
		return nil, err
	}
	return d.Lookup(ctx, name)
}

// checkName refuses names no entry can have.
func checkName(dir, name string) error {
	var why error
	switch {
	case name == "" || name == "." || name == "..":
		return notExist(dir, name, nil)
	case len(name) > MaxNameLen:
		why = fmt.Errorf("%w: %d bytes, at most %d", ErrNameTooLong, len(name), MaxNameLen)
	case strings.ContainsAny(name, "/\x00"):
		why = fmt.Errorf("%w: %q holds '/' or NUL", ErrInvalidName, name)
	case !utf8.ValidString(name):
		// A name the tree cannot hold, as a session name that does not
		// parse: nothing is there.
		return notExist(dir, name, fmt.Errorf("%q is not UTF-8", name))
	default:
		return nil
	}
	return &PathError{Path: dir, Err: why}
}

// isNotFound reports whether err means there is nothing behind a name, as
// opposed to a failure to find out. The resolver's and the store's errors
// say so as fs's do: they match io/fs.ErrNotExist.
func isNotFound(err error) bool { return errors.Is(err, ErrNotExist) }

// pathError is err at path, met while doing what the format and args
// say: an answer that nothing is there is passed on as it is (it says
// what was looked for), any other failure says what was being done.
func pathError(path string, err error, format string, args ...any) error {
	if isNotFound(err) {
		return &PathError{Path: path, Err: err}
	}
	return &PathError{Path: path, Err: fmt.Errorf(format+": %w", append(args, err)...)}
}
