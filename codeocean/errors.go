package codeocean

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
)

// Errors that API errors match with errors.Is.
var (
	// ErrNotFound: the asset, file or capsule does not exist (404).
	ErrNotFound = errors.New("not found")
	// ErrUnauthorized: no valid token was sent (401, or no token at all).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrForbidden: the token lacks the scope the call needs (403).
	ErrForbidden = errors.New("forbidden")
	// ErrNoToken: the client has no token, so nothing was sent. It is also
	// ErrUnauthorized.
	ErrNoToken = fmt.Errorf("%w: no Code Ocean access token: set %s (or put it in a .env file)", ErrUnauthorized, TokenVar)
)

// APIError is an answer of the server other than success. Its text says the
// server, what was asked, the status and the server's message; never the
// token.
type APIError struct {
	Status  int    // HTTP status
	Message string // the server's message, readable (see Items), or the start of its body
	// Items are the entries of an answer that was a JSON array of
	// {"id", "message"}, as attach sends one per refused asset.
	Items  []ItemError
	Server string // the deployment's address
	Method string // GET, POST, …
	Path   string // relative to the API root, such as "data_assets/search"
	Query  string // what was asked: query string or a summary of the body
}

// ItemError is the server's message about one item (an asset) of a request.
type ItemError struct {
	ID      string `json:"id"`
	Message string `json:"message"`
}

func (e ItemError) String() string {
	if e.ID == "" {
		return e.Message
	}
	return e.ID + ": " + e.Message
}

func (e *APIError) Error() string {
	var b strings.Builder
	b.WriteString("code ocean ")
	if e.Server != "" {
		b.WriteString(e.Server + ": ")
	}
	fmt.Fprintf(&b, "%s %s", e.Method, e.Path)
	if e.Query != "" {
		fmt.Fprintf(&b, " (%s)", e.Query)
	}
	fmt.Fprintf(&b, ": %d %s", e.Status, http.StatusText(e.Status))
	if e.Message != "" && !strings.EqualFold(e.Message, http.StatusText(e.Status)) {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if hint := e.hint(); hint != "" {
		b.WriteString(" (" + hint + ")")
	}
	return b.String()
}

// hint tells the person reading the error what to do about it.
func (e *APIError) hint() string {
	switch e.Status {
	case http.StatusUnauthorized:
		return fmt.Sprintf("the access token is missing or wrong: set %s to a valid token", TokenVar)
	case http.StatusForbidden:
		if e.isAttach() {
			return "attaching needs a token with both scopes Capsules read & write and Data Assets read & write"
		}
		return `the access token lacks the "Datasets: Read" scope`
	case http.StatusTooManyRequests:
		return "the server is overloaded; try again later"
	}
	return ""
}

// isAttach: a write to a capsule's or computation's attached assets.
func (e *APIError) isAttach() bool {
	return (strings.HasPrefix(e.Path, "capsules/") || strings.HasPrefix(e.Path, "computations/")) &&
		strings.HasSuffix(e.Path, "/data_assets") && e.Method != http.MethodGet
}

// Is makes errors.Is(err, ErrNotFound) (and ErrUnauthorized, ErrForbidden)
// hold for the matching status.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrNotFound:
		return e.Status == http.StatusNotFound
	case ErrUnauthorized:
		return e.Status == http.StatusUnauthorized
	case ErrForbidden:
		return e.Status == http.StatusForbidden
	}
	return false
}

// credential finds the access token in text a server sent back, in every
// form a request carries it: raw, base64 of "token:" (the Basic credentials,
// padded or not, standard or URL alphabet, percent-escaped) and the whole
// "Basic ..." value. A proxy that echoes request headers in an error page
// must not put any of them in an error or a log line.
type credential struct{ re *regexp.Regexp }

func newCredential(token string) credential {
	if token == "" {
		return credential{}
	}
	basic := []byte(token + ":")
	var forms []string
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		b := enc.EncodeToString(basic)
		forms = append(forms, `Basic\s+`+regexp.QuoteMeta(b), regexp.QuoteMeta(b), regexp.QuoteMeta(url.QueryEscape(b)))
	}
	forms = append(forms, regexp.QuoteMeta(token), regexp.QuoteMeta(url.QueryEscape(token)))
	// Longest first: the alternation takes the first form that matches, and
	// the whole header must win over the bare base64 inside it.
	sort.SliceStable(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
	return credential{re: regexp.MustCompile(`(?i)(` + strings.Join(forms, "|") + `)`)}
}

// hide replaces every form of the credential in s.
func (c credential) hide(s string) string {
	if c.re == nil {
		return s
	}
	return c.re.ReplaceAllLiteralString(s, "<token>")
}

// redacted hides a secret in an error's text while keeping the error
// inspectable with errors.Is and errors.As.
type redacted struct {
	err  error
	text string
}

func (r *redacted) Error() string { return r.text }
func (r *redacted) Unwrap() error { return r.err }

// redact returns err with every form of the credential hidden in its text.
func (c credential) redact(err error) error {
	if err == nil || c.re == nil {
		return err
	}
	text := err.Error()
	if hidden := c.hide(text); hidden != text {
		return &redacted{err: err, text: hidden}
	}
	return err
}
