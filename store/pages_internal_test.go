package store

import (
	"slices"
	"strings"
	"testing"
)

// TestFolderWins: whatever the page boundaries, a listing hands over each
// name once, the folder winning over an object of its name, in key order,
// and holds back no more than it must.
func TestFolderWins(t *testing.T) {
	obj := func(name string) ObjectInfo { return ObjectInfo{Name: name, Size: 1, ETag: name} }
	dir := func(name string) ObjectInfo { return ObjectInfo{Name: name, Dir: true} }
	tests := []struct {
		name  string
		pages [][]ObjectInfo
		want  []string // keys of each page handed over, joined by " "
	}{
		{"object, then its folder on the next page",
			[][]ObjectInfo{{obj("0"), obj("a"), obj("a.b")}, {dir("a"), obj("b")}},
			[]string{"0", "a.b a/ b"}},
		{"object ending a page, its folder after another page",
			[][]ObjectInfo{{obj("a")}, {obj("a-1")}, {obj("a.2"), dir("a")}},
			[]string{"a-1 a.2 a/"}},
		{"object and folder in one page",
			[][]ObjectInfo{{obj("c"), obj("c-d"), dir("c"), obj("d")}},
			[]string{"c-d c/ d"}},
		{"folder repeated on the next page",
			[][]ObjectInfo{{obj("0"), dir("f")}, {dir("f"), obj("g")}},
			[]string{"0 f/", "g"}},
		{"object held, no folder comes",
			[][]ObjectInfo{{obj("a")}, {obj("b")}},
			[]string{"a b"}},
		{"one page",
			[][]ObjectInfo{{obj("x"), obj("y")}},
			[]string{"x y"}},
		{"folder of another name between",
			[][]ObjectInfo{{obj("a"), dir("a-b")}, {dir("a")}},
			[]string{"a-b/ a/"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f folderWins
			var got []string
			hand := func(page []ObjectInfo) {
				if len(page) == 0 {
					return
				}
				keys := make([]string, len(page))
				for i, o := range page {
					keys[i] = entryKey(o)
				}
				got = append(got, strings.Join(keys, " "))
			}
			for i, p := range tt.pages {
				hand(f.add(p, i == len(tt.pages)-1))
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("pages handed over %q, want %q", got, tt.want)
			}
		})
	}
}
