package resolve

import (
	"context"
	"io/fs"
	"log/slog"
	"slices"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/aind/aindfs/codeocean"
	"github.com/aind/aindfs/docdb"
	"github.com/aind/aindfs/store"
)

// Cache lifetimes: catalog answers change rarely (a new sorted asset every
// few days), failures may be a passing outage.
const (
	DefaultAnswerTTL  = 10 * time.Minute
	DefaultFailureTTL = 30 * time.Second
)

// DefaultLookupTimeout bounds one lookup (all the requests one answer
// takes): a reader sees an answer or an error within it.
const DefaultLookupTimeout = 30 * time.Second

// DefaultSweepInterval is how often expired answers are dropped; between
// sweeps they cost memory but are never served.
const DefaultSweepInterval = time.Minute

// DefaultKnownSessions bounds the sessions remembered for listing
// sessions/ (about 200 bytes each); the least recently resolved are
// forgotten first, and stay reachable by name.
const DefaultKnownSessions = 10000

// DefaultKnownAssets bounds the assets whose location and sorting (verdict,
// sorter, probes) are remembered, a few KiB each; beyond it some are
// forgotten, and read again when asked.
const DefaultKnownAssets = 20000

// ErrNotFound is wrapped by errors saying that nothing exists behind a name:
// no asset, no raw data, no such asset ID. It matches io/fs.ErrNotExist
// under errors.Is, so callers need not know which layer found nothing.
var ErrNotFound error = notFound{}

type notFound struct{}

func (notFound) Error() string { return "not found" }

func (notFound) Is(target error) bool { return target == fs.ErrNotExist }

// Catalog is what resolution asks of Code Ocean.
type Catalog interface {
	SearchDataAssets(ctx context.Context, p codeocean.SearchParams) ([]codeocean.DataAsset, error)
	GetDataAsset(ctx context.Context, id string) (codeocean.DataAsset, error)
}

// Config says where a Resolver looks.
type Config struct {
	// Catalog is the Code Ocean client; nil when there is no token.
	Catalog Catalog
	// Records is AIND's metadata database; nil when it is off. A session's
	// record, when there is one, decides its raw asset and raw folder.
	Records Records
	// RecordsWait is how long DocDB is waited for before the Code Ocean
	// rules answer alone; 0 means DefaultRecordsWait.
	RecordsWait time.Duration
	// DataDir is a folder of asset folders named by asset name, such as a
	// capsule's /data; empty for none.
	DataDir string
	// Objects lists and reads asset folders (S3 and local).
	Objects store.Backend
	// Buckets are probed in order for folders the catalog does not locate.
	// Nil means DefaultBuckets; an empty non-nil slice turns probing off
	// (offline use).
	Buckets []string
	// SearchPageSize is the page size of catalog searches; 0 means the
	// server's maximum (fewest round trips).
	SearchPageSize int
	Logger         *slog.Logger
	AnswerTTL      time.Duration // default DefaultAnswerTTL
	FailureTTL     time.Duration // default DefaultFailureTTL
	LookupTimeout  time.Duration // default DefaultLookupTimeout
	SweepInterval  time.Duration // default DefaultSweepInterval
	KnownSessions  int           // default DefaultKnownSessions
	KnownAssets    int           // default DefaultKnownAssets
	Now            func() time.Time
}

// Resolver answers, lazily and with caching, which assets a session has and
// where their files live. It is safe for concurrent use.
type Resolver struct {
	catalog Catalog
	records Records
	dataDir string
	objects store.Backend
	buckets []string
	page    int
	log     *slog.Logger
	now     func() time.Time

	recordsWait time.Duration // see Config.RecordsWait

	base  context.Context // every lookup runs under it
	close context.CancelFunc

	searches  *memo[string, []codeocean.DataAsset]
	byID      *memo[string, codeocean.DataAsset]
	local     *memo[struct{}, *localFolder]
	assets    *memo[Session, []Asset]
	raws      *memo[Session, Asset]
	probes    *memo[string, store.URI]
	locations *memo[string, store.URI]
	verdicts  *memo[string, SortedAsset]
	sortings  *memo[string, SortedAsset]
	listings  *memo[store.URI, []store.ObjectInfo]

	subjectRecs *memo[Subject, []docdb.Record]
	decided     *memo[Session, found]
	fullRecords *memo[Session, found]

	caches []interface{ sweep() } // all of the above, for sweepEvery

	known *lru.Cache[Session, struct{}]
}

// New returns a Resolver; nothing is asked of any source until a question is.
// Close stops its sweeping of expired answers.
func New(cfg Config) *Resolver {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.AnswerTTL == 0 {
		cfg.AnswerTTL = DefaultAnswerTTL
	}
	if cfg.FailureTTL == 0 {
		cfg.FailureTTL = DefaultFailureTTL
	}
	if cfg.LookupTimeout == 0 {
		cfg.LookupTimeout = DefaultLookupTimeout
	}
	if cfg.SweepInterval == 0 {
		cfg.SweepInterval = DefaultSweepInterval
	}
	if cfg.KnownSessions <= 0 {
		cfg.KnownSessions = DefaultKnownSessions
	}
	if cfg.KnownAssets <= 0 {
		cfg.KnownAssets = DefaultKnownAssets
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Buckets == nil {
		cfg.Buckets = DefaultBuckets
	}
	if cfg.RecordsWait <= 0 {
		cfg.RecordsWait = DefaultRecordsWait
	}
	base, cancel := context.WithCancel(context.Background())
	answers := memoSettings{base: base, okTTL: cfg.AnswerTTL, failTTL: cfg.FailureTTL, timeout: cfg.LookupTimeout, now: cfg.Now}
	// Where an asset lives and what its sorting was never change: assets
	// are immutable once made. Kept without expiry, so bounded by count.
	facts := answers
	facts.okTTL, facts.max = 0, cfg.KnownAssets
	known, _ := lru.New[Session, struct{}](cfg.KnownSessions) // fails only for a size below 1
	r := &Resolver{
		catalog: cfg.Catalog,
		records: cfg.Records,
		dataDir: cfg.DataDir,
		objects: cfg.Objects,
		buckets: slices.Clone(cfg.Buckets),
		page:    cfg.SearchPageSize,
		log:     cfg.Logger,
		now:     cfg.Now,
		base:    base,
		close:   cancel,

		recordsWait: cfg.RecordsWait,

		searches:  newMemo[string, []codeocean.DataAsset](answers),
		byID:      newMemo[string, codeocean.DataAsset](answers),
		local:     newMemo[struct{}, *localFolder](answers),
		assets:    newMemo[Session, []Asset](answers),
		raws:      newMemo[Session, Asset](answers),
		probes:    newMemo[string, store.URI](answers),
		locations: newMemo[string, store.URI](facts),
		verdicts:  newMemo[string, SortedAsset](facts),
		sortings:  newMemo[string, SortedAsset](facts),
		listings:  newMemo[store.URI, []store.ObjectInfo](answers),
		known:     known,

		subjectRecs: newMemo[Subject, []docdb.Record](answers),
		decided:     newMemo[Session, found](answers),
		fullRecords: newMemo[Session, found](answers),
	}
	r.caches = []interface{ sweep() }{r.searches, r.byID, r.local, r.assets, r.raws, r.probes, r.locations, r.verdicts, r.sortings, r.listings,
		r.subjectRecs, r.decided, r.fullRecords}
	go r.sweepEvery(cfg.SweepInterval)
	return r
}

// sweepEvery drops expired answers from every cache on a timer, until the
// resolver closes.
func (r *Resolver) sweepEvery(d time.Duration) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			for _, c := range r.caches {
				c.sweep()
			}
		case <-r.base.Done():
			return
		}
	}
}

// Online reports whether a catalog is configured.
func (r *Resolver) Online() bool { return r.catalog != nil }

// Close ends the lookups in flight and the sweeping; the Resolver must not be
// used after.
func (r *Resolver) Close() { r.close() }
