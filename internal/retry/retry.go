// Package retry holds the rules by which the project's HTTP clients retry a
// read: which answers may go away on their own, how long to wait before the
// next attempt, and how to read a server's Retry-After. It imports nothing of
// the project, so any client may use it.
package retry

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Policy says how a read is retried: capped exponential backoff with full
// jitter, or the server's Retry-After when it sends one.
type Policy struct {
	MaxAttempts   int           // attempts including the first; 1 turns retries off
	BaseDelay     time.Duration // first backoff ceiling, doubled per retry
	MaxDelay      time.Duration // backoff ceiling
	MaxRetryAfter time.Duration // cap on a server's Retry-After
	// MaxElapsed is the time budget of one call: no wait starts that would
	// end past it, so a persistent failure surfaces in bounded time.
	MaxElapsed time.Duration
}

// Or fills the zero fields of p from def.
func (p Policy) Or(def Policy) Policy {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = def.MaxAttempts
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = def.BaseDelay
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = def.MaxDelay
	}
	if p.MaxRetryAfter <= 0 {
		p.MaxRetryAfter = def.MaxRetryAfter
	}
	if p.MaxElapsed <= 0 {
		p.MaxElapsed = def.MaxElapsed
	}
	return p
}

// Wait is how long to wait after failed attempt number attempt (1 for the
// first): the server's Retry-After when it sent one (capped), else a random
// wait up to a ceiling that doubles per attempt, so many clients do not
// retry in step.
func (p Policy) Wait(attempt int, retryAfter time.Duration, hasRetryAfter bool) time.Duration {
	if hasRetryAfter {
		return min(retryAfter, p.MaxRetryAfter)
	}
	ceiling := p.BaseDelay
	for i := 1; i < attempt && ceiling < p.MaxDelay; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, p.MaxDelay)
	if ceiling <= 0 {
		return 0
	}
	return time.Duration(rand.Int64N(int64(ceiling) + 1))
}

// Status reports whether an answer with this status is worth another
// attempt: overload (429) and the server errors a gateway or a restarting
// server gives (500, 502, 503, 504).
func Status(code int) bool {
	switch code {
	case http.StatusTooManyRequests, http.StatusInternalServerError, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// Transient reports whether a transport error may go away on its own: a
// certificate the client refuses will not.
func Transient(err error) bool {
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var verify *tls.CertificateVerificationError
	return !errors.As(err, &unknownCA) && !errors.As(err, &hostname) && !errors.As(err, &verify)
}

// RetryAfter reads a Retry-After header: delay seconds or an HTTP date.
func RetryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil {
		if s < 0 || s != s {
			return 0, false
		}
		if s > 1e6 { // beyond any cap; avoids overflowing Duration
			s = 1e6
		}
		return time.Duration(s * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
