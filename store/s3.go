package store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/ratelimit"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"

	"github.com/aind/aindfs/internal/logonce"
)

// Defaults of S3Options. Real S3 answers in tens of milliseconds and streams
// a response at roughly 100 MB/s, so a few seconds without a byte means the
// connection is stuck, not slow.
const (
	DefaultRegion       = "us-west-2"
	DefaultMaxAttempts  = 5
	DefaultBaseDelay    = 100 * time.Millisecond
	DefaultMaxBackoff   = 2 * time.Second
	DefaultStallTimeout = 5 * time.Second
	// DefaultRetryTimeout keeps a persistent failure under the 30 s a reader
	// may wait before it sees EIO, with room for one more stalled attempt.
	DefaultRetryTimeout = 20 * time.Second
)

// S3Options configures NewS3. The zero value uses the AWS SDK's standard
// configuration chain (environment, shared files, instance roles).
type S3Options struct {
	// Region of the buckets; default: the configuration chain, else us-west-2.
	Region string
	// Endpoint is a custom S3 endpoint (e.g. http://127.0.0.1:9000). It, or
	// AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL, switches to path-style addressing.
	Endpoint string
	// HTTPClient replaces the SDK's HTTP client.
	HTTPClient aws.HTTPClient
	// Credentials replaces the configuration chain's credentials. When nil
	// and the chain finds none, requests are sent unsigned (public buckets).
	Credentials aws.CredentialsProvider
	// MaxAttempts is the SDK's attempts per listing, probe and stat for
	// 5xx, SlowDown and connection errors. Ranged reads retry on their own
	// (see ReadRange), bounded by RetryTimeout.
	MaxAttempts int
	// BaseDelay and MaxBackoff shape the capped exponential backoff with jitter.
	BaseDelay, MaxBackoff time.Duration
	// StallTimeout cancels and retries a GET whose response makes no
	// progress for this long.
	StallTimeout time.Duration
	// RetryTimeout bounds how long a call keeps retrying without receiving
	// anything before it returns the last error.
	RetryTimeout time.Duration
	// Logger receives retries and failures; nil discards them.
	Logger *slog.Logger
}

// S3Backend is a Backend over Amazon S3 (or any S3-compatible endpoint).
type S3Backend struct {
	client  *s3.Client
	opts    S3Options
	log     *slog.Logger
	hidden  *logonce.Logger // what listings leave out, and why
	backoff backoff
}

// NewS3HTTPClient returns the HTTP client of an S3 backend whose options
// name none: the SDK's own, keeping 256 idle connections per host instead
// of 10, since prefetch keeps more GETs than 10 in flight and reconnecting
// costs a round trip.
func NewS3HTTPClient() aws.HTTPClient {
	return awshttp.NewBuildableClient().WithTransportOptions(func(tr *http.Transport) {
		tr.MaxIdleConns = 256
		tr.MaxIdleConnsPerHost = 256
	})
}

// NewS3 builds an S3 backend from the standard AWS configuration chain,
// overridden by opts.
func NewS3(ctx context.Context, opts S3Options) (*S3Backend, error) {
	orDefault(&opts.MaxAttempts, DefaultMaxAttempts)
	orDefault(&opts.BaseDelay, DefaultBaseDelay)
	orDefault(&opts.MaxBackoff, DefaultMaxBackoff)
	orDefault(&opts.StallTimeout, DefaultStallTimeout)
	orDefault(&opts.RetryTimeout, DefaultRetryTimeout)
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}

	loadOpts := []func(*config.LoadOptions) error{
		config.WithHTTPClient(NewS3HTTPClient()),
		// The SDK would print its own warnings (an instance-metadata probe
		// off EC2, say) on stderr; what matters is logged here instead.
		config.WithLogger(logging.Nop{}),
	}
	if opts.Region != "" {
		loadOpts = append(loadOpts, config.WithRegion(opts.Region))
	}
	if opts.Credentials != nil {
		loadOpts = append(loadOpts, config.WithCredentialsProvider(opts.Credentials))
	}
	var cfg aws.Config
	if opts.HTTPClient != nil && opts.Credentials != nil && opts.Endpoint != "" && opts.Region != "" {
		// Fully specified (a test server): the environment has no say, so
		// that AWS_CA_BUNDLE, AWS_PROFILE and the like cannot break it.
		cfg = aws.Config{Region: opts.Region, Credentials: opts.Credentials, HTTPClient: opts.HTTPClient}
	} else {
		var err error
		if cfg, err = config.LoadDefaultConfig(ctx, loadOpts...); err != nil {
			return nil, fmt.Errorf("load AWS configuration: %w", err)
		}
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	if opts.Credentials == nil {
		if cfg.Credentials == nil {
			cfg.Credentials = aws.AnonymousCredentials{}
		} else {
			// Instance-metadata lookups can hang off EC2; do not let them
			// hold up start-up for long.
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			_, err := cfg.Credentials.Retrieve(rctx)
			cancel()
			if err != nil {
				log.Info("no AWS credentials found; sending unsigned requests (public buckets only)", "cause", err)
				cfg.Credentials = aws.AnonymousCredentials{}
			}
		}
	}

	endpoint := opts.Endpoint
	if endpoint == "" {
		endpoint = firstEnv("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
	}
	b := &S3Backend{opts: opts, log: log, hidden: logonce.New(log), backoff: backoff{base: opts.BaseDelay, max: opts.MaxBackoff}}
	b.client = s3.NewFromConfig(cfg, func(o *s3.Options) {
		if opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(opts.Endpoint)
		}
		if endpoint != "" {
			o.UsePathStyle = true
		}
		if opts.HTTPClient != nil {
			o.HTTPClient = opts.HTTPClient
		}
		// A token bucket shared by all requests would stop retrying
		// altogether after a burst of failures; each call is bounded by
		// MaxAttempts and RetryTimeout instead.
		o.Retryer = retry.NewStandard(func(so *retry.StandardOptions) {
			so.MaxAttempts = opts.MaxAttempts
			so.MaxBackoff = opts.MaxBackoff
			so.Backoff = b.backoff
			so.RateLimiter = ratelimit.None
		})
		o.RetryMaxAttempts = opts.MaxAttempts
		// Ranged GETs carry no whole-object checksum to validate; the ETag
		// pin and length checks guard the bytes. Without this the SDK logs
		// a line per GET on stderr.
		o.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
		o.DisableLogOutputChecksumValidationSkipped = true
		o.Logger = logging.Nop{}
	})
	return b, nil
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// Client returns the SDK client the backend uses, for callers that need
// an operation the Backend interface does not offer.
func (b *S3Backend) Client() *s3.Client { return b.client }

// backoff is capped exponential backoff with "equal jitter": half of the
// exponential step is fixed, half random, so retries neither synchronise
// nor fire immediately.
type backoff struct{ base, max time.Duration }

func (b backoff) delay(attempt int) time.Duration {
	d := b.base
	for i := 1; i < attempt && d < b.max; i++ {
		d *= 2
	}
	d = min(d, b.max)
	half := d / 2
	return half + rand.N(half+1)
}

// BackoffDelay implements retry.BackoffDelayer.
func (b backoff) BackoffDelay(attempt int, _ error) (time.Duration, error) {
	return b.delay(attempt), nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *S3Backend) check(u URI) error {
	if u.Scheme != "s3" || u.Bucket == "" {
		return fmt.Errorf("%q is not an s3:// location", u.String())
	}
	return nil
}

// List implements Backend with ListObjectsV2 and delimiter "/", over all
// pages (see ListPages), sorted by name.
func (b *S3Backend) List(ctx context.Context, dir URI) ([]ObjectInfo, error) {
	var out []ObjectInfo
	err := b.ListPages(ctx, dir, func(page []ObjectInfo) error {
		out = append(out, page...)
		return nil
	})
	if err != nil {
		return nil, err
	}
	slices.SortStableFunc(out, ByName)
	return out, nil
}

var _ PageLister = (*S3Backend)(nil)

// ListPages implements PageLister with ListObjectsV2 and delimiter "/":
// page is called with each answer's entries as soon as it arrives (but
// for those held back by folderWins), and the next is asked for once page
// returns. The folder's own empty object (a marker, as S3 consoles make)
// is not an entry, but makes the folder exist.
func (b *S3Backend) ListPages(ctx context.Context, dir URI, page func([]ObjectInfo) error) error {
	if err := b.check(dir); err != nil {
		return err
	}
	prefix := folderPrefix(dir.Key)
	in := &s3.ListObjectsV2Input{
		Bucket:    aws.String(dir.Bucket),
		Prefix:    aws.String(prefix),
		Delimiter: aws.String("/"),
	}
	found := false // any entry, or the marker
	var names folderWins
	pages := s3.NewListObjectsV2Paginator(b.client, in)
	for pages.HasMorePages() {
		pctx, cancel := context.WithTimeout(ctx, b.opts.RetryTimeout)
		out, err := pages.NextPage(pctx)
		cancel()
		if err != nil {
			return b.callError(ctx, "list", dir, err)
		}
		entries, marker, blank := pageEntries(out, prefix)
		found = found || marker || blank || len(entries) > 0
		if blank {
			// "a//b" is under folder "a", but by an empty name no path
			// can reach: the folder is shown (empty if that is all it
			// holds), what is under the empty name is not.
			b.hidden.Warn("blank "+dir.String(), "keys with an empty name after the folder's are not shown",
				"folder", dir.String(), "keys", prefix+"/…")
		}
		if ready := names.add(entries, !pages.HasMorePages()); len(ready) > 0 {
			if err := page(ready); err != nil {
				return err
			}
		}
	}
	if !found {
		return fmt.Errorf("list %s: %w", dir, ErrNotExist)
	}
	if n := len(names.shadowed); n > 0 {
		b.hidden.Warn("shadowed "+dir.String(), "objects not shown: each has the name of a folder beside it, which is shown instead",
			"folder", dir.String(), "objects", n, "names", names.shadowed[:min(n, 10)])
	}
	return nil
}

// pageEntries turns one ListObjectsV2 answer into entries in key order:
// S3 sends the objects and the common prefixes as two sorted lists, which
// are merged here, a folder counting as its name followed by "/".
// A common prefix of the folder's prefix followed by "/" (keys "a//…") is
// reported as blank.
func pageEntries(out *s3.ListObjectsV2Output, prefix string) (entries []ObjectInfo, marker, blank bool) {
	entries = make([]ObjectInfo, 0, len(out.Contents)+len(out.CommonPrefixes))
	objs, dirs := out.Contents, out.CommonPrefixes
	for len(objs) > 0 || len(dirs) > 0 {
		if len(dirs) > 0 && (len(objs) == 0 || aws.ToString(dirs[0].Prefix) < aws.ToString(objs[0].Key)) {
			name := strings.TrimSuffix(strings.TrimPrefix(aws.ToString(dirs[0].Prefix), prefix), "/")
			dirs = dirs[1:]
			if name == "" {
				blank = true
				continue
			}
			entries = append(entries, ObjectInfo{Name: name, Dir: true})
			continue
		}
		o := objs[0]
		objs = objs[1:]
		name := strings.TrimPrefix(aws.ToString(o.Key), prefix)
		if name == "" {
			marker = true
			continue
		}
		entries = append(entries, ObjectInfo{
			Name:    name,
			Size:    aws.ToInt64(o.Size),
			ModTime: aws.ToTime(o.LastModified),
			ETag:    aws.ToString(o.ETag),
		})
	}
	return entries, marker, blank
}

// folderPrefix turns a folder key into a listing prefix: "a/b" -> "a/b/",
// the bucket root stays "".
func folderPrefix(key string) string {
	key = strings.Trim(key, "/")
	if key == "" {
		return ""
	}
	return key + "/"
}

// Exists implements Backend with one ListObjectsV2 request of one key.
// A missing bucket is reported as not existing.
func (b *S3Backend) Exists(ctx context.Context, dir URI) (bool, error) {
	if err := b.check(dir); err != nil {
		return false, err
	}
	cctx, cancel := context.WithTimeout(ctx, b.opts.RetryTimeout)
	defer cancel()
	page, err := b.client.ListObjectsV2(cctx, &s3.ListObjectsV2Input{
		Bucket:  aws.String(dir.Bucket),
		Prefix:  aws.String(folderPrefix(dir.Key)),
		MaxKeys: aws.Int32(1),
	})
	if err != nil {
		err = b.callError(ctx, "probe", dir, err)
		if errors.Is(err, ErrNotExist) {
			return false, nil
		}
		return false, err
	}
	return len(page.Contents)+len(page.CommonPrefixes) > 0, nil
}

// Stat implements Backend with HeadObject.
func (b *S3Backend) Stat(ctx context.Context, obj URI) (ObjectInfo, error) {
	if err := b.check(obj); err != nil {
		return ObjectInfo{}, err
	}
	if obj.Key == "" {
		return ObjectInfo{}, fmt.Errorf("stat %s: no object key", obj)
	}
	cctx, cancel := context.WithTimeout(ctx, b.opts.RetryTimeout)
	defer cancel()
	out, err := b.client.HeadObject(cctx, &s3.HeadObjectInput{
		Bucket: aws.String(obj.Bucket),
		Key:    aws.String(obj.Key),
	})
	if err != nil {
		return ObjectInfo{}, b.callError(ctx, "stat", obj, err)
	}
	return ObjectInfo{
		Name:    path.Base(obj.Key),
		Size:    aws.ToInt64(out.ContentLength),
		ModTime: aws.ToTime(out.LastModified),
		ETag:    aws.ToString(out.ETag),
	}, nil
}

// callError wraps an SDK error with what was asked, mapping "not found"
// to ErrNotExist and "precondition failed" to ErrChanged.
func (b *S3Backend) callError(ctx context.Context, op string, u URI, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return fmt.Errorf("%s %s: %w", op, u, cerr)
	}
	switch status, code := errorStatus(err); {
	case status == http.StatusNotFound || code == "NoSuchKey" || code == "NoSuchBucket" || code == "NotFound":
		return fmt.Errorf("%s %s: %w (%s)", op, u, ErrNotExist, errorSummary(err))
	case status == http.StatusPreconditionFailed || code == "PreconditionFailed":
		return fmt.Errorf("%s %s: %w", op, u, ErrChanged)
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Errorf("%s %s: no answer within %s: %w", op, u, b.opts.RetryTimeout, err)
	}
	b.log.Debug("S3 request failed", "op", op, "location", u.String(), "cause", err)
	return fmt.Errorf("%s %s: %w", op, u, err)
}

// errorStatus extracts the HTTP status and S3 error code of an SDK error.
func errorStatus(err error) (status int, code string) {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		code = ae.ErrorCode()
	}
	return status, code
}

func errorSummary(err error) string {
	status, code := errorStatus(err)
	switch {
	case code != "" && status != 0:
		return fmt.Sprintf("%d %s", status, code)
	case code != "":
		return code
	case status != 0:
		return strconv.Itoa(status)
	}
	return err.Error()
}

var retryables = retry.IsErrorRetryables(retry.DefaultRetryables)

// transient reports whether a failed GET is worth trying again: the
// classes the SDK retries (5xx, throttling, connection errors) plus bodies
// that ended early.
func transient(err error) bool {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return true
	}
	return retryables.IsErrorRetryable(err) == aws.TrueTernary
}

// minProgress is what an attempt must deliver to count as progress: a
// server that sends a trickle and then stalls, again and again, is failing.
const minProgress = 64 << 10

// ReadRange implements Backend with ranged GETs pinned by If-Match. The
// returned body survives broken and stalled connections: it resumes from
// the last byte received, and gives up only after RetryTimeout without
// progress (an attempt that received at least minProgress bytes). Its Read fails with ErrChanged when the object is replaced.
func (b *S3Backend) ReadRange(ctx context.Context, obj URI, etag string, off, length int64) (io.ReadCloser, error) {
	if err := b.check(obj); err != nil {
		return nil, err
	}
	if off < 0 || length < 0 {
		return nil, fmt.Errorf("read %s: invalid range %d+%d", obj, off, length)
	}
	r := &rangeBody{b: b, ctx: ctx, obj: obj, etag: etag, off: off, end: off + length, progress: time.Now()}
	if length == 0 {
		return r, nil
	}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

// rangeBody is the body of one logical ranged read, made of as many GETs
// as it takes.
type rangeBody struct {
	b        *S3Backend
	ctx      context.Context
	obj      URI
	etag     string // the version being read; learnt from the first answer when empty
	off, end int64  // next byte wanted, end of range (exclusive)

	body     io.ReadCloser
	cancel   context.CancelFunc // of the current attempt
	watchdog *time.Timer
	mu       sync.Mutex
	stalled  bool

	progress time.Time // when the read began or an attempt last made progress
	attempts int       // attempts since progress
	got      int64     // bytes received by the current attempt
	lastErr  error
	// lastAnswer is the last failure the server or the connection reported
	// (a SlowDown, a reset, a body cut short), kept when later attempts
	// only stall: it names what went wrong.
	lastAnswer error
}

// open issues GETs for the rest of the range until one answers.
func (r *rangeBody) open() error {
	opts := r.b.opts
	for {
		if err := r.ctx.Err(); err != nil {
			return fmt.Errorf("read %s: %w", r.obj, err)
		}
		if r.attempts > 0 {
			if time.Since(r.progress) >= opts.RetryTimeout {
				return r.giveUp()
			}
			d := r.b.backoff.delay(r.attempts)
			r.b.log.Debug("retrying S3 read", "location", r.obj.String(), "offset", r.off,
				"attempt", r.attempts+1, "delay", d, "cause", r.lastErr)
			if err := sleepCtx(r.ctx, d); err != nil {
				return fmt.Errorf("read %s: %w", r.obj, err)
			}
		}
		r.attempts++
		r.got = 0
		// No deadline on the attempt: a long answer that keeps arriving is
		// fine; the watchdog ends one that stops.
		actx, cancel := context.WithCancel(r.ctx)
		r.mu.Lock()
		r.stalled = false
		r.mu.Unlock()
		r.cancel = cancel
		r.watchdog = time.AfterFunc(opts.StallTimeout, func() {
			r.mu.Lock()
			r.stalled = true
			r.mu.Unlock()
			cancel()
		})
		in := &s3.GetObjectInput{
			Bucket: aws.String(r.obj.Bucket),
			Key:    aws.String(r.obj.Key),
			Range:  aws.String(fmt.Sprintf("bytes=%d-%d", r.off, r.end-1)),
		}
		if r.etag != "" {
			in.IfMatch = aws.String(r.etag)
		}
		// One HTTP request an attempt: this loop retries with its own
		// backoff, so the watchdog times one request and a stall means the
		// server did not answer, not that the SDK was still retrying.
		out, err := r.b.client.GetObject(actx, in, func(o *s3.Options) { o.Retryer = aws.NopRetryer{} })
		if err == nil {
			if r.etag != "" && !sameETag(aws.ToString(out.ETag), r.etag) {
				out.Body.Close()
				r.stop()
				return fmt.Errorf("read %s: %w (ETag %s, was %s)", r.obj, ErrChanged, aws.ToString(out.ETag), r.etag)
			}
			if err := r.checkAnswer(out); err != nil {
				out.Body.Close()
				r.stop()
				r.lastErr, r.lastAnswer = err, err
				r.b.log.Debug("S3 answer is not the range asked for", "location", r.obj.String(), "cause", err)
				continue
			}
			if r.etag == "" {
				r.etag = aws.ToString(out.ETag)
			}
			r.body = out.Body
			return nil
		}
		stalled := r.stop()
		switch {
		case r.ctx.Err() != nil:
			return fmt.Errorf("read %s: %w", r.obj, r.ctx.Err())
		case stalled:
			r.lastErr = fmt.Errorf("no answer within %s", opts.StallTimeout)
		default:
			r.lastErr, r.lastAnswer = err, err
			if !transient(err) {
				return r.b.callError(r.ctx, "read", r.obj, err)
			}
		}
	}
}

// checkAnswer makes sure an answer holds exactly the bytes asked for: its
// Content-Range names them, or, when it has none (a 200: the server ignored
// the Range header and sent the whole object), they start the object; and
// its Content-Length is their number. Otherwise its bytes are not read and
// the range is asked again.
func (r *rangeBody) checkAnswer(out *s3.GetObjectOutput) error {
	want := fmt.Sprintf("bytes %d-%d", r.off, r.end-1)
	if out.ContentRange == nil {
		if r.off != 0 {
			return fmt.Errorf("answer has no Content-Range (the server ignored the Range header), asked for %s", want)
		}
	} else if got, _, _ := strings.Cut(aws.ToString(out.ContentRange), "/"); got != want {
		return fmt.Errorf("answer is for %q, asked for %s", aws.ToString(out.ContentRange), want)
	}
	// Without a Content-Length (a chunked answer) the body's end tells.
	if out.ContentLength != nil && *out.ContentLength != r.end-r.off {
		return fmt.Errorf("answer has %d bytes (Content-Length), asked for %d", *out.ContentLength, r.end-r.off)
	}
	return nil
}

func (r *rangeBody) giveUp() error {
	err := fmt.Errorf("read %s at offset %d: nothing received for %s over %d attempts: %w",
		r.obj, r.off, time.Since(r.progress).Round(time.Millisecond), r.attempts, r.lastErr)
	if r.lastAnswer != nil && r.lastAnswer != r.lastErr {
		err = fmt.Errorf("%w; the last answer before that: %w", err, r.lastAnswer)
	}
	r.b.log.Warn("S3 read failed", "location", r.obj.String(), "offset", r.off, "cause", err)
	return err
}

// stop ends the current attempt and reports whether the watchdog ended it.
func (r *rangeBody) stop() (stalled bool) {
	if r.watchdog != nil {
		r.watchdog.Stop()
		r.watchdog = nil
	}
	if r.body != nil {
		r.body.Close()
		r.body = nil
	}
	if r.cancel != nil {
		r.cancel()
		r.cancel = nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stalled
}

func (r *rangeBody) Read(p []byte) (int, error) {
	for {
		if r.off >= r.end {
			return 0, io.EOF
		}
		if r.body == nil {
			if err := r.open(); err != nil {
				return 0, err
			}
		}
		if int64(len(p)) > r.end-r.off {
			p = p[:r.end-r.off]
		}
		n, err := r.body.Read(p)
		if n > 0 {
			r.off += int64(n)
			r.got += int64(n)
			if r.got >= minProgress || r.off == r.end {
				r.progress = time.Now()
				r.attempts = 0
			}
			r.watchdog.Reset(r.b.opts.StallTimeout)
		}
		if r.off == r.end {
			r.finish()
			return n, nil
		}
		if err == nil {
			return n, nil
		}
		stalled := r.stop()
		switch {
		case r.ctx.Err() != nil:
			return n, fmt.Errorf("read %s: %w", r.obj, r.ctx.Err())
		case stalled:
			r.lastErr = fmt.Errorf("no data for %s", r.b.opts.StallTimeout)
		case err == io.EOF || err == io.ErrUnexpectedEOF:
			r.lastErr = fmt.Errorf("answer ended early, %d bytes short: %w", r.end-r.off, io.ErrUnexpectedEOF)
			r.lastAnswer = r.lastErr
		default:
			r.lastErr, r.lastAnswer = err, err
		}
		r.b.log.Debug("S3 read broke; resuming", "location", r.obj.String(), "offset", r.off, "cause", r.lastErr)
		if n > 0 {
			return n, nil
		}
	}
}

// finish drains the end of a complete answer so that its connection can
// be reused, then releases it.
func (r *rangeBody) finish() {
	var one [1]byte
	r.body.Read(one[:])
	r.stop()
}

func (r *rangeBody) Close() error {
	r.stop()
	return nil
}

// sameETag compares ETags, ignoring quotes and weak markers.
func sameETag(a, b string) bool {
	norm := func(s string) string { return strings.Trim(strings.TrimPrefix(s, "W/"), `"`) }
	return norm(a) == norm(b)
}
