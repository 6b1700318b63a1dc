package codeocean

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// maxResponseBytes bounds what one answer may hold: a page of 1000 assets is
// a few MB; anything far larger is not an API answer.
const maxResponseBytes = 64 << 20

// call is one API request, as the methods of Client describe it.
type call struct {
	method  string
	path    string // relative to /api/v1/, already escaped
	query   url.Values
	body    any
	summary string // what was asked, for logs and errors
	read    bool   // reads are retried; writes never are
}

// outcome is the end of one attempt.
type outcome struct {
	err        error
	retry      bool          // worth another attempt
	retryAfter time.Duration // the server's Retry-After, when hasAfter
	hasAfter   bool
}

// do sends k, retrying reads, and decodes a successful answer into out.
func (c *Client) do(ctx context.Context, k call, out any) error {
	if k.summary == "" {
		k.summary = summarizeQuery(k.query)
	}
	if c.token == "" {
		return fmt.Errorf("code ocean %s %s: %w", k.method, k.path, ErrNoToken)
	}
	var body []byte
	if k.body != nil {
		var err error
		if body, err = json.Marshal(k.body); err != nil {
			return fmt.Errorf("code ocean %s %s: encode request: %w", k.method, k.path, err)
		}
	}
	target := c.base.String() + k.path
	if len(k.query) > 0 {
		target += "?" + k.query.Encode()
	}

	start := time.Now()
	for attempt := 1; ; attempt++ {
		// A read never outlasts its call's budget, even on a stalled server.
		timeout := c.timeout
		if k.read {
			timeout = min(timeout, c.retry.MaxElapsed-time.Since(start))
		}
		o := c.attempt(ctx, k, target, body, out, attempt, timeout)
		if o.err == nil {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("code ocean %s %s (%s): %w", k.method, k.path, k.summary, err)
		}
		err := redact(o.err, c.token)
		if !o.retry || !k.read {
			return err
		}
		elapsed := time.Since(start)
		if attempt >= c.retry.MaxAttempts {
			return fmt.Errorf("%w (gave up after %d attempts in %s)", err, attempt, elapsed.Round(time.Millisecond))
		}
		wait := c.backoff(attempt, o)
		if elapsed+wait > c.retry.MaxElapsed {
			return fmt.Errorf("%w (gave up after %d attempts in %s: the next wait of %s would pass the %s budget)",
				err, attempt, elapsed.Round(time.Millisecond), wait.Round(time.Millisecond), c.retry.MaxElapsed)
		}
		c.log.DebugContext(ctx, "code ocean retry", "method", k.method, "path", k.path, "ask", k.summary,
			"attempt", attempt, "wait", wait, "retry_after", o.hasAfter, "cause", err.Error())
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("code ocean %s %s (%s): waiting to retry after %v: %w", k.method, k.path, k.summary, err, ctx.Err())
		case <-t.C:
		}
	}
}

// attempt sends the request once and reads the whole answer under the
// attempt's own timeout, so a stalled server costs one attempt, not the call.
func (c *Client) attempt(ctx context.Context, k call, target string, body []byte, out any, n int, timeout time.Duration) outcome {
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	fail := func(format string, args ...any) error {
		return fmt.Errorf("code ocean %s %s (%s): "+format, append([]any{k.method, k.path, k.summary}, args...)...)
	}

	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(actx, k.method, target, rd)
	if err != nil {
		return outcome{err: fail("%w", err)}
	}
	req.SetBasicAuth(c.token, "")
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Min-Server-Version", c.minServerVersion)
	req.Header.Set("User-Agent", "aindfs")

	c.log.DebugContext(ctx, "code ocean request", "method", k.method, "path", k.path, "ask", k.summary, "attempt", n)
	sent := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		err = redact(err, c.token)
		c.log.DebugContext(ctx, "code ocean request failed", "method", k.method, "path", k.path,
			"attempt", n, "elapsed", time.Since(sent), "err", err.Error())
		return outcome{err: fail("%w", err), retry: transient(err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	c.log.DebugContext(ctx, "code ocean response", "method", k.method, "path", k.path,
		"status", resp.StatusCode, "bytes", len(data), "attempt", n, "elapsed", time.Since(sent))
	if err != nil {
		return outcome{err: fail("reading the %d answer: %w", resp.StatusCode, redact(err, c.token)), retry: true}
	}
	if len(data) > maxResponseBytes {
		return outcome{err: fail("answer larger than %d bytes", maxResponseBytes)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		o := outcome{
			err: &APIError{
				Status:  resp.StatusCode,
				Message: strings.ReplaceAll(serverMessage(data), c.token, "<token>"),
				Method:  k.method,
				Path:    k.path,
				Query:   k.summary,
			},
			retry: retryableStatus(resp.StatusCode),
		}
		o.retryAfter, o.hasAfter = parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())
		return o
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return outcome{err: fail("decoding the answer: %w", err)}
		}
	}
	return outcome{}
}

// backoff is how long to wait before attempt+1: the server's Retry-After
// (capped), else a random wait up to a ceiling that doubles per attempt
// ("full jitter", so many clients do not retry in step).
func (c *Client) backoff(attempt int, o outcome) time.Duration {
	if o.hasAfter {
		return min(o.retryAfter, c.retry.MaxRetryAfter)
	}
	ceiling := c.retry.BaseDelay
	for i := 1; i < attempt && ceiling < c.retry.MaxDelay; i++ {
		ceiling *= 2
	}
	ceiling = min(ceiling, c.retry.MaxDelay)
	return time.Duration(rand.Int64N(int64(ceiling) + 1))
}

// parseRetryAfter reads a Retry-After header: delay seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) (time.Duration, bool) {
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

// transient reports whether a transport error may go away on its own: a
// certificate the client refuses will not.
func transient(err error) bool {
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var verify *tls.CertificateVerificationError
	return !errors.As(err, &unknownCA) && !errors.As(err, &hostname) && !errors.As(err, &verify)
}

// serverMessage is the "message" of an error answer, or the start of the
// body when it is not the documented JSON (a proxy's HTML page).
func serverMessage(data []byte) string {
	var m struct {
		Message any `json:"message"`
	}
	if json.Unmarshal(data, &m) == nil && m.Message != nil {
		if s, ok := m.Message.(string); ok {
			return s
		}
		b, _ := json.Marshal(m.Message)
		return string(b)
	}
	s := strings.Join(strings.Fields(string(data)), " ")
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "") + "…"
	}
	return s
}

// summarizeQuery renders a query string readably for logs and errors.
func summarizeQuery(q url.Values) string {
	if len(q) == 0 {
		return ""
	}
	var parts []string
	for k, vs := range q {
		for _, v := range vs {
			parts = append(parts, fmt.Sprintf("%s %q", k, v))
		}
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}
