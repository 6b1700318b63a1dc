//go:build !linux

package store

import "os"

// punchHole cannot give space back here: the bytes stay until the file goes.
func punchHole(f *os.File, off, n int64) {}

// willNeed leaves reading ahead to the system.
func willNeed(f *os.File, off, n int64) {}
