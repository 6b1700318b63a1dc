package fs

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/aind/aindfs/resolve"
)

// subjectsDir is subjects/: a folder per subject, by subject ID.
type subjectsDir struct{ t *Tree }

func (d *subjectsDir) Name() string { return subjectsName }
func (d *subjectsDir) Path() string { return subjectsName }
func (d *subjectsDir) Attr() Attr   { return dirAttr(subjectsName, d.t.started, ValidListing) }

func (d *subjectsDir) ReadDir(ctx context.Context) ([]Node, error) {
	var nodes []Node
	seen := map[string]bool{}
	for _, s := range d.t.r.KnownSessions(ctx) {
		subj := s.Subject()
		if !seen[subj.ID()] {
			seen[subj.ID()] = true
			nodes = append(nodes, &subjectDir{t: d.t, subj: subj})
		}
	}
	return sortNodes(nodes), nil
}

func (d *subjectsDir) Lookup(ctx context.Context, name string) (Node, error) {
	if len(name) < 6 || len(name) > 7 || strings.Trim(name, "0123456789") != "" {
		return nil, notExist(subjectsName, name, fmt.Errorf("%q is not a subject ID of 6-7 digits", name))
	}
	subj, err := resolve.ParseSubject(name)
	if err != nil {
		return nil, notExist(subjectsName, name, err)
	}
	if subj.ID() != name { // leading zeros: a link to the ID as the catalog writes it
		return &link{path: join(subjectsName, name), target: subj.ID(), modTime: d.t.started, valid: ValidSession}, nil
	}
	sessions, err := d.t.r.SubjectSessions(ctx, subj)
	if err != nil && !isNotFound(err) {
		return nil, pathError(join(subjectsName, name), err, "finding the sessions of subject %s", subj)
	}
	if len(sessions) == 0 {
		why := err
		if why == nil {
			why = fmt.Errorf("no session of subject %s found", subj)
		}
		d.t.log.Warn("no such subject", "subject", name, "why", why)
		return nil, notExist(subjectsName, name, why)
	}
	return &subjectDir{t: d.t, subj: subj}, nil
}

// subjectDir is subjects/<id>/: a link per session of the subject.
type subjectDir struct {
	t    *Tree
	subj resolve.Subject
}

func (d *subjectDir) Name() string { return d.subj.ID() }
func (d *subjectDir) Path() string { return join(subjectsName, d.subj.ID()) }
func (d *subjectDir) Attr() Attr   { return dirAttr(d.Path(), d.t.started, ValidSession) }

func (d *subjectDir) sessions(ctx context.Context) ([]resolve.Session, error) {
	sessions, err := d.t.r.SubjectSessions(ctx, d.subj)
	switch {
	case err == nil:
		return sessions, nil
	case isNotFound(err):
		return nil, nil
	}
	return nil, pathError(d.Path(), err, "finding the sessions of subject %s", d.subj)
}

func (d *subjectDir) sessionLink(s resolve.Session) *link {
	return &link{path: join(d.Path(), s.ID()), target: "../../" + sessionsName + "/" + s.ID(), modTime: s.DT(), valid: ValidSession}
}

func (d *subjectDir) ReadDir(ctx context.Context) ([]Node, error) {
	sessions, err := d.sessions(ctx)
	if err != nil {
		return nil, err
	}
	var nodes []Node
	for _, s := range sessions {
		nodes = append(nodes, d.sessionLink(s))
	}
	return slices.CompactFunc(sortNodes(nodes), func(a, b Node) bool { return a.Name() == b.Name() }), nil
}

func (d *subjectDir) Lookup(ctx context.Context, name string) (Node, error) {
	s, err := resolve.ParseSession(name)
	if err != nil {
		return nil, notExist(d.Path(), name, err)
	}
	if s.ID() != name || s.Subject() != d.subj {
		return nil, notExist(d.Path(), name, fmt.Errorf("not the ID of a session of subject %s", d.subj))
	}
	sessions, err := d.sessions(ctx)
	if err != nil {
		return nil, err
	}
	if !slices.ContainsFunc(sessions, func(t resolve.Session) bool { return t.ID() == name }) {
		return nil, notExist(d.Path(), name, fmt.Errorf("no such session of subject %s found", d.subj))
	}
	return d.sessionLink(s), nil
}
