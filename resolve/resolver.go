package resolve

import (
	"context"
	"io/fs"
	"log/slog"
	"slices"
	"sync"
	"time"

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

	base  context.Context // every lookup runs under it
	close context.CancelFunc

	searches  *memo[string, []codeocean.DataAsset]
	byID      *memo[string, codeocean.DataAsset]
	local     *memo[struct{}, []Asset]
	assets    *memo[Session, []Asset]
	raws      *memo[Session, Asset]
	probes    *memo[string, store.URI]
	locations *memo[string, store.URI]
	verdicts  *memo[string, SortedAsset]
	listings  *memo[store.URI, []store.ObjectInfo]

	subjectRecs *memo[Subject, []docdb.Record]
	decided     *memo[Session, found]
	fullRecords *memo[Session, found]

	mu    sync.Mutex
	known map[Session]bool
}

// New returns a Resolver; nothing is asked of any source until a question is.
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
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Buckets == nil {
		cfg.Buckets = DefaultBuckets
	}
	ok, fail, now := cfg.AnswerTTL, cfg.FailureTTL, cfg.Now
	base, cancel := context.WithCancel(context.Background())
	return &Resolver{
		catalog: cfg.Catalog,
		records: cfg.Records,
		dataDir: cfg.DataDir,
		objects: cfg.Objects,
		buckets: slices.Clone(cfg.Buckets),
		page:    cfg.SearchPageSize,
		log:     cfg.Logger,
		now:     now,
		base:    base,
		close:   cancel,

		searches: newMemo[string, []codeocean.DataAsset](base, ok, fail, now),
		byID:     newMemo[string, codeocean.DataAsset](base, ok, fail, now),
		local:    newMemo[struct{}, []Asset](base, ok, fail, now),
		assets:   newMemo[Session, []Asset](base, ok, fail, now),
		raws:     newMemo[Session, Asset](base, ok, fail, now),
		probes:   newMemo[string, store.URI](base, ok, fail, now),
		// Where an asset lives and whether its sorting failed never change:
		// assets are immutable once made.
		locations: newMemo[string, store.URI](base, 0, fail, now),
		verdicts:  newMemo[string, SortedAsset](base, 0, fail, now),
		listings:  newMemo[store.URI, []store.ObjectInfo](base, ok, fail, now),
		known:     map[Session]bool{},

		subjectRecs: newMemo[Subject, []docdb.Record](base, ok, fail, now),
		decided:     newMemo[Session, found](base, ok, fail, now),
		fullRecords: newMemo[Session, found](base, ok, fail, now),
	}
}

// Online reports whether a catalog is configured.
func (r *Resolver) Online() bool { return r.catalog != nil }

// Close ends the lookups in flight; the Resolver must not be used after.
func (r *Resolver) Close() { r.close() }
