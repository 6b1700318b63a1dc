package store

// folderWins turns the pages of an S3 listing, in key order, into pages in
// which each name comes once. S3 allows an object "a" beside keys under
// "a/"; a folder can show only one of them, and the folder wins, since an
// object can be read only by its name while a folder's files have their
// own. A folder's key sorts after its name: "a" < "a.b" < "a/". So an
// object is held back until the listing has passed where its folder would
// be, which may be on the next page, and with it everything after it, so
// that pages still come in key order.
type folderWins struct {
	held     []ObjectInfo // not handed over yet, in key order
	last     string       // the greatest key so far
	shadowed []string     // objects left out for a folder of their name
}

// add takes the next page of the listing, the final one when final is
// set, and returns what can be handed over now (possibly nothing).
func (f *folderWins) add(page []ObjectInfo, final bool) []ObjectInfo {
	for _, o := range page {
		k := entryKey(o)
		if k <= f.last {
			continue // listed again (some servers repeat a prefix on the next page)
		}
		f.last = k
		if o.Dir {
			// An object of the folder's name is among the held entries,
			// after which come only names between it and the folder's.
			i := len(f.held) - 1
			for i >= 0 && f.held[i].Name > o.Name {
				i--
			}
			if i >= 0 && f.held[i].Name == o.Name && !f.held[i].Dir {
				f.held = append(f.held[:i], f.held[i+1:]...)
				f.shadowed = append(f.shadowed, o.Name)
			}
		}
		f.held = append(f.held, o)
	}
	cut := len(f.held)
	for i, o := range f.held {
		if !final && !o.Dir && o.Name+"/" > f.last {
			cut = i
			break
		}
	}
	out := f.held[:cut:cut]
	f.held = append([]ObjectInfo(nil), f.held[cut:]...)
	return out
}

// entryKey is an entry's key relative to its folder: a folder's ends in "/".
func entryKey(o ObjectInfo) string {
	if o.Dir {
		return o.Name + "/"
	}
	return o.Name
}
