package fake

import (
	"strings"
	"unicode"

	"github.com/aind/aindfs/codeocean"
)

// The query syntax of POST data_assets/search, as the API document states it:
//
//   - field:value terms; fields name, tag, run_script, commit_id,
//     contained_data_id, and any custom-metadata key, spaces included
//     (subject id:676909); a quoted field name works too ("data level":raw).
//   - the same field repeated is OR; different fields are AND.
//   - "quoted words" are an exact phrase; case never matters; no wildcards.
//   - bare words are free text over name, tags, description and
//     custom-metadata values; each bare word (or phrase) must match.
//   - name: matches a prefix of the name or of any of its words, the way the
//     real server behaves in practice; other fields match whole words.
//
// Words are runs of letters and digits: "ecephys_676909_2023-12-13" is the
// words ecephys, 676909, 2023, 12, 13.

// term is one condition of a query.
type term struct {
	field  string // lower case; "" for free text
	value  string
	quoted bool
}

// query is a parsed search query: every group must match; a group matches
// when any of its terms does.
type query struct {
	groups [][]term
}

var standardFields = map[string]bool{
	"name": true, "tag": true, "run_script": true, "commit_id": true, "contained_data_id": true,
}

// longestFieldWords bounds how many words a custom-metadata key may span.
const longestFieldWords = 4

// parseQuery parses q. known says whether a lower-case name is a field, so
// "subject id:1" reads as the field "subject id" when the catalog has it.
func parseQuery(q string, known func(string) bool) query {
	words := splitWords(q)
	var (
		terms   []term
		pending []string // bare words not yet known to be free text
	)
	flush := func() {
		for _, w := range pending {
			v, quoted := unquote(w)
			terms = append(terms, term{value: v, quoted: quoted})
		}
		pending = pending[:0]
	}
	for i := 0; i < len(words); i++ {
		w := words[i]
		colon := unquotedColon(w)
		if colon <= 0 {
			pending = append(pending, w)
			continue
		}
		field, quotedField := unquote(w[:colon])
		if !quotedField {
			// Extend the field leftwards over bare words while that names a known field.
			for k := min(len(pending), longestFieldWords-1); k >= 1; k-- {
				tail := pending[len(pending)-k:]
				if anyQuoted(tail) {
					continue
				}
				cand := strings.Join(append(append([]string{}, tail...), field), " ")
				if known(strings.ToLower(cand)) {
					field = cand
					pending = pending[:len(pending)-k]
					break
				}
			}
		}
		flush()
		raw := w[colon+1:]
		if raw == "" && i+1 < len(words) && unquotedColon(words[i+1]) < 0 {
			i++
			raw = words[i]
		}
		v, quoted := unquote(raw)
		terms = append(terms, term{field: strings.ToLower(strings.TrimSpace(field)), value: v, quoted: quoted})
	}
	flush()

	var qr query
	byField := map[string]int{}
	for _, t := range terms {
		if tokens(t.value) == nil {
			continue // nothing to match: "name:" or punctuation alone
		}
		if t.field == "" {
			qr.groups = append(qr.groups, []term{t})
			continue
		}
		if g, ok := byField[t.field]; ok {
			qr.groups[g] = append(qr.groups[g], t)
			continue
		}
		byField[t.field] = len(qr.groups)
		qr.groups = append(qr.groups, []term{t})
	}
	return qr
}

// matches reports whether asset a satisfies every group of q.
func (q query) matches(a codeocean.DataAsset, nameMaxLen int) bool {
	for _, g := range q.groups {
		ok := false
		for _, t := range g {
			if t.matches(a, nameMaxLen) {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	return true
}

func (t term) matches(a codeocean.DataAsset, nameMaxLen int) bool {
	switch t.field {
	case "":
		if phraseIn(a.Name, t, false) || phraseIn(a.Description, t, false) {
			return true
		}
		for _, tag := range a.Tags {
			if phraseIn(tag, t, false) {
				return true
			}
		}
		for _, v := range a.CustomMetadata {
			if phraseIn(string(v), t, false) {
				return true
			}
		}
		return false
	case "name":
		if nameMaxLen > 0 && len(t.value) > nameMaxLen {
			return false // the real server is unreliable here; be reliably so
		}
		return phraseIn(a.Name, t, true)
	case "tag":
		for _, tag := range a.Tags {
			if phraseIn(tag, t, false) {
				return true
			}
		}
		return false
	case "run_script":
		return a.Provenance != nil && phraseIn(a.Provenance.RunScript, t, false)
	case "commit_id":
		return a.Provenance != nil && phraseIn(a.Provenance.Commit, t, false)
	case "contained_data_id":
		return strings.Contains(strings.ToLower(string(a.ContainedDataAssets)), strings.ToLower(t.value))
	default:
		return phraseIn(a.Metadata(t.field), t, false)
	}
}

// phraseIn reports whether the words of t.value occur in order, next to each
// other, among the words of text. With prefix (and no quotes) the last word
// may be the start of a word, and a prefix of the whole text matches too.
func phraseIn(text string, t term, prefix bool) bool {
	prefix = prefix && !t.quoted
	lt, lv := strings.ToLower(text), strings.ToLower(t.value)
	if prefix && strings.HasPrefix(lt, lv) {
		return true
	}
	have, want := tokens(lt), tokens(lv)
	if len(want) == 0 {
		return false
	}
	for i := 0; i+len(want) <= len(have); i++ {
		ok := true
		for j, w := range want {
			h := have[i+j]
			if h == w || (prefix && j == len(want)-1 && strings.HasPrefix(h, w)) {
				continue
			}
			ok = false
			break
		}
		if ok {
			return true
		}
	}
	return false
}

// tokens are the lower-case words of s: runs of letters and digits.
func tokens(s string) []string {
	return strings.FieldsFunc(strings.ToLower(s), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
}

// splitWords splits at white space outside double quotes.
func splitWords(q string) []string {
	var (
		words []string
		cur   strings.Builder
		inQ   bool
	)
	for _, r := range q {
		switch {
		case r == '"':
			inQ = !inQ
			cur.WriteRune(r)
		case unicode.IsSpace(r) && !inQ:
			if cur.Len() > 0 {
				words = append(words, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
		}
	}
	if cur.Len() > 0 {
		words = append(words, cur.String())
	}
	return words
}

// unquotedColon is the index of the first ':' outside quotes, or -1.
func unquotedColon(w string) int {
	inQ := false
	for i, r := range w {
		switch {
		case r == '"':
			inQ = !inQ
		case r == ':' && !inQ:
			return i
		}
	}
	return -1
}

// unquote strips surrounding double quotes (a missing closing one too).
func unquote(w string) (string, bool) {
	if !strings.HasPrefix(w, `"`) {
		return w, false
	}
	return strings.TrimSuffix(w[1:], `"`), true
}

func anyQuoted(ws []string) bool {
	for _, w := range ws {
		if strings.Contains(w, `"`) {
			return true
		}
	}
	return false
}
