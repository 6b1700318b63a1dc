package resolve

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	// A fixed clock keeps "not in the future" stable whatever day the suite runs.
	now = func() time.Time { return time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC) }
	m.Run()
}

func TestParseSession(t *testing.T) {
	tests := []struct {
		in       string
		id       string // expected canonical ID; empty means rejected
		platform string
		subject  string
		errHas   string // for rejected inputs: the error must contain this
	}{
		// The examples of the spec.
		{in: "ecephys_676909_2023-12-13_13-43-40", id: "ecephys_676909_2023-12-13_13-43-40", platform: "ecephys", subject: "676909"},
		{in: "ecephys_676909_2023-12-13_13-43-40_sorted_2024-03-01_16-02-45", id: "ecephys_676909_2023-12-13_13-43-40"},
		{in: "/root/capsule/data/ecephys_676909_2023-12-13_13-43-40/ecephys", id: "ecephys_676909_2023-12-13_13-43-40"},
		{in: "ecephys_686740_2023_10_26_12_29_08_to_dlc_side", id: "ecephys_686740_2023-10-26_12-29-08", platform: "ecephys", subject: "686740"},
		{in: "multiplane-ophys_721291_2024-05-08_08-05-54", id: "multiplane-ophys_721291_2024-05-08_08-05-54", platform: "multiplane-ophys"},
		{in: "prefix_ecephys_676909_2023-12-13_13-43-40", id: "ecephys_676909_2023-12-13_13-43-40", platform: "ecephys"},
		{in: "ecephys_0676909_2023-12-13_13-43-40", id: "ecephys_0676909_2023-12-13_13-43-40", subject: "676909"},
		{in: "ecephys_676909_20231213_134340", errHas: "no date"},
		{in: "676909_2023-12-13_13-43-40", errHas: "no subject of 6-7 digits"},
		{in: "ecephys_676909_2023-12-13_13-43", errHas: "no time"},

		// Separators and sub-seconds.
		{in: "behavior_676909_2023/12/13_13:43:40", id: "behavior_676909_2023-12-13_13-43-40"},
		{in: "behavior_676909_2023-12-13_13.43.40", id: "behavior_676909_2023-12-13_13-43-40"},
		{in: "behavior_676909_2023-12_13_13:43.40", id: "behavior_676909_2023-12-13_13-43-40"},
		{in: "behavior_676909_2023-12-13_13-43-40.123456", id: "behavior_676909_2023-12-13_13-43-40"},
		{in: "behavior_676909_2023-12-13_13-43-40.1_extra", id: "behavior_676909_2023-12-13_13-43-40"},
		{in: "SmartSPIM_693196_2023-09-28_23-12-22_stitched_2023-10-01_00-00-00", id: "SmartSPIM_693196_2023-09-28_23-12-22", platform: "SmartSPIM"},
		{in: "s3://aind-open-data/ecephys_676909_2023-12-13_13-43-40/", id: "ecephys_676909_2023-12-13_13-43-40"},
		{in: `C:\data\ecephys_676909_2023-12-13_13-43-40\raw`, id: "ecephys_676909_2023-12-13_13-43-40", platform: "ecephys"},
		{in: "a_b_c_ecephys_676909_2023-12-13_13-43-40", id: "ecephys_676909_2023-12-13_13-43-40"},
		{in: "ecephys_1234567_2023-12-13_13-43-40", id: "ecephys_1234567_2023-12-13_13-43-40", subject: "1234567"},
		{in: "ecephys_000123_2023-12-13_13-43-40", id: "ecephys_000123_2023-12-13_13-43-40", subject: "123"},
		{in: "x_676909_2016-01-01_00-00-00", id: "x_676909_2016-01-01_00-00-00", platform: "x"},
		{in: "ecephys_676909_2024-02-29_23-59-59", id: "ecephys_676909_2024-02-29_23-59-59"},
		{in: "ecephys_676909_2023-12-13_13-43-405", id: "ecephys_676909_2023-12-13_13-43-40"},
		{in: "ecephys.v2_676909_2023-12-13_13-43-40", id: "ecephys.v2_676909_2023-12-13_13-43-40", platform: "ecephys.v2"},
		{in: "ecephys 2_676909_2023-12-13_13-43-40", id: "ecephys 2_676909_2023-12-13_13-43-40", platform: "ecephys 2"},
		{in: "ecephys_676909_2026-11-28_00-00-00", id: "ecephys_676909_2026-11-28_00-00-00"},
		{in: "ecephys_12345_2023-12-13_13-43-40_ecephys_676909_2023-12-14_01-02-03", id: "ecephys_676909_2023-12-14_01-02-03"},

		// Rejected, each with the reason.
		{in: "", errHas: "empty name"},
		{in: "ecephys", errHas: "no platform"},
		{in: "/", errHas: "no platform"},
		{in: "_676909_2023-12-13_13-43-40", errHas: "no subject"},
		{in: "ecephys_12345_2023-12-13_13-43-40", errHas: "no subject of 6-7 digits"},
		{in: "ecephys_12345678_2023-12-13_13-43-40", errHas: "no subject of 6-7 digits"},
		{in: "ecephys_676909_1999-12-13_13-43-40", errHas: "no date"},
		{in: "ecephys_676909_2015-12-13_13-43-40", errHas: "year 2015 is before 2016"},
		{in: "ecephys_676909_2027-01-01_13-43-40", errHas: "year 2027 is in the future"},
		{in: "ecephys_676909_2023-02-31_13-43-40", errHas: "2023-02-31 is not a calendar date"},
		{in: "ecephys_676909_2023-04-31_13-43-40", errHas: "not a calendar date"},
		{in: "ecephys_676909_2023-02-29_13-43-40", errHas: "2023-02-29 is not a calendar date"},
		{in: "ecephys_676909_2023-13-01_13-43-40", errHas: "no date"},
		{in: "ecephys_676909_2023-00-10_13-43-40", errHas: "no date"},
		{in: "ecephys_676909_2023-12-32_13-43-40", errHas: "no date"},
		{in: "ecephys_676909_2023-12-13_24-00-00", errHas: "no time"},
		{in: "ecephys_676909_2023-12-13_13-60-00", errHas: "no time"},
		{in: "ecephys_676909_2023-12-13_13-43-60", errHas: "no time"},
		{in: "ecephys_676909_2023.12.13_13-43-40", errHas: "no date"},
		{in: "ecephys_676909_2023-12-13-13-43-40", errHas: "no date"},
		{in: "ecephys_676909_2023-12-13_13/43/40", errHas: "no time"},
		{in: "ecephys/676909_2023-12-13_13-43-40", errHas: "no subject"},
		{in: "ecephys_676909_23-12-13_13-43-40", errHas: "no date"},
	}
	if len(tests) < 40 {
		t.Fatalf("table has %d rows, want at least 40", len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			s, err := ParseSession(tt.in)
			if tt.id == "" {
				if err == nil {
					t.Fatalf("ParseSession(%q) = %v, want an error", tt.in, s)
				}
				if !strings.Contains(err.Error(), tt.errHas) {
					t.Errorf("error %q does not say %q", err, tt.errHas)
				}
				if !strings.Contains(err.Error(), `"`+tt.in+`"`) && tt.in != "" {
					t.Errorf("error %q does not name the input", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSession(%q): %v", tt.in, err)
			}
			if s.ID() != tt.id {
				t.Errorf("ID = %q, want %q", s.ID(), tt.id)
			}
			if tt.platform != "" && s.Platform() != tt.platform {
				t.Errorf("Platform = %q, want %q", s.Platform(), tt.platform)
			}
			if tt.subject != "" && s.SubjectID() != tt.subject {
				t.Errorf("SubjectID = %q, want %q", s.SubjectID(), tt.subject)
			}
		})
	}
}

func TestSessionFields(t *testing.T) {
	s := MustParseSession("ecephys_0676909_2023-12-13_13-43-40.5_sorted")
	got := s.Identity()
	want := Identity{
		ID: "ecephys_0676909_2023-12-13_13-43-40", Platform: "ecephys", SubjectID: "676909",
		Date: "2023-12-13", Time: "13:43:40", DT: "2023-12-13T13:43:40",
	}
	if got != want {
		t.Errorf("Identity = %+v, want %+v", got, want)
	}
	if s.SubjectAsWritten() != "0676909" || s.Subject().ID() != "676909" {
		t.Errorf("subject as written %q, subject %q", s.SubjectAsWritten(), s.Subject())
	}
	if !s.DT().Equal(time.Date(2023, 12, 13, 13, 43, 40, 0, time.UTC)) {
		t.Errorf("DT = %v", s.DT())
	}
}

func TestSessionEqualityAndOrder(t *testing.T) {
	a := MustParseSession("ecephys_676909_2023_12_13_13_43_40")
	b := MustParseSession("/data/ecephys_676909_2023-12-13_13-43-40_sorted_2024-01-01_00-00-00/x")
	if a != b {
		t.Fatalf("%v != %v: two names of one session must be equal", a, b)
	}
	seen := map[Session]int{a: 1}
	if seen[b] != 1 {
		t.Error("equal sessions hash differently")
	}
	names := []string{
		"ecephys_676909_2023-12-13_13-43-40",
		"behavior_676909_2024-01-01_00-00-00",
		"ecephys_676909_2023-12-12_13-43-40",
		"SmartSPIM_693196_2023-09-28_23-12-22",
	}
	var ss []Session
	for _, n := range names {
		ss = append(ss, MustParseSession(n))
	}
	slices.SortFunc(ss, Session.Compare)
	var got []string
	for _, s := range ss {
		got = append(got, s.ID())
	}
	want := slices.Clone(names)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("order = %v, want %v", got, want)
	}
}

func TestSessionJSON(t *testing.T) {
	s := MustParseSession("ecephys_686740_2023_10_26_12_29_08_to_dlc_side")
	b, err := json.Marshal(s)
	if err != nil || string(b) != `"ecephys_686740_2023-10-26_12-29-08"` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	var back Session
	if err := json.Unmarshal(b, &back); err != nil || back != s {
		t.Fatalf("Unmarshal = %v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`"nonsense"`), &back); err == nil {
		t.Error("Unmarshal accepted a name that is not a session")
	}
}

func TestParseSubject(t *testing.T) {
	tests := []struct{ in, want, errHas string }{
		{in: "676909", want: "676909"},
		{in: "0676909", want: "676909"},
		{in: "1234567", want: "1234567"},
		{in: "ecephys_676909_2023-12-13_13-43-40", want: "676909"},
		{in: "/data/subject_686740/x", want: "686740"},
		{in: "ecephys_0676909_2023-12-13_13-43-40", want: "676909"},
		{in: "12345", errHas: "no subject ID of 6-7 digits"},
		{in: "12345678", errHas: "no subject ID of 6-7 digits"},
		{in: "mouse", errHas: `"mouse"`},
		{in: "", errHas: "no subject ID"},
	}
	for _, tt := range tests {
		got, err := ParseSubject(tt.in)
		if tt.want == "" {
			if err == nil || !strings.Contains(err.Error(), tt.errHas) {
				t.Errorf("ParseSubject(%q) = %v, %v; want error with %q", tt.in, got, err, tt.errHas)
			}
			continue
		}
		if err != nil || got.ID() != tt.want {
			t.Errorf("ParseSubject(%q) = %v, %v; want %s", tt.in, got, err, tt.want)
		}
	}
}

func FuzzParseSession(f *testing.F) {
	for _, seed := range []string{
		"ecephys_676909_2023-12-13_13-43-40",
		"ecephys_686740_2023_10_26_12_29_08_to_dlc_side",
		"/root/capsule/data/ecephys_676909_2023-12-13_13-43-40/ecephys",
		"ecephys_0676909_2023-02-29_13:43.40.123456",
		"prefix_x_1234567_2016/01/01_00_00_00",
		"ecephys_676909_20231213_134340",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseSession(in)
		if err != nil {
			if !strings.Contains(err.Error(), "session name") {
				t.Fatalf("error %q does not say it is about a session name", err)
			}
			return
		}
		back, err := ParseSession(s.ID())
		if err != nil {
			t.Fatalf("canonical ID %q of %q does not parse: %v", s.ID(), in, err)
		}
		if back != s || back.ID() != s.ID() {
			t.Fatalf("canonical ID %q parses to %q", s.ID(), back.ID())
		}
		if !strings.Contains(in, s.SubjectAsWritten()) || !strings.Contains(in, s.Platform()) {
			t.Fatalf("session %v has parts not in its input %q", s, in)
		}
	})
}
