package fake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"regexp"
	"strings"
)

// decode reads JSON keeping numbers exact, as the database does.
func decode(data []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(data))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, fmt.Errorf("text after the JSON value")
	}
	return v, nil
}

// badQuery is a query the fake refuses with 400, as the server refuses what
// it cannot run; the fake also refuses what it does not model, so a query
// no test has covered fails loudly instead of matching wrongly.
type badQuery struct{ msg string }

func (e *badQuery) Error() string { return e.msg }

func bad(format string, args ...any) error { return &badQuery{fmt.Sprintf(format, args...)} }

// condition is one field's test in a filter.
type condition struct {
	path  []string
	equal any            // compared for equality, when re is nil
	re    *regexp.Regexp // $regex, unanchored
}

// parseFilter reads a filter: field paths (dotted) mapped to a value
// (equality) or to {"$regex": "...", "$options": "i"}.
func parseFilter(text string) ([]condition, error) {
	if text == "" {
		return nil, nil
	}
	v, err := decode([]byte(text))
	if err != nil {
		return nil, bad("filter is not JSON: %v", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, bad("filter must be an object")
	}
	var out []condition
	for field, want := range obj {
		if strings.HasPrefix(field, "$") {
			return nil, bad("unknown top-level operator: %s", field)
		}
		c := condition{path: strings.Split(field, "."), equal: want}
		if ops, ok := want.(map[string]any); ok && hasOperator(ops) {
			if c.re, err = parseOperators(field, ops); err != nil {
				return nil, err
			}
		}
		out = append(out, c)
	}
	return out, nil
}

func hasOperator(m map[string]any) bool {
	for k := range m {
		if strings.HasPrefix(k, "$") {
			return true
		}
	}
	return false
}

func parseOperators(field string, ops map[string]any) (*regexp.Regexp, error) {
	var pattern, options string
	for k, v := range ops {
		s, isString := v.(string)
		switch k {
		case "$regex":
			if !isString {
				return nil, bad("%s: $regex needs a string", field)
			}
			pattern = s
		case "$options":
			if !isString || strings.Trim(s, "i") != "" {
				return nil, bad("%s: $options %v: only \"i\" is modelled", field, v)
			}
			options = s
		default:
			if strings.HasPrefix(k, "$") {
				return nil, bad("unknown operator: %s (in %s)", k, field)
			}
			return nil, bad("%s: operators and fields mixed", field)
		}
	}
	if _, ok := ops["$regex"]; !ok {
		return nil, bad("%s: $options without $regex", field)
	}
	if options != "" {
		pattern = "(?i)" + pattern
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, bad("%s: $regex: %v", field, err)
	}
	return re, nil
}

// matches reports whether doc passes every condition.
func matches(doc any, conds []condition) bool {
	for _, c := range conds {
		if !c.test(doc) {
			return false
		}
	}
	return true
}

func (c condition) test(doc any) bool {
	vals := resolve(doc, c.path)
	if c.re == nil && c.equal == nil && len(vals) == 0 {
		return true // null matches a missing field
	}
	for _, v := range vals {
		if c.re != nil {
			if s, ok := v.(string); ok && c.re.MatchString(s) {
				return true
			}
		} else if equal(v, c.equal) {
			return true
		}
	}
	return false
}

// resolve returns the values at a dotted path, descending into every
// element of arrays on the way; an array at the end also yields each of its
// elements, so equality with one element matches.
func resolve(v any, path []string) []any {
	if len(path) == 0 {
		if arr, ok := v.([]any); ok {
			return append([]any{v}, arr...)
		}
		return []any{v}
	}
	switch x := v.(type) {
	case map[string]any:
		child, ok := x[path[0]]
		if !ok {
			return nil
		}
		return resolve(child, path[1:])
	case []any:
		var out []any
		for _, e := range x {
			if _, ok := e.(map[string]any); ok {
				out = append(out, resolve(e, path)...)
			}
		}
		return out
	}
	return nil
}

func equal(a, b any) bool {
	na, aNum := a.(json.Number)
	nb, bNum := b.(json.Number)
	if aNum && bNum {
		fa, errA := na.Float64()
		fb, errB := nb.Float64()
		return errA == nil && errB == nil && fa == fb
	}
	return reflect.DeepEqual(a, b)
}

// parseProjection reads an inclusion projection: paths mapped to 1 (or
// true), and "_id" to 0 to leave it out. Exclusions of other fields are not
// modelled.
func parseProjection(text string) (paths [][]string, withID bool, err error) {
	withID = true
	if text == "" {
		return nil, true, nil
	}
	v, err := decode([]byte(text))
	if err != nil {
		return nil, false, bad("projection is not JSON: %v", err)
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, false, bad("projection must be an object")
	}
	var fields []string
	for field, val := range obj {
		if strings.HasPrefix(field, "$") {
			return nil, false, bad("unknown operator: %s (in projection)", field)
		}
		on, ok := flag(val)
		if !ok {
			return nil, false, bad("projection of %s: %v is not 0 or 1", field, val)
		}
		switch {
		case field == "_id":
			withID = on
		case !on:
			return nil, false, bad("projection of %s: only inclusion projections are modelled", field)
		default:
			fields = append(fields, field)
		}
	}
	for _, a := range fields {
		for _, b := range fields {
			if a != b && strings.HasPrefix(b, a+".") {
				return nil, false, bad("path collision at %s and %s", a, b)
			}
		}
		paths = append(paths, strings.Split(a, "."))
	}
	if len(paths) == 0 && withID {
		return nil, true, nil // {"_id": 1} alone, or {}: whole records
	}
	return paths, withID, nil
}

func flag(v any) (on, ok bool) {
	switch x := v.(type) {
	case bool:
		return x, true
	case json.Number:
		switch x.String() {
		case "0":
			return false, true
		case "1":
			return true, true
		}
	}
	return false, false
}

// project keeps only paths of doc (and _id when withID). A record holding
// none of them comes back as {}.
func project(doc map[string]any, paths [][]string, withID bool) map[string]any {
	out := map[string]any{}
	if withID {
		if id, ok := doc["_id"]; ok {
			out["_id"] = id
		}
	}
	for _, p := range paths {
		include(out, doc, p)
	}
	return out
}

// include copies path from src into dst. Through an array, each object
// element keeps the path (an element lacking it stays as {}); other
// elements are dropped.
func include(dst, src map[string]any, path []string) {
	v, ok := src[path[0]]
	if !ok {
		return
	}
	if len(path) == 1 {
		dst[path[0]] = v
		return
	}
	switch x := v.(type) {
	case map[string]any:
		sub, _ := dst[path[0]].(map[string]any)
		if sub == nil {
			sub = map[string]any{}
		}
		include(sub, x, path[1:])
		dst[path[0]] = sub
	case []any:
		out, _ := dst[path[0]].([]any)
		var objs []map[string]any
		for _, e := range x {
			if m, ok := e.(map[string]any); ok {
				objs = append(objs, m)
			}
		}
		if out == nil {
			out = make([]any, len(objs))
			for i := range out {
				out[i] = map[string]any{}
			}
		}
		for i, m := range objs {
			include(out[i].(map[string]any), m, path[1:])
		}
		dst[path[0]] = out
	}
}

// sortKey is one field of a sort, in the order the request gave them.
type sortKey struct {
	path  []string
	order int
}

// parseSort reads {"field": 1 or -1, …}, keeping the keys' order.
func parseSort(text string) ([]sortKey, error) {
	if text == "" {
		return nil, nil
	}
	d := json.NewDecoder(strings.NewReader(text))
	d.UseNumber()
	if t, err := d.Token(); err != nil || t != json.Delim('{') {
		return nil, bad("sort must be an object")
	}
	var keys []sortKey
	for d.More() {
		t, err := d.Token()
		if err != nil {
			return nil, bad("sort is not JSON: %v", err)
		}
		field := t.(string)
		var n json.Number
		if err := d.Decode(&n); err != nil || (n != "1" && n != "-1") {
			return nil, bad("sort of %s must be 1 or -1", field)
		}
		if strings.HasPrefix(field, "$") {
			return nil, bad("unknown operator: %s (in sort)", field)
		}
		keys = append(keys, sortKey{path: strings.Split(field, "."), order: map[json.Number]int{"1": 1, "-1": -1}[n]})
	}
	if _, err := d.Token(); err != nil {
		return nil, bad("sort is not JSON: %v", err)
	}
	return keys, nil
}

// compare orders two values the way the database orders kinds: missing and
// null first, then numbers, then strings (byte order), then anything else.
func compare(a, b any) int {
	ra, rb := rank(a), rank(b)
	if ra != rb {
		return ra - rb
	}
	switch x := a.(type) {
	case json.Number:
		fa, _ := x.Float64()
		fb, _ := b.(json.Number).Float64()
		switch {
		case fa < fb:
			return -1
		case fa > fb:
			return 1
		}
	case string:
		return strings.Compare(x, b.(string))
	}
	return 0
}

func rank(v any) int {
	switch v.(type) {
	case nil:
		return 0
	case json.Number:
		return 1
	case string:
		return 2
	}
	return 3
}

// field is the value at a dotted path through objects only (nil if absent).
func field(doc any, path []string) any {
	for _, p := range path {
		m, ok := doc.(map[string]any)
		if !ok {
			return nil
		}
		doc = m[p]
	}
	return doc
}
