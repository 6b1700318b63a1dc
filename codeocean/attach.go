package codeocean

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// maxAttachBatch is the most assets one attach request carries: the API's
// documentation advises against more than 100.
const maxAttachBatch = 100

// Target is where assets are attached: a running computation (a cloud
// workstation, where they appear under /data at once) or a capsule with no
// running computation (they appear at its next run). Set one of the two.
type Target struct {
	Computation string
	Capsule     string
}

func (t Target) String() string {
	if t.Computation != "" {
		return "computation " + t.Computation
	}
	return "capsule " + t.Capsule
}

// AttachOutcome says what became of one asset asked for by Attach.
type AttachOutcome struct {
	Attachment
	// Mount is the asset's folder under /data: as the server answered, as
	// the computation lists it when it was attached already, else as asked.
	Mount string
	// Result is the server's answer when the asset was attached now; Ready
	// false means its folder is not there yet.
	Result *AttachResult
	// Already: it was attached before this call.
	Already bool
	// Err says why it could not be attached.
	Err error
}

// GetComputation returns a computation, with the data assets attached to it.
func (c *Client) GetComputation(ctx context.Context, id string) (Computation, error) {
	var comp Computation
	if err := checkID("computation", id); err != nil {
		return comp, err
	}
	err := c.do(ctx, call{
		method: http.MethodGet,
		path:   "computations/" + url.PathEscape(id),
		read:   true,
	}, &comp)
	return comp, err
}

// AttachBatch sends one attach request for assets (a write: never retried).
// The server attaches all of them or none.
func (c *Client) AttachBatch(ctx context.Context, t Target, assets []Attachment) ([]AttachResult, error) {
	k := call{method: http.MethodPost, version: baseVersion}
	switch {
	case t.Computation != "":
		if err := checkID("computation", t.Computation); err != nil {
			return nil, err
		}
		k.path = "computations/" + url.PathEscape(t.Computation) + "/data_assets"
		k.version = computationAttachVersion
	default:
		if err := checkID("capsule", t.Capsule); err != nil {
			return nil, err
		}
		k.path = "capsules/" + url.PathEscape(t.Capsule) + "/data_assets"
	}
	ids := make([]string, len(assets))
	for i, a := range assets {
		if err := checkID("data asset", a.ID); err != nil {
			return nil, err
		}
		ids[i] = a.ID
	}
	if assets == nil {
		assets = []Attachment{}
	}
	k.body = assets
	k.summary = "assets " + strings.Join(ids, ",")
	var r []AttachResult
	err := c.do(ctx, k, &r)
	return r, err
}

// Attach attaches assets to t and says what became of each. Assets a
// computation lists as attached are not asked for again. The rest go in
// batches of at most 100; since one refused asset fails its whole batch, a
// batch refused for what it holds is asked again one asset at a time, so
// each asset gets its own answer. An asset the server says is attached
// already counts as such. The error is for what fails them all: the
// computation cannot be read, or the token may not attach.
func (c *Client) Attach(ctx context.Context, t Target, assets []Attachment) ([]AttachOutcome, error) {
	out := make([]AttachOutcome, len(assets))
	for i, a := range assets {
		out[i] = AttachOutcome{Attachment: a, Mount: a.Mount}
	}
	var todo []int
	if t.Computation != "" {
		comp, err := c.GetComputation(ctx, t.Computation)
		if err != nil {
			return out, fmt.Errorf("attach to %s: %w", t, err)
		}
		mounts := map[string]string{}
		for _, a := range comp.DataAssets {
			mounts[a.ID] = a.Mount
		}
		for i, a := range assets {
			if m, ok := mounts[a.ID]; ok {
				out[i].Already = true
				if m != "" {
					out[i].Mount = m
				}
				continue
			}
			todo = append(todo, i)
		}
	} else {
		for i := range assets {
			todo = append(todo, i)
		}
	}

	for len(todo) > 0 {
		n := min(len(todo), maxAttachBatch)
		batch := todo[:n]
		todo = todo[n:]
		err := c.attachEach(ctx, t, out, batch)
		if err == nil {
			continue
		}
		if len(batch) > 1 && refusedFor(err) {
			for _, i := range batch {
				if err := c.attachEach(ctx, t, out, []int{i}); err != nil {
					out[i].Already, out[i].Err = alreadyAttached(err, out[i].ID), err
					if out[i].Already {
						out[i].Err = nil
					}
				}
			}
			continue
		}
		if len(batch) == 1 && alreadyAttached(err, out[batch[0]].ID) {
			out[batch[0]].Already = true
			continue
		}
		for _, i := range batch {
			out[i].Err = err
		}
		if errors.Is(err, ErrUnauthorized) || errors.Is(err, ErrForbidden) {
			// Every other batch would be refused the same way.
			for _, i := range todo {
				out[i].Err = err
			}
			return out, fmt.Errorf("attach to %s: %w", t, err)
		}
	}
	return out, nil
}

// attachEach sends the assets out[idx] in one request and records the
// server's answer for each.
func (c *Client) attachEach(ctx context.Context, t Target, out []AttachOutcome, idx []int) error {
	batch := make([]Attachment, len(idx))
	for j, i := range idx {
		batch[j] = out[i].Attachment
	}
	res, err := c.AttachBatch(ctx, t, batch)
	if err != nil {
		return err
	}
	byID := map[string]AttachResult{}
	for _, r := range res {
		byID[r.ID] = r
	}
	for _, i := range idx {
		r, ok := byID[out[i].ID]
		if !ok {
			out[i].Err = fmt.Errorf("attach to %s: the server's answer does not mention %s", t, out[i].ID)
			continue
		}
		out[i].Result = &r
		if r.Mount != "" {
			out[i].Mount = r.Mount
		}
	}
	return nil
}

// refusedFor reports whether a batch was refused for what it holds (an
// asset already attached, unknown, or otherwise refused), not for who asked
// or for the server's health: only then can asking asset by asset help.
func refusedFor(err error) bool {
	var apiErr *APIError
	if !errors.As(err, &apiErr) {
		return false
	}
	switch apiErr.Status {
	case http.StatusBadRequest, http.StatusNotFound, http.StatusConflict, http.StatusUnprocessableEntity:
		return true
	}
	return false
}

// alreadyAttached reports whether the server refused asset id because it is
// attached already, in a message of its own or in the answer's items.
func alreadyAttached(err error, id string) bool {
	var apiErr *APIError
	if !errors.As(err, &apiErr) || !refusedFor(err) {
		return false
	}
	says := func(msg string) bool { return strings.Contains(strings.ToLower(msg), "already attached") }
	for _, it := range apiErr.Items {
		if it.ID == id {
			return says(it.Message)
		}
	}
	return len(apiErr.Items) == 0 && says(apiErr.Message)
}
