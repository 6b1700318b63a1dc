package resolve

import (
	"fmt"
	"regexp"
)

// A subject ID standing alone: 6 or 7 digits not touching other digits.
var subjectPattern = regexp.MustCompile(`(?:^|[^0-9])([0-9]{6,7})(?:[^0-9]|$)`)

// Subject is a mouse, identified by its 6-7 digit ID without leading zeros.
type Subject struct{ id string }

// ParseSubject finds a subject in s: the subject of a session name if s holds
// one, else the first run of exactly 6 or 7 digits.
func ParseSubject(s string) (Subject, error) {
	if sess, err := ParseSession(s); err == nil {
		return sess.Subject(), nil
	}
	m := subjectPattern.FindStringSubmatch(s)
	if m == nil {
		return Subject{}, fmt.Errorf("subject %q: no subject ID of 6-7 digits in it", s)
	}
	return Subject{id: stripZeros(m[1])}, nil
}

// ID is the subject ID without leading zeros.
func (s Subject) ID() string { return s.id }

// String is the subject ID.
func (s Subject) String() string { return s.id }

// IsZero reports whether s is the zero Subject.
func (s Subject) IsZero() bool { return s.id == "" }
