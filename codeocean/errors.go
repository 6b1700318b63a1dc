package codeocean

import (
	"errors"
	"fmt"
	"net/http"
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
// status, the server's message and what was asked; never the token.
type APIError struct {
	Status  int    // HTTP status
	Message string // the server's "message", or the start of its body
	Method  string // GET, POST, …
	Path    string // relative to the API root, such as "data_assets/search"
	Query   string // what was asked: query string or a summary of the body
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "code ocean %s %s", e.Method, e.Path)
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
		if e.isCapsuleWrite() {
			return "the access token lacks write access to the capsule"
		}
		return `the access token lacks the "Datasets: Read" scope`
	case http.StatusTooManyRequests:
		return "the server is overloaded; try again later"
	}
	return ""
}

func (e *APIError) isCapsuleWrite() bool {
	return strings.HasPrefix(e.Path, "capsules/") && e.Method != http.MethodGet
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

// retryableStatus: overload and transient server errors, per the API document.
func retryableStatus(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// redacted hides a secret in an error's text while keeping the error
// inspectable with errors.Is and errors.As.
type redacted struct {
	err  error
	text string
}

func (r *redacted) Error() string { return r.text }
func (r *redacted) Unwrap() error { return r.err }

func redact(err error, secret string) error {
	if err == nil || secret == "" || !strings.Contains(err.Error(), secret) {
		return err
	}
	return &redacted{err: err, text: strings.ReplaceAll(err.Error(), secret, "<token>")}
}
