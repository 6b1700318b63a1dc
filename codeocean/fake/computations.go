package fake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/aind/aindfs/codeocean"
)

// maxAttachBatch: the API's documentation advises at most 100 assets per
// attach request. The fake refuses more, so a test sees a client that
// sends larger batches.
const maxAttachBatch = 100

// computation is a run of a capsule the fake knows.
type computation struct {
	capsule string
	comp    codeocean.Computation
	mounted map[string]bool // asset IDs whose folders have appeared
}

// AddComputation makes a computation of a capsule known: running (a cloud
// workstation) unless comp.State says otherwise, with comp.DataAssets
// attached (and mounted) already.
func (s *Server) AddComputation(capsuleID string, comp codeocean.Computation) {
	if comp.State == "" {
		comp.State = "running"
		comp.CloudWorkstation = true
	}
	if comp.Created.IsZero() {
		comp.Created = codeocean.Time{Time: time.Now().UTC().Truncate(time.Second)}
	}
	c := &computation{capsule: capsuleID, comp: comp, mounted: map[string]bool{}}
	for _, a := range comp.DataAssets {
		c.mounted[a.ID] = true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.computations[comp.ID] = c
}

// Computation returns a computation as the fake holds it now.
func (s *Server) Computation(id string) (codeocean.Computation, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.computations[id]
	if !ok {
		return codeocean.Computation{}, false
	}
	comp := c.comp
	comp.DataAssets = slices.Clone(comp.DataAssets)
	return comp, true
}

// Attached returns the assets attached to a capsule (not to its
// computations), in attachment order.
func (s *Server) Attached(capsuleID string) []codeocean.AttachResult {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.attached[capsuleID])
}

func (s *Server) getComputation(w http.ResponseWriter, id string) {
	comp, ok := s.Computation(id)
	if !ok {
		s.writeError(w, http.StatusNotFound, fmt.Sprintf("computation %s not found", id))
		return
	}
	if comp.DataAssets == nil {
		comp.DataAssets = []codeocean.AttachedAsset{}
	}
	writeJSON(w, http.StatusOK, comp)
}

// attachRequest reads an attach body, [{"id", "mount"?}], refusing more than
// maxAttachBatch assets.
func (s *Server) attachRequest(w http.ResponseWriter, body []byte) ([]codeocean.Attachment, bool) {
	var req []codeocean.Attachment
	if err := json.Unmarshal(body, &req); err != nil {
		s.writeError(w, http.StatusBadRequest, "invalid body: want [{\"id\", \"mount\"}]: "+err.Error())
		return nil, false
	}
	if len(req) > maxAttachBatch {
		s.writeError(w, http.StatusBadRequest, fmt.Sprintf("too many data assets in one request: %d, at most %d", len(req), maxAttachBatch))
		return nil, false
	}
	return req, true
}

// refuse checks every asset of an attach request and answers the refusals,
// one {"id", "message"} per refused asset in a JSON array, as the real
// server does: one refused asset refuses the whole request. The caller
// holds s.mu.
func (s *Server) refuse(w http.ResponseWriter, req []codeocean.Attachment, attached func(id string) bool) bool {
	var refusals []map[string]string
	notFound := 0
	for _, a := range req {
		switch _, known := s.byID[a.ID]; {
		case !known:
			notFound++
			refusals = append(refusals, map[string]string{"id": a.ID, "message": "data asset not found"})
		case attached(a.ID):
			refusals = append(refusals, map[string]string{"id": a.ID, "message": "data asset is already attached"})
		}
	}
	if len(refusals) == 0 {
		return false
	}
	status := http.StatusBadRequest
	if notFound == len(refusals) {
		status = http.StatusNotFound
	}
	if s.opts.HTMLErrors {
		writeHTML(w, status, fmt.Sprint(refusals))
		return true
	}
	writeJSON(w, status, refusals)
	return true
}

// result is the attach answer for one asset. The caller holds s.mu.
func (s *Server) result(a codeocean.Attachment, ready bool) codeocean.AttachResult {
	asset := s.assets[s.byID[a.ID]].asset
	mount := a.Mount
	if mount == "" {
		mount = asset.Mount
	}
	if mount == "" {
		mount = asset.Name
	}
	s.jobs++
	state := "mounted"
	if !ready {
		state = "mounting"
	}
	return codeocean.AttachResult{
		ID:         a.ID,
		Mount:      mount,
		MountState: state,
		JobID:      "job-" + strconv.Itoa(s.jobs),
		External:   asset.SourceBucket != nil && asset.SourceBucket.External,
		Ready:      ready,
	}
}

func (s *Server) attachToCapsule(w http.ResponseWriter, capsuleID string, body []byte) {
	req, ok := s.attachRequest(w, body)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, c := range s.computations {
		if c.capsule == capsuleID && c.comp.State == "running" {
			s.writeError(w, http.StatusBadRequest, fmt.Sprintf(
				"capsule %s has a running cloud workstation (computation %s): attach data assets to the computation instead", capsuleID, id))
			return
		}
	}
	if s.refuse(w, req, func(id string) bool {
		return slices.ContainsFunc(s.attached[capsuleID], func(r codeocean.AttachResult) bool { return r.ID == id })
	}) {
		return
	}
	results := make([]codeocean.AttachResult, 0, len(req))
	for _, a := range req {
		// Attached to a capsule, an asset is there at its next run.
		results = append(results, s.result(a, s.assets[s.byID[a.ID]].asset.State == "ready"))
	}
	s.attached[capsuleID] = append(s.attached[capsuleID], results...)
	writeJSON(w, http.StatusOK, results)
}

func (s *Server) attachToComputation(w http.ResponseWriter, id string, body []byte) {
	req, ok := s.attachRequest(w, body)
	if !ok {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.computations[id]
	switch {
	case !ok:
		s.writeError(w, http.StatusNotFound, fmt.Sprintf("computation %s not found", id))
		return
	case c.comp.State != "running":
		s.writeError(w, http.StatusBadRequest, fmt.Sprintf("computation %s is not running (%s)", id, c.comp.State))
		return
	}
	if s.refuse(w, req, func(id string) bool {
		return slices.ContainsFunc(c.comp.DataAssets, func(a codeocean.AttachedAsset) bool { return a.ID == id })
	}) {
		return
	}
	delay := s.opts.MountDelay
	results := make([]codeocean.AttachResult, 0, len(req))
	for _, a := range req {
		r := s.result(a, delay <= 0)
		results = append(results, r)
		c.comp.DataAssets = append(c.comp.DataAssets, codeocean.AttachedAsset{ID: r.ID, Mount: r.Mount})
		if delay <= 0 {
			s.mount(c, r)
		} else {
			time.AfterFunc(delay, func() {
				s.mu.Lock()
				defer s.mu.Unlock()
				s.mount(c, r)
			})
		}
	}
	writeJSON(w, http.StatusOK, results)
}

// mount makes an attached asset's folder appear in DataDir, as the running
// capsule's /data gains it. The caller holds s.mu.
func (s *Server) mount(c *computation, r codeocean.AttachResult) {
	c.mounted[r.ID] = true
	if s.opts.DataDir == "" {
		return
	}
	dir := filepath.Join(s.opts.DataDir, filepath.Base(r.Mount))
	if os.MkdirAll(dir, 0o755) == nil {
		os.WriteFile(filepath.Join(dir, "data_description.json"), []byte(fmt.Sprintf("{\"name\": %q}\n", r.Mount)), 0o644)
	}
}

// checkVersion says why a request's Min-Server-Version is refused, or "".
// A request without the header is served: older clients send none.
func (s *Server) checkVersion(h string) string {
	h = strings.TrimSpace(h)
	if h == "" {
		return ""
	}
	v, ok := parseVersion(h)
	if !ok {
		return fmt.Sprintf("invalid Min-Server-Version %q: want a version such as 4.2.0", h)
	}
	if compareVersions(v, s.version) > 0 {
		return fmt.Sprintf("this server is version %s, older than the Min-Server-Version %s the request needs", formatVersion(s.version), h)
	}
	return ""
}

// older reports whether the server's version is below v.
func (s *Server) older(v string) bool {
	want, _ := parseVersion(v)
	return compareVersions(s.version, want) < 0
}

// parseVersion reads "x.y.z" (or "x.y", "x").
func parseVersion(v string) ([3]int, bool) {
	var out [3]int
	parts := strings.Split(v, ".")
	if len(parts) == 0 || len(parts) > 3 {
		return out, false
	}
	for i, p := range parts {
		n, err := strconv.Atoi(p)
		if err != nil || n < 0 || strconv.Itoa(n) != p {
			return out, false
		}
		out[i] = n
	}
	return out, true
}

func compareVersions(a, b [3]int) int {
	for i := range a {
		if a[i] != b[i] {
			if a[i] < b[i] {
				return -1
			}
			return 1
		}
	}
	return 0
}

func formatVersion(v [3]int) string { return fmt.Sprintf("%d.%d.%d", v[0], v[1], v[2]) }
