package resolve

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aind/aindfs/codeocean"
	cofake "github.com/aind/aindfs/codeocean/fake"
	"github.com/aind/aindfs/docdb"
	dbfake "github.com/aind/aindfs/docdb/fake"
	"github.com/aind/aindfs/internal/logtest"
	"github.com/aind/aindfs/internal/retry"
	"github.com/aind/aindfs/store"
)

// both asks Code Ocean and DocDB, each an HTTP fake.
type both struct {
	r    *Resolver
	co   *cofake.Server
	db   *dbfake.Server
	logs *logtest.Buffer
}

type bothOptions struct {
	noDocDB   bool          // Code Ocean alone
	dbTimeout time.Duration // per DocDB attempt; 0: the default
	dbPageCap int
	// recordsWait is how long the resolver waits for DocDB; 0: the default.
	recordsWait time.Duration
}

func newBoth(t *testing.T, assets []codeocean.DataAsset, records []any, o bothOptions) *both {
	t.Helper()
	co := cofake.New(assets, cofake.Options{Token: testToken})
	client, err := codeocean.New(codeocean.Config{Domain: co.Start(t), Token: testToken, Retry: codeocean.Retry{MaxAttempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	logs := &logtest.Buffer{}
	cfg := Config{Catalog: client, Objects: newFakeObjects(t), Buckets: []string{}, Logger: logtest.Logger(logs), RecordsWait: o.recordsWait}
	db := dbfake.New(dbfake.Options{PageCap: o.dbPageCap}, records...)
	if !o.noDocDB {
		dc, err := docdb.New(docdb.Config{URL: db.Start(t), Timeout: o.dbTimeout,
			Retry: retry.Policy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: time.Millisecond}})
		if err != nil {
			t.Fatal(err)
		}
		cfg.Records = dc
	}
	r := New(cfg)
	t.Cleanup(r.Close)
	return &both{r: r, co: co, db: db, logs: logs}
}

func (b *both) coRequests() int { return len(b.co.Requests()) }

func unix(s string) codeocean.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return codeocean.Time{Time: t}
}

// upload is a raw asset of session as Code Ocean lists it.
func upload(id, session, created, bucket string) codeocean.DataAsset {
	return codeocean.DataAsset{
		ID: id, Name: session, Created: unix(created), Type: "dataset", State: "ready",
		Tags:           []string{"ecephys", "raw"},
		CustomMetadata: map[string]codeocean.String{"subject id": codeocean.String(MustParseSession(session).SubjectID()), "data level": "raw data"},
		SourceBucket:   &codeocean.SourceBucket{Origin: "aws", Bucket: bucket, Prefix: session, External: true},
	}
}

// record is a DocDB record of session; links is external_links in
// whichever shape the test gives (nil: none).
func record(id, session, created string, links any, extra ...string) map[string]any {
	rec := map[string]any{
		"_id": id, "name": session, "created": created,
		"location": "s3://aind-ephys-data/" + session,
		"subject":  map[string]any{"subject_id": MustParseSession(session).SubjectID(), "sex": "Female"},
	}
	if links != nil {
		rec["external_links"] = links
	}
	for i := 0; i+1 < len(extra); i += 2 {
		rec[extra[i]] = extra[i+1]
	}
	return rec
}

const (
	docSession = "ecephys_700100_2024-02-01_10-00-00"
	uploadOld  = "00000000-0000-4000-8000-000000000001" // created first
	uploadMid  = "00000000-0000-4000-8000-000000000002"
	uploadNew  = "00000000-0000-4000-8000-000000000003" // the Code Ocean rules' choice: the newest raw upload
)

func docCatalog() []codeocean.DataAsset {
	return []codeocean.DataAsset{
		upload(uploadOld, docSession, "2024-02-01T12:00:00Z", "aind-open-data"),
		upload(uploadMid, docSession, "2024-02-02T12:00:00Z", "aind-open-data"),
		upload(uploadNew, docSession, "2024-02-03T12:00:00Z", "aind-private-data-prod-o5171v"),
		{ID: "00000000-0000-4000-8000-000000000009", Name: docSession + "_sorted_2024-03-01_00-00-00", Created: unix("2024-03-01T00:00:00Z"),
			Type: "result", CustomMetadata: map[string]codeocean.String{"subject id": "700100"}},
	}
}

func TestRecordDecidesTheRawAsset(t *testing.T) {
	current := func(ids ...string) any { return map[string]any{"Code Ocean": ids} }
	older := func(ids ...string) any {
		var l []any
		for _, id := range ids {
			l = append(l, map[string]any{"Code Ocean": id})
		}
		return l
	}
	const fromRecord, fromBucket = "s3://aind-ephys-data/" + docSession, "s3://aind-private-data-prod-o5171v/" + docSession
	tests := []struct {
		title   string
		records []any
		raw     string
		dir     string
	}{
		{"current link shape", []any{record("r1", docSession, "2024-02-01T13:00:00Z", current(uploadMid))}, uploadMid, fromRecord},
		{"older link shape", []any{record("r1", docSession, "2024-02-01T13:00:00Z", older(uploadOld))}, uploadOld, fromRecord},
		{"several links: the newest by Code Ocean's created, not the last listed",
			[]any{record("r1", docSession, "2024-02-01T13:00:00Z", current(uploadMid, uploadOld))}, uploadMid, fromRecord},
		{"record without links: the Code Ocean rules, the record's location",
			[]any{record("r1", docSession, "2024-02-01T13:00:00Z", nil)}, uploadNew, fromRecord},
		{"record linking an asset Code Ocean does not have: the Code Ocean rules",
			[]any{record("r1", docSession, "2024-02-01T13:00:00Z", current("11111111-0000-4000-8000-000000000000"))}, uploadNew, fromRecord},
		{"newest record decides", []any{
			record("r2", docSession, "2024-02-05T00:00:00Z", current(uploadMid)),
			record("r1", docSession, "2024-02-01T13:00:00Z", current(uploadOld)),
		}, uploadMid, fromRecord},
		{"equal created times: the record modified last", []any{
			record("r1", docSession, "2024-02-01T13:00:00Z", current(uploadOld), "last_modified", "2024-06-01T00:00:00Z"),
			record("r2", docSession, "2024-02-01T13:00:00Z", current(uploadMid), "last_modified", "2024-05-01T00:00:00Z"),
		}, uploadOld, fromRecord},
		{"a derived asset's record does not decide", []any{
			record("r9", docSession+"_sorted_2024-03-01_00-00-00", "2024-03-01T00:00:00Z", current(uploadOld)),
		}, uploadNew, fromBucket},
		{"no record: the Code Ocean rules and the raw asset's bucket", nil, uploadNew, fromBucket},
	}
	for _, tt := range tests {
		t.Run(tt.title, func(t *testing.T) {
			b := newBoth(t, docCatalog(), tt.records, bothOptions{})
			s := MustParseSession(docSession)
			raw, err := b.r.RawAsset(context.Background(), s)
			if err != nil {
				t.Fatal(err)
			}
			if raw.ID != tt.raw || raw.Name != docSession {
				t.Errorf("raw asset %s (%s), want %s", raw.ID, raw.Name, tt.raw)
			}
			dir, err := b.r.RawDataDir(context.Background(), s)
			if err != nil || dir.String() != tt.dir {
				t.Errorf("raw data dir %v, %v; want %s", dir, err, tt.dir)
			}
		})
	}
}

func TestRecordLocationWithoutRawAsset(t *testing.T) {
	// Only a sorted asset in Code Ocean; the record says where the raw data is.
	const s0 = "ecephys_700101_2024-02-01_10-00-00"
	cat := []codeocean.DataAsset{{ID: "00000000-0000-4000-8000-0000000000aa", Name: s0 + "_sorted_2024-03-01_00-00-00",
		Created: unix("2024-03-01T00:00:00Z"), Type: "result"}}
	b := newBoth(t, cat, []any{record("r1", s0, "2024-02-01T13:00:00Z", nil)}, bothOptions{})
	s := MustParseSession(s0)
	dir, err := b.r.RawDataDir(context.Background(), s)
	if err != nil || dir != store.S3("aind-ephys-data", s0) {
		t.Fatalf("raw data dir %v, %v", dir, err)
	}
	_, err = b.r.RawAsset(context.Background(), s)
	if err == nil || !strings.Contains(err.Error(), "raw data exists at s3://aind-ephys-data/"+s0+" but no asset was made for it") {
		t.Errorf("raw asset error %v", err)
	}
}

func TestRequestsForASession(t *testing.T) {
	b := newBoth(t, docCatalog(), []any{record("r1", docSession, "2024-02-01T13:00:00Z", map[string]any{"Code Ocean": []string{uploadMid}})}, bothOptions{})
	ctx := context.Background()
	s := MustParseSession(docSession)
	info, err := b.r.Info(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if info.RawDataAsset == nil || info.RawDataAsset.ID != uploadMid || info.RawDataDir != "s3://aind-ephys-data/"+docSession || len(info.DataAssets) != 4 {
		t.Errorf("session.json %+v", info)
	}
	// DocDB: the subject's records (one page, then the empty page that ends
	// them). Code Ocean: the session's three searches, the linked asset
	// found among the subject's results, so no GET.
	if n := b.db.Count(); n != 2 {
		t.Errorf("%d DocDB requests, want 2", n)
	}
	if n := b.co.Count("POST", "data_assets/search"); n != 3 {
		t.Errorf("%d Code Ocean searches, want 3", n)
	}
	if n := b.co.Count("GET", ""); n != 0 {
		t.Errorf("%d Code Ocean GETs, want 0", n)
	}
	reqs := b.db.Requests()
	if reqs[0].Filter != `{"subject.subject_id":"700100"}` || !strings.Contains(reqs[0].Projection, `"external_links":1`) {
		t.Errorf("DocDB request %+v", reqs[0])
	}

	// The whole record, for metadata/docdb.json: one more query, by name.
	rec, ok, err := b.r.Record(ctx, s)
	if err != nil || !ok || rec.ID != "r1" || !strings.Contains(string(rec.Raw), `"sex":"Female"`) {
		t.Fatalf("record %s, %v, %v", rec.Raw, ok, err)
	}
	if n := b.db.Count(); n != 4 {
		t.Errorf("%d DocDB requests after the whole record, want 4", n)
	}

	// Warm: nothing asked again.
	db, co := b.db.Count(), b.coRequests()
	if _, err := b.r.Info(ctx, s); err != nil {
		t.Fatal(err)
	}
	if _, _, err := b.r.Record(ctx, s); err != nil {
		t.Fatal(err)
	}
	if b.db.Count() != db || b.coRequests() != co {
		t.Errorf("warm lookup asked again: DocDB %d → %d, Code Ocean %d → %d", db, b.db.Count(), co, b.coRequests())
	}
}

// subjectSessions makes a subject with 50 sessions, each with a raw upload
// and a sorted asset in Code Ocean and a record in DocDB; name gives the
// i-th session's ID.
func subjectSessions(name func(i int) string) ([]codeocean.DataAsset, []any, []Session) {
	var cat []codeocean.DataAsset
	var recs []any
	var sessions []Session
	for i := range 50 {
		id := name(i)
		s := MustParseSession(id)
		sessions = append(sessions, s)
		raw := upload(fmt.Sprintf("00000000-0000-4000-8000-%012d", i), id, s.DT().Add(time.Hour).Format(time.RFC3339), "aind-ephys-data")
		cat = append(cat, raw, codeocean.DataAsset{ID: fmt.Sprintf("00000000-0000-4000-9000-%012d", i), Name: id + "_sorted_2024-05-01_00-00-00",
			Created: unix("2024-05-01T00:00:00Z"), Type: "result", CustomMetadata: map[string]codeocean.String{"subject id": "700200"}})
		recs = append(recs, record(fmt.Sprint("r", i), id, s.DT().Add(2*time.Hour).Format(time.RFC3339), map[string]any{"Code Ocean": []string{raw.ID}}))
	}
	slices.SortFunc(sessions, Session.Compare)
	return cat, recs, sessions
}

func TestRequestsForASubjectWith50Sessions(t *testing.T) {
	tests := []struct {
		title string
		name  func(i int) string
		// Code Ocean alone: the two subject searches and one name search per
		// distinct 20-character name prefix (platform, subject, year).
		alone int
		// With DocDB: the two subject searches, and the subject's records
		// (one page and the empty page that ends them); the records decide
		// every raw asset and folder, so no name search is made.
		co, db int
	}{
		{"one platform, one year", func(i int) string {
			return fmt.Sprintf("ecephys_700200_2024-03-%02d_%02d-00-00", i%28+1, i/28+10)
		}, 3, 2, 2},
		{"behavior over a new year, then ecephys", func(i int) string {
			if i < 30 {
				return fmt.Sprintf("behavior_700200_%s_09-00-00", time.Date(2023, 12, 10+i, 0, 0, 0, 0, time.UTC).Format("2006-01-02"))
			}
			return fmt.Sprintf("ecephys_700200_2024-02-%02d_14-00-00", i-29)
		}, 5, 2, 2},
	}
	for _, tt := range tests {
		t.Run(tt.title, func(t *testing.T) {
			cat, recs, want := subjectSessions(tt.name)
			ctx := context.Background()
			subj, _ := ParseSubject("700200")
			// What `ls subjects/700200/*/raw` asks: the subject's sessions,
			// then each one's raw asset and raw folder.
			walk := func(b *both) (raws, dirs []string) {
				t.Helper()
				got, err := b.r.SubjectSessions(ctx, subj)
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(got, want) {
					t.Fatalf("sessions %v, want %v", got, want)
				}
				for _, s := range got {
					a, err := b.r.RawAsset(ctx, s)
					if err != nil {
						t.Fatal(err)
					}
					d, err := b.r.RawDataDir(ctx, s)
					if err != nil {
						t.Fatal(err)
					}
					raws, dirs = append(raws, a.ID), append(dirs, d.String())
				}
				return raws, dirs
			}
			alone := newBoth(t, cat, nil, bothOptions{noDocDB: true})
			rawsAlone, dirsAlone := walk(alone)
			withDB := newBoth(t, cat, recs, bothOptions{})
			rawsDB, dirsDB := walk(withDB)
			if !slices.Equal(rawsAlone, rawsDB) || !slices.Equal(dirsAlone, dirsDB) {
				t.Errorf("the two ways disagree:\n%v %v\n%v %v", rawsAlone, dirsAlone, rawsDB, dirsDB)
			}
			t.Logf("requests for 50 sessions: Code Ocean alone %d; with DocDB %d Code Ocean + %d DocDB",
				alone.coRequests(), withDB.coRequests(), withDB.db.Count())
			if alone.coRequests() != tt.alone {
				t.Errorf("Code Ocean alone: %d requests, want %d", alone.coRequests(), tt.alone)
			}
			if withDB.coRequests() != tt.co || withDB.db.Count() != tt.db {
				t.Errorf("with DocDB: %d Code Ocean and %d DocDB requests, want %d and %d", withDB.coRequests(), withDB.db.Count(), tt.co, tt.db)
			}
		})
	}
}

func TestDocDBDownOrSlow(t *testing.T) {
	tests := []struct {
		title string
		fault dbfake.Fault
		opts  bothOptions
		cause string
	}{
		{"down", dbfake.Fault{Status: 503}, bothOptions{dbTimeout: 50 * time.Millisecond}, "503 Service Unavailable"},
		{"slow: the client's timeout", dbfake.Fault{Hang: true}, bothOptions{dbTimeout: 50 * time.Millisecond}, "no answer within 50ms"},
		// The client would wait its own minutes; the resolver waits less, so
		// Code Ocean's answer comes within the lookup.
		{"slow: the resolver's wait", dbfake.Fault{Hang: true}, bothOptions{dbTimeout: time.Hour, recordsWait: 100 * time.Millisecond},
			"docdb gave no answer within 100ms"},
	}
	for _, tt := range tests {
		t.Run(tt.title, func(t *testing.T) {
			b := newBoth(t, docCatalog(), []any{record("r1", docSession, "2024-02-01T13:00:00Z", map[string]any{"Code Ocean": []string{uploadOld}})},
				tt.opts)
			b.db.SetFaultHook(func(dbfake.Request) *dbfake.Fault { f := tt.fault; return &f })
			ctx := context.Background()
			s := MustParseSession(docSession)
			info, err := b.r.Info(ctx, s)
			if err != nil {
				t.Fatal(err)
			}
			// Code Ocean's rules answer: the newest raw upload and its bucket.
			if info.RawDataAsset == nil || info.RawDataAsset.ID != uploadNew || info.RawDataDir != "s3://aind-private-data-prod-o5171v/"+docSession {
				t.Errorf("session.json %+v", info)
			}
			sessions, err := b.r.SubjectSessions(ctx, s.Subject())
			if err != nil || !slices.Equal(sessions, []Session{s}) {
				t.Errorf("subject's sessions %v, %v", sessions, err)
			}
			if _, ok, err := b.r.Record(ctx, s); ok || err != nil {
				t.Errorf("record ok=%v err=%v, want none", ok, err)
			}
			logs := b.logs.String()
			for _, want := range []string{"docdb failed; using Code Ocean and the buckets alone", "docdb failed; sessions of subject from the other sources", tt.cause} {
				if !strings.Contains(logs, want) {
					t.Errorf("log lacks %q:\n%s", want, logs)
				}
			}
		})
	}
}

func TestCodeOceanDownDocDBAnswers(t *testing.T) {
	b := newBoth(t, docCatalog(), []any{record("r1", docSession, "2024-02-01T13:00:00Z", map[string]any{"Code Ocean": []string{uploadMid}})}, bothOptions{})
	b.co.SetFaultHook(func(cofake.Request) *cofake.Fault { return &cofake.Fault{Status: 502} })
	ctx := context.Background()
	s := MustParseSession(docSession)

	raw, err := b.r.RawAsset(ctx, s)
	if err != nil || raw.ID != uploadMid || raw.Name != docSession {
		t.Fatalf("raw asset %+v, %v", raw, err)
	}
	dir, err := b.r.RawDataDir(ctx, s)
	if err != nil || dir != store.S3("aind-ephys-data", docSession) {
		t.Errorf("raw data dir %v, %v", dir, err)
	}
	info, err := b.r.Info(ctx, s)
	if err != nil {
		t.Fatal(err)
	}
	if info.RawDataAsset == nil || info.RawDataAsset.ID != uploadMid || info.RawDataDir != dir.String() {
		t.Errorf("session.json %+v", info)
	}
	sessions, err := b.r.SubjectSessions(ctx, s.Subject())
	if err != nil || !slices.Equal(sessions, []Session{s}) {
		t.Errorf("subject's sessions %v, %v", sessions, err)
	}
	logs := b.logs.String()
	for _, want := range []string{"code ocean failed; raw asset from the docdb record alone", "code ocean failed; sessions of subject from docdb alone", "502"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}

	// Both down: an error, not an empty answer.
	b.db.SetFaultHook(func(dbfake.Request) *dbfake.Fault { return &dbfake.Fault{Status: 500} })
	other, _ := ParseSubject("700999")
	if _, err := b.r.SubjectSessions(ctx, other); err == nil {
		t.Error("no error with both sources down")
	}
}

func TestRecordWithoutSubjectIsFoundByName(t *testing.T) {
	rec := record("r1", docSession, "2024-02-01T13:00:00Z", map[string]any{"Code Ocean": []string{uploadOld}})
	delete(rec, "subject")
	b := newBoth(t, docCatalog(), []any{rec}, bothOptions{})
	ctx := context.Background()
	s := MustParseSession(docSession)
	raw, err := b.r.RawAsset(ctx, s)
	if err != nil || raw.ID != uploadOld {
		t.Fatalf("raw asset %s, %v; want %s", raw.ID, err, uploadOld)
	}
	got, ok, err := b.r.Record(ctx, s)
	if err != nil || !ok || got.ID != "r1" {
		t.Fatalf("record %+v, %v, %v", got, ok, err)
	}
	// The subject's records (an empty first page ends them), then the
	// session's name (a page and the empty page); that answer is the whole
	// record, so Record asks nothing more.
	var filters []string
	for _, r := range b.db.Requests() {
		filters = append(filters, r.Filter)
	}
	want := []string{`{"subject.subject_id":"700100"}`, `{"name":"` + docSession + `"}`, `{"name":"` + docSession + `"}`}
	if !slices.Equal(filters, want) {
		t.Errorf("DocDB requests %q, want %q", filters, want)
	}
}
