// Package httpsonly holds the rule the project's HTTP clients share for the
// servers they ask: https, or plain http to this machine only (a test, a local
// tunnel). Answers decide which files are served, and requests may carry a
// token, so neither may cross the network in the clear. Redirects obey the
// same rule as the address the user gave.
package httpsonly

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// Rule is the https-only rule as one client words it. PlainHTTP says why
// plain http to host (a machine other than this one) is refused, in the
// client's terms: what it would expose.
type Rule struct {
	PlainHTTP func(host string) string
}

// ErrRedirect marks a redirect the rule refused: asking again would be
// refused again.
var ErrRedirect = errors.New("refused redirect")

// Check accepts https, and plain http to a loopback host.
func (r Rule) Check(u *url.URL) error {
	switch {
	case u.Scheme == "https":
		return nil
	case u.Scheme != "http":
		return fmt.Errorf("scheme must be https, not %q", u.Scheme)
	case !IsLoopback(u.Hostname()):
		return errors.New(r.PlainHTTP(u.Hostname()))
	}
	return nil
}

// Client returns a copy of hc (nil: a client of its own) whose redirects must
// pass the rule too; hc's own redirect policy, if any, still applies after.
// A copy, so the caller's client is left as it was.
func (r Rule) Client(hc *http.Client) *http.Client {
	c := http.Client{}
	if hc != nil {
		c = *hc
	}
	next := c.CheckRedirect
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if err := r.Check(req.URL); err != nil {
			return fmt.Errorf("%w to %s: %w", ErrRedirect, req.URL.Redacted(), err)
		}
		if next != nil {
			return next(req, via)
		}
		if len(via) >= 10 {
			return errors.New("stopped after 10 redirects")
		}
		return nil
	}
	return &c
}

// IsLoopback reports whether host is this machine: localhost or a loopback
// IP (IPv4-mapped forms included).
func IsLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.Unmap().IsLoopback()
}
