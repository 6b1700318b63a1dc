package fs

import "time"

// dirAttr is the attributes of the folder at path, its inode number made
// from the path and identity.
func dirAttr(path string, modTime time.Time, valid time.Duration, identity ...string) Attr {
	return Attr{Kind: KindDir, Mode: dirMode, ModTime: modTime, Ino: inode(path, identity...), Valid: valid}
}

// inode numbers a node by its path and what identifies its contents, so the
// number is stable across runs and changes when the contents do. 0 and 1
// are reserved (1 is the root).
func inode(path string, identity ...string) uint64 {
	h := hashString(fnvOffset, path)
	for _, s := range identity {
		h = hashString(hashByte(h, 0), s)
	}
	return inodeOf(h)
}

// FNV-1a, 64 bits, written out so that a folder can hash its own path
// once and each of its thousands of entries only its name.
const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

func hashString(h uint64, s string) uint64 {
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * fnvPrime
	}
	return h
}

func hashByte(h uint64, b byte) uint64 { return (h ^ uint64(b)) * fnvPrime }

func hashInt(h uint64, n int64) uint64 {
	for i := 0; i < 8; i++ {
		h = hashByte(h, byte(n>>(8*i)))
	}
	return h
}

// inodeOf keeps clear of the reserved numbers 0 and 1 (the root).
func inodeOf(h uint64) uint64 {
	if h <= 1 {
		h += 2
	}
	return h
}
