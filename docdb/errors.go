package docdb

import (
	"fmt"
	"net/http"
	"strings"
)

// APIError is an answer of the server other than success. Its text says
// the status, the start of the server's answer and the query.
type APIError struct {
	Status  int    // HTTP status
	Message string // the server's message, or the start of its body
	Query   string // what was asked
}

func (e *APIError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "docdb find (%s): %d %s", e.Query, e.Status, http.StatusText(e.Status))
	if e.Message != "" && !strings.EqualFold(e.Message, http.StatusText(e.Status)) {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	switch {
	case e.Status == http.StatusTooManyRequests:
		b.WriteString(" (the server is overloaded; try again later)")
	case e.Status == http.StatusBadRequest:
		b.WriteString(" (the server did not understand the query)")
	}
	return b.String()
}
