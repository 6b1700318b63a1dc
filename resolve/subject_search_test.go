package resolve

import (
	"context"
	"slices"
	"testing"

	"github.com/aind/aindfs/codeocean"
	"github.com/aind/aindfs/codeocean/fake"
)

// The subject search is an exact metadata filter where the server has
// filters (3.1 and later); an older server refuses it, and the same question
// is asked in query form, once refused per client. Both find the same
// sessions.
func TestSubjectSearchFilterAndFallback(t *testing.T) {
	subj, err := ParseSubject("676909")
	if err != nil {
		t.Fatal(err)
	}
	sessionsOn := func(version string) ([]Session, []string) {
		co := fake.New(nil, fake.Options{Token: testToken, ServerVersion: version})
		if err := co.LoadCatalog("../testdata/codeocean/catalog.json"); err != nil {
			t.Fatal(err)
		}
		client, err := codeocean.New(codeocean.Config{Domain: co.Start(t), Token: testToken, Retry: codeocean.Retry{MaxAttempts: 1}})
		if err != nil {
			t.Fatal(err)
		}
		r := New(Config{Catalog: client, Objects: newFakeObjects(t), Buckets: []string{}})
		t.Cleanup(r.Close)
		got, err := r.SubjectSessions(context.Background(), subj)
		if err != nil {
			t.Fatal(err)
		}
		return got, co.Searches()
	}
	newer, newAsked := sessionsOn(fake.DefaultServerVersion)
	older, oldAsked := sessionsOn("3.0.0")
	if len(newer) == 0 || !slices.Equal(newer, older) {
		t.Errorf("sessions: %v on a new server, %v on an old one; want the same, not none", newer, older)
	}
	slices.Sort(newAsked)
	if want := []string{"676909", "subject id=676909"}; !slices.Equal(newAsked, want) {
		t.Errorf("new server asked %q, want %q", newAsked, want)
	}
	if !slices.Contains(oldAsked, "subject id=676909") || !slices.Contains(oldAsked, "subject id:676909") {
		t.Errorf("old server asked %q, want the filter, then the query form", oldAsked)
	}
}
