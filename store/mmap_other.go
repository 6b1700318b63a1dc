//go:build !unix

package store

func mapChunk(n int) []byte { return make([]byte, n) }

// releasePages cannot give heap memory back: pools here keep what they
// hold.
func releasePages(b []byte) bool { return false }
