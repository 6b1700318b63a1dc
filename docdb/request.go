package docdb

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aind/aindfs/internal/httpsonly"
	"github.com/aind/aindfs/internal/retry"
)

// maxPageBytes bounds one answer: the gateway cuts pages at a few MB, so
// anything far larger is not a page of records.
const maxPageBytes = 64 << 20

// outcome is the end of one attempt.
type outcome struct {
	err        error
	retry      bool
	retryAfter time.Duration
	hasAfter   bool
}

// page asks for one page, retrying what may pass, and decodes the array.
func (c *Client) page(ctx context.Context, e encoded, skip int) ([]json.RawMessage, error) {
	u := *c.find
	u.RawQuery = e.values(skip).Encode()
	target := u.String()
	ask := e.String()
	if skip > 0 {
		ask += fmt.Sprintf(", skip %d", skip)
	}

	start := time.Now()
	for attempt := 1; ; attempt++ {
		// No attempt outlasts the call's budget, even on a stalled server.
		timeout := min(c.timeout, c.retry.MaxElapsed-time.Since(start))
		recs, o := c.attempt(ctx, target, ask, attempt, timeout)
		if o.err == nil {
			return recs, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("docdb find (%s): %w", ask, err)
		}
		if !o.retry {
			return nil, o.err
		}
		elapsed := time.Since(start)
		if attempt >= c.retry.MaxAttempts {
			return nil, fmt.Errorf("%w (gave up after %d attempts in %s)", o.err, attempt, elapsed.Round(time.Millisecond))
		}
		wait := c.retry.Wait(attempt, o.retryAfter, o.hasAfter)
		if elapsed+wait >= c.retry.MaxElapsed {
			return nil, fmt.Errorf("%w (gave up after %d attempts in %s: the next wait of %s would pass the %s budget)",
				o.err, attempt, elapsed.Round(time.Millisecond), wait.Round(time.Millisecond), c.retry.MaxElapsed)
		}
		c.log.DebugContext(ctx, "docdb retry", "ask", ask, "attempt", attempt, "wait", wait,
			"retry_after", o.hasAfter, "cause", o.err.Error())
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("docdb find (%s): waiting to retry after %v: %w", ask, o.err, ctx.Err())
		case <-t.C:
		}
	}
}

// attempt sends the request once and reads the whole answer under the
// attempt's own timeout, so a stalled server costs one attempt, not the call.
func (c *Client) attempt(ctx context.Context, target, ask string, n int, timeout time.Duration) ([]json.RawMessage, outcome) {
	actx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	fail := func(format string, args ...any) error {
		return fmt.Errorf("docdb find (%s): "+format, append([]any{ask}, args...)...)
	}
	req, err := http.NewRequestWithContext(actx, http.MethodGet, target, nil)
	if err != nil {
		return nil, outcome{err: fail("%w", err)}
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "aindfs")

	c.log.DebugContext(ctx, "docdb request", "ask", ask, "attempt", n)
	sent := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		// The query is named already; the URL that url.Error adds repeats it, escaped.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if actx.Err() != nil && ctx.Err() == nil {
			err = fmt.Errorf("no answer within %s: %w", timeout.Round(time.Millisecond), err)
		}
		c.log.DebugContext(ctx, "docdb request failed", "ask", ask, "attempt", n, "elapsed", time.Since(sent), "err", err.Error())
		return nil, outcome{err: fail("%w", err), retry: retry.Transient(err) && !errors.Is(err, httpsonly.ErrRedirect)}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxPageBytes+1))
	c.log.DebugContext(ctx, "docdb answer", "ask", ask, "status", resp.StatusCode, "bytes", len(data),
		"attempt", n, "elapsed", time.Since(sent))
	if err != nil {
		if actx.Err() != nil && ctx.Err() == nil {
			err = fmt.Errorf("answer not finished within %s: %w", timeout.Round(time.Millisecond), err)
		}
		return nil, outcome{err: fail("reading the %d answer: %w", resp.StatusCode, err), retry: true}
	}
	if len(data) > maxPageBytes {
		return nil, outcome{err: fail("answer larger than %d bytes", maxPageBytes)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		o := outcome{
			err:   &APIError{Status: resp.StatusCode, Message: serverMessage(data), Query: ask},
			retry: retry.Status(resp.StatusCode),
		}
		o.retryAfter, o.hasAfter = retry.RetryAfter(resp.Header.Get("Retry-After"), time.Now())
		return nil, o
	}
	var recs []json.RawMessage
	if err := json.Unmarshal(data, &recs); err != nil {
		return nil, outcome{err: fail("the answer is not an array of records: %w (it starts %q)", err, start(data))}
	}
	return recs, outcome{}
}

// serverMessage is the start of an error answer: its body is not documented,
// so whatever it holds is shown, briefly.
func serverMessage(data []byte) string {
	var m struct {
		Message any `json:"message"`
		Detail  any `json:"detail"`
	}
	if json.Unmarshal(data, &m) == nil {
		for _, v := range []any{m.Message, m.Detail} {
			if s, ok := v.(string); ok && s != "" {
				return s
			}
		}
	}
	return start(data)
}

// start is the beginning of a body, on one line.
func start(data []byte) string {
	s := strings.Join(strings.Fields(string(bytes.TrimSpace(data))), " ")
	if len(s) > 200 {
		s = strings.ToValidUTF8(s[:200], "") + "…"
	}
	return s
}
