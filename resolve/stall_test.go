package resolve

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aind/aindfs/codeocean"
	"github.com/aind/aindfs/codeocean/fake"
)

// With the client's budget for one call below the resolver's bound on a
// lookup (as the command line sets them, 25 s under 30 s; here with room for
// a loaded machine), a stalled Code Ocean ends in an error naming the
// server, the request and the time it was given, and the next lookup gets
// that error at once.
func TestStalledCatalogErrorSaysWhatStalled(t *testing.T) {
	co := fake.New(nil, fake.Options{Token: testToken})
	co.FailNext(1000, fake.Fault{Delay: time.Hour})
	client, err := codeocean.New(codeocean.Config{Domain: co.Start(t), Token: testToken, Retry: codeocean.Retry{MaxElapsed: 300 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	r := New(Config{Catalog: client, Objects: newFakeObjects(t), Buckets: []string{}, LookupTimeout: 5 * time.Second})
	t.Cleanup(r.Close)
	s, err := ParseSession("ecephys_676909_2023-12-13_13-43-40")
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.RawAsset(context.Background(), s)
	if err == nil {
		t.Fatal("a stalled catalog answered")
	}
	for _, want := range []string{client.Domain(), "POST data_assets/search", `query "name:ecephys_676909_2023-"`, `filter "subject id"="676909"`, "no answer within 300ms"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not say %q:\n%v", want, err)
		}
	}
	sent := co.Count("", "")
	_, again := r.RawAsset(context.Background(), s)
	if again == nil || again.Error() != err.Error() || co.Count("", "") != sent {
		t.Errorf("second lookup: %v after %d more requests; want the same error, remembered", again, co.Count("", "")-sent)
	}
}
