package codeocean

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/aind/aindfs/internal/retry"
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
	version string // Min-Server-Version: the lowest server that has what this request uses
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
	if k.version == "" {
		k.version = baseVersion
	}
	if c.token == "" {
		return fmt.Errorf("%s: %w", c.asked(k), ErrNoToken)
	}
	var body []byte
	if k.body != nil {
		var err error
		if body, err = json.Marshal(k.body); err != nil {
			return fmt.Errorf("%s: encode request: %w", c.asked(k), err)
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
			return c.ended(ctx, k, start, err)
		}
		err := c.secret.redact(o.err)
		if !o.retry || !k.read {
			return err
		}
		elapsed := time.Since(start)
		if attempt >= c.retry.MaxAttempts {
			return fmt.Errorf("%w (gave up after %s in %s)", err, attempts(attempt), elapsed.Round(time.Millisecond))
		}
		wait := c.retry.Wait(attempt, o.retryAfter, o.hasAfter)
		if elapsed+wait > c.retry.MaxElapsed {
			return fmt.Errorf("%w (gave up after %s in %s: the next wait of %s would pass the %s budget)",
				err, attempts(attempt), elapsed.Round(time.Millisecond), wait.Round(time.Millisecond), c.retry.MaxElapsed)
		}
		c.log.DebugContext(ctx, "code ocean retry", "method", k.method, "path", k.path, "ask", k.summary,
			"attempt", attempt, "wait", wait, "retry_after", o.hasAfter, "cause", err.Error())
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("waiting to retry after %w: %w", err, c.ended(ctx, k, start, ctx.Err()))
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
		return fmt.Errorf("%s: "+format, append([]any{c.asked(k)}, args...)...)
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
	req.Header.Set("Min-Server-Version", k.version)
	req.Header.Set("User-Agent", "aindfs")

	c.log.DebugContext(ctx, "code ocean request", "method", k.method, "path", k.path, "ask", k.summary, "attempt", n)
	sent := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			// This attempt's own limit, not the caller's: say how long the
			// server was given.
			err = fmt.Errorf("no answer within %s: %w", c.limit(k, timeout), err)
		}
		err = c.secret.redact(err)
		c.log.DebugContext(ctx, "code ocean request failed", "method", k.method, "path", k.path,
			"attempt", n, "elapsed", time.Since(sent), "err", err.Error())
		return outcome{err: fail("%w", err), retry: retry.Transient(err)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	c.log.DebugContext(ctx, "code ocean response", "method", k.method, "path", k.path,
		"status", resp.StatusCode, "bytes", len(data), "attempt", n, "elapsed", time.Since(sent))
	if err != nil {
		if ctx.Err() == nil && errors.Is(err, context.DeadlineExceeded) {
			err = fmt.Errorf("answer not complete within %s: %w", c.limit(k, timeout), err)
		}
		return outcome{err: fail("reading the %d answer: %w", resp.StatusCode, c.secret.redact(err)), retry: true}
	}
	if len(data) > maxResponseBytes {
		return outcome{err: fail("answer larger than %d bytes", maxResponseBytes)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		e := &APIError{
			Status: resp.StatusCode,
			Server: c.Domain(),
			Method: k.method,
			Path:   k.path,
			Query:  k.summary,
		}
		e.Message, e.Items = serverMessage(data, resp.Header.Get("Content-Type"), c.secret)
		o := outcome{err: e, retry: retry.Status(resp.StatusCode)}
		o.retryAfter, o.hasAfter = retry.RetryAfter(resp.Header.Get("Retry-After"), time.Now())
		return o
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return outcome{err: fail("decoding the answer: %w", err)}
		}
	}
	return outcome{}
}

// maxMessage bounds the part of an error answer shown: enough for any real
// message, not a whole page of a proxy's HTML.
const maxMessage = 300

// serverMessage makes an error answer readable: the "message" of the
// documented JSON object, the items of a JSON array ([{"id", "message"}], as
// attach sends one per refused asset), or the text of an HTML page (a proxy
// or gateway answering instead of the API). Every form of the credential is
// hidden before anything is cut short, so no fragment of it survives.
func serverMessage(data []byte, contentType string, secret credential) (string, []ItemError) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return "", nil
	}
	switch trimmed[0] {
	case '{':
		var m struct {
			Message any `json:"message"`
		}
		if json.Unmarshal(trimmed, &m) == nil && m.Message != nil {
			if s, ok := m.Message.(string); ok {
				return shorten(secret.hide(s)), nil
			}
			b, _ := json.Marshal(m.Message)
			return shorten(secret.hide(string(b))), nil
		}
	case '[':
		var items []ItemError
		if json.Unmarshal(trimmed, &items) == nil && len(items) > 0 {
			parts := make([]string, len(items))
			for i := range items {
				items[i].ID = secret.hide(items[i].ID)
				items[i].Message = secret.hide(items[i].Message)
				parts[i] = items[i].String()
			}
			return shorten(strings.Join(parts, "; ")), items
		}
	}
	if strings.Contains(strings.ToLower(contentType), "html") || trimmed[0] == '<' {
		return shorten("an HTML page, not an API answer: " + secret.hide(htmlText(string(trimmed)))), nil
	}
	return shorten(secret.hide(string(trimmed))), nil
}

var (
	htmlTitle = regexp.MustCompile(`(?is)<title[^>]*>(.*?)</title>`)
	htmlDrop  = regexp.MustCompile(`(?is)<(script|style|head)[^>]*>.*?</(script|style|head)>`)
	htmlTag   = regexp.MustCompile(`(?s)<[^>]*>`)
)

// htmlText is what a person would read on an HTML error page: its title, then
// the text of its body.
func htmlText(page string) string {
	var title string
	if m := htmlTitle.FindStringSubmatch(page); m != nil {
		title = strings.TrimSpace(html.UnescapeString(htmlTag.ReplaceAllString(m[1], " ")))
	}
	text := html.UnescapeString(htmlTag.ReplaceAllString(htmlDrop.ReplaceAllString(page, " "), " "))
	text = strings.Join(strings.Fields(text), " ")
	switch {
	case title == "":
		return text
	case text == "" || text == title:
		return title
	case strings.HasPrefix(text, title):
		return text
	}
	return title + ": " + text
}

// shorten collapses white space and cuts s to maxMessage bytes.
func shorten(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > maxMessage {
		s = strings.ToValidUTF8(s[:maxMessage], "") + "…"
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

// asked names a request in errors: the server, the method and path, and what
// was asked, so a failure can be traced without a debug log.
func (c *Client) asked(k call) string {
	if k.summary == "" {
		return fmt.Sprintf("code ocean %s: %s %s", c.Domain(), k.method, k.path)
	}
	return fmt.Sprintf("code ocean %s: %s %s (%s)", c.Domain(), k.method, k.path, k.summary)
}

// ended is the error of a call whose context ended: a deadline names the time
// the call was given.
func (c *Client) ended(ctx context.Context, k call, start time.Time, err error) error {
	if d, ok := ctx.Deadline(); ok && errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("%s: no answer within the %s left before the caller's deadline: %w", c.asked(k), d.Sub(start).Round(time.Millisecond), err)
	}
	return fmt.Errorf("%s: %w", c.asked(k), err)
}

// limit describes an attempt's time limit: its own, or what was left of its
// call's budget.
func (c *Client) limit(k call, timeout time.Duration) string {
	t := timeout.Round(time.Millisecond)
	if k.read && timeout < c.timeout {
		return fmt.Sprintf("%s (the rest of the call's %s budget)", t, c.retry.MaxElapsed)
	}
	return t.String()
}

func attempts(n int) string {
	if n == 1 {
		return "1 attempt"
	}
	return fmt.Sprintf("%d attempts", n)
}
