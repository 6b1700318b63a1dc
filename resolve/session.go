// Package resolve answers what a session is and where its data lives.
//
// A Session is parsed from any string that holds a session name (session.go,
// with the grammar of derived asset names); a Subject is the mouse it
// recorded. A Resolver, asked lazily and caching its answers, finds:
//
//   - every asset of a session in the Code Ocean catalog and the local data
//     folder (assets.go);
//   - its raw asset and raw data folder, from the session's DocDB record
//     when there is one (records.go), else the catalog's rules, probing
//     known S3 buckets when nothing says where a folder is (raw.go);
//   - its sortings: which failed, the sorter, the probes (sorted.go, read
//     from the assets' files by sorter.go), and the raw upload's clipped
//     and compressed ecephys folders (ecephys.go);
//   - what session.json shows: modalities, metadata files, and the sessions
//     of a subject (info.go).
//
// Answers are kept for DefaultAnswerTTL, failures for DefaultFailureTTL,
// what assets hold for good, and callers asking the same question at once
// share one lookup (memo.go); Forget drops those that may change (forget.go).
// Errors saying that nothing exists behind a name wrap ErrNotFound, which
// matches io/fs.ErrNotExist.
package resolve

import (
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// The pieces of a session name, built up stage by stage so that a failed parse
// can say which piece is missing. Separators follow the names in use at the
// institute: dates with - / or _, times with - : . or _.
const (
	platformRE = `([^\\/_]+)_`
	subjectRE  = `([0-9]{6,7})_`
	dateRE     = `(20[12][0-9])[-/_](0[1-9]|1[0-2])[-/_](0[1-9]|[12][0-9]|3[01])_`
	timeRE     = `([01][0-9]|2[0-3])[-:._]([0-5][0-9])[-:._]([0-5][0-9])`
)

var (
	sessionPattern  = regexp.MustCompile(platformRE + subjectRE + dateRE + timeRE)
	upToDatePattern = regexp.MustCompile(platformRE + subjectRE + dateRE)
	upToSubject     = regexp.MustCompile(platformRE + subjectRE)
	platformPattern = regexp.MustCompile(platformRE)
)

// firstYear is the first year of recordings in the catalog; earlier dates are
// typos, not sessions.
const firstYear = 2016

// now is the clock used to reject sessions from the future; tests replace it.
var now = time.Now

// Session is one recording: a platform, a subject and a start time.
// Sessions are equal, hashed and ordered by their canonical ID; the zero
// Session is not a valid one.
type Session struct {
	id       string
	platform string
	subject  string // as written, leading zeros kept
	dt       time.Time
}

// ParseSession finds the leftmost session name in s — a bare ID, an asset name
// with a suffix, a path — and returns the session it names. The error names
// the input and says which part was missing or wrong.
func ParseSession(s string) (Session, error) {
	sess, _, err := parseSessionSpan(s)
	return sess, err
}

// parseSessionSpan is ParseSession that also says where in s the session
// name ends (before any sub-second digits), so callers can read the suffix.
func parseSessionSpan(s string) (Session, int, error) {
	idx := sessionPattern.FindStringSubmatchIndex(s)
	if idx == nil {
		return Session{}, 0, explainNoSession(s)
	}
	m := make([]string, len(idx)/2)
	for i := range m {
		m[i] = s[idx[2*i]:idx[2*i+1]]
	}
	end := idx[1]
	platform, subject := m[1], m[2]
	year, month, day := atoi(m[3]), atoi(m[4]), atoi(m[5])
	hour, minute, second := atoi(m[6]), atoi(m[7]), atoi(m[8])
	if year < firstYear {
		return Session{}, 0, fmt.Errorf("session name %q: year %d is before %d, when recordings began", s, year, firstYear)
	}
	if cur := now().Year(); year > cur {
		return Session{}, 0, fmt.Errorf("session name %q: year %d is in the future", s, year)
	}
	dt := time.Date(year, time.Month(month), day, hour, minute, second, 0, time.UTC)
	if dt.Day() != day || int(dt.Month()) != month {
		return Session{}, 0, fmt.Errorf("session name %q: %04d-%02d-%02d is not a calendar date", s, year, month, day)
	}
	id := fmt.Sprintf("%s_%s_%s", platform, subject, dt.Format("2006-01-02_15-04-05"))
	return Session{id: id, platform: platform, subject: subject, dt: dt}, end, nil
}

var subSecond = regexp.MustCompile(`^\.[0-9]{1,6}`)

var derivedSuffix = regexp.MustCompile(`^_(.+)_(20[0-9]{2}-[01][0-9]-[0-3][0-9])_([0-2][0-9]-[0-5][0-9]-[0-5][0-9])$`)

// derivedParts splits "<session>_<label>_<YYYY-MM-DD>_<hh-mm-ss>" into its
// session, label and creation time. A bare session name has an empty label.
func derivedParts(name string) (Session, string, time.Time, bool) {
	s, end, err := parseSessionSpan(name)
	if err != nil {
		return Session{}, "", time.Time{}, false
	}
	rest := name[end:]
	rest = subSecond.ReplaceAllString(rest, "")
	if rest == "" {
		return s, "", time.Time{}, true
	}
	m := derivedSuffix.FindStringSubmatch(rest)
	if m == nil {
		return s, "", time.Time{}, false
	}
	t, err := time.Parse("2006-01-02_15-04-05", m[2]+"_"+m[3])
	if err != nil {
		return s, "", time.Time{}, false
	}
	return s, m[1], t, true
}

// explainNoSession says which piece of a session name is missing from s.
func explainNoSession(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("session name %q: empty name", s)
	case upToDatePattern.MatchString(s):
		return fmt.Errorf("session name %q: no time (hh-mm-ss) after the date", s)
	case upToSubject.MatchString(s):
		return fmt.Errorf("session name %q: no date (YYYY-MM-DD, year 2010-2029) after the subject", s)
	case platformPattern.MatchString(s):
		return fmt.Errorf("session name %q: no subject of 6-7 digits after the platform", s)
	default:
		return fmt.Errorf("session name %q: no platform followed by \"_\" (expected <platform>_<subject>_<YYYY-MM-DD>_<hh-mm-ss>)", s)
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// MustParseSession is ParseSession for names known to be valid (tests, constants).
func MustParseSession(s string) Session {
	sess, err := ParseSession(s)
	if err != nil {
		panic(err)
	}
	return sess
}

// ID is the canonical name: <platform>_<subject>_<YYYY-MM-DD>_<hh-mm-ss>.
func (s Session) ID() string { return s.id }

// String is the canonical ID.
func (s Session) String() string { return s.id }

// IsZero reports whether s is the zero Session.
func (s Session) IsZero() bool { return s.id == "" }

// Platform is the acquisition platform, such as ecephys or multiplane-ophys.
func (s Session) Platform() string { return s.platform }

// SubjectAsWritten is the subject as it appears in the ID, leading zeros kept.
func (s Session) SubjectAsWritten() string { return s.subject }

// SubjectID is the subject without leading zeros, as the catalog records it.
func (s Session) SubjectID() string { return stripZeros(s.subject) }

// Subject is the mouse the session recorded.
func (s Session) Subject() Subject { return Subject{id: s.SubjectID()} }

// DT is the start of the session (no time zone: the acquisition's local time).
func (s Session) DT() time.Time { return s.dt }

// Date is the start date as YYYY-MM-DD.
func (s Session) Date() string { return s.dt.Format(time.DateOnly) }

// Time is the start time as hh:mm:ss.
func (s Session) Time() string { return s.dt.Format(time.TimeOnly) }

// Compare orders sessions by canonical ID, as strings.Compare does.
func (s Session) Compare(t Session) int { return strings.Compare(s.id, t.id) }

// Identity is what is known of a session without asking any catalog: the
// offline fields of session.json.
type Identity struct {
	ID        string `json:"id"`
	Platform  string `json:"platform"`
	SubjectID string `json:"subject_id"`
	Date      string `json:"date"`
	Time      string `json:"time"`
	DT        string `json:"dt"`
}

// Identity returns the offline description of s.
func (s Session) Identity() Identity {
	return Identity{
		ID:        s.id,
		Platform:  s.platform,
		SubjectID: s.SubjectID(),
		Date:      s.Date(),
		Time:      s.Time(),
		DT:        s.dt.Format("2006-01-02T15:04:05"),
	}
}

// MarshalJSON writes the canonical ID.
func (s Session) MarshalJSON() ([]byte, error) { return json.Marshal(s.id) }

// UnmarshalJSON parses any session name.
func (s *Session) UnmarshalJSON(b []byte) error {
	var name string
	if err := json.Unmarshal(b, &name); err != nil {
		return err
	}
	v, err := ParseSession(name)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

func stripZeros(digits string) string {
	t := strings.TrimLeft(digits, "0")
	if t == "" {
		return "0"
	}
	return t
}
