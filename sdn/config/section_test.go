package config

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParseSectionConfig(t *testing.T) {
	in := "# leading comment\n" +
		"vlan: office\n" +
		"\tbridge vmbr7\n" +
		"    # indented comment inside a section\n" +
		"    mtu   1400  \n" + // spaces for indentation, extra spaces around the value
		"\n" +
		"\n" +
		"EVPN: tenant\r\n" + // CRLF, type is case-folded like Proxmox does
		"\tpeers 10.1.0.1\r\n" +
		"\tpeers 10.1.0.2\r\n" + // repeated key: one Prop per line
		"\tadvertise-subnets\r\n" // key without a value
	secs, err := ParseSectionConfig("z.cfg", strings.NewReader(in))
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	want := []Section{
		{Type: "vlan", ID: "office", Pos: Pos{"z.cfg", 2}, Props: []Prop{
			{Key: "bridge", Value: "vmbr7", Pos: Pos{"z.cfg", 3}},
			{Key: "mtu", Value: "1400", Pos: Pos{"z.cfg", 5}},
		}},
		{Type: "evpn", ID: "tenant", Pos: Pos{"z.cfg", 8}, Props: []Prop{
			{Key: "peers", Value: "10.1.0.1", Pos: Pos{"z.cfg", 9}},
			{Key: "peers", Value: "10.1.0.2", Pos: Pos{"z.cfg", 10}},
			{Key: "advertise-subnets", Value: "", Pos: Pos{"z.cfg", 11}},
		}},
	}
	if !reflect.DeepEqual(secs, want) {
		t.Fatalf("got %+v\nwant %+v", secs, want)
	}
}

func TestParseSectionConfigEmpty(t *testing.T) {
	for _, in := range []string{"", "\n\n", "# only a comment\n", "\r\n"} {
		secs, err := ParseSectionConfig("e.cfg", strings.NewReader(in))
		if err != nil || len(secs) != 0 {
			t.Errorf("%q: got %v, %v; want no sections, no error", in, secs, err)
		}
	}
}

func TestParseSectionConfigErrors(t *testing.T) {
	cases := []struct {
		name, in string
		want     []string // every error line, in order
		nsecs    int      // sections still returned
	}{
		{
			name:  "missing id",
			in:    "vnet:\n\tzone a\n\nvnet: ok\n\tzone a\n",
			want:  []string{`f.cfg:1: section header "vnet:" has no id`},
			nsecs: 1,
		},
		{
			name:  "garbage lines",
			in:    "vnet: a\n\tzone z\nthis is garbage\n\tzone y\n\nnot: two words\n",
			want:  []string{`f.cfg:3: expected a section header "type: id", got "this is garbage" (property lines must be indented)`, `f.cfg:6: bad section header "not: two words": the id must be one word`},
			nsecs: 1,
		},
		{
			name:  "property after blank line",
			in:    "vnet: a\n\tzone z\n\n\ttag 5\n\ttag 6\n",
			want:  []string{`f.cfg:4: property line "tag 5" outside a section (a blank line ended the section, or no "type: id" header)`},
			nsecs: 1,
		},
		{
			name:  "duplicate id",
			in:    "vnet: a\n\tzone z\n\nvnet: b\n\tzone z\n\nvnet: a\n\tzone y\n",
			want:  []string{`f.cfg:7: duplicate section id "a" (first defined at line 1)`},
			nsecs: 3,
		},
		{
			name:  "no blank line between sections",
			in:    "vnet: a\n\tzone z\nvnet: b\n\tzone y\n",
			want:  []string{`f.cfg:3: section header "vnet: b" needs a blank line before it`},
			nsecs: 2,
		},
		{
			name:  "type with space",
			in:    "my type: a\n",
			want:  []string{`f.cfg:1: bad section header "my type: a": the type must be one word before ':'`},
			nsecs: 0,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			secs, err := ParseSectionConfig("f.cfg", strings.NewReader(tc.in))
			var l ErrorList
			if !errors.As(err, &l) {
				t.Fatalf("want an ErrorList, got %v", err)
			}
			if got := strings.Split(l.Error(), "\n"); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("errors:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if len(secs) != tc.nsecs {
				t.Errorf("got %d sections, want %d", len(secs), tc.nsecs)
			}
			if !l.BadInput() {
				t.Error("ErrorList must be bad input")
			}
		})
	}
}

func TestErrorListSorted(t *testing.T) {
	l := ErrorList{
		{Pos: Pos{"b.cfg", 1}, Field: "x", Msg: "m"},
		{Pos: Pos{"a.cfg", 10}, Field: "y", Msg: "m"},
		{Pos: Pos{"a.cfg", 2}, Msg: "no field"},
	}
	want := "a.cfg:2: no field\na.cfg:10: y: m\nb.cfg:1: x: m"
	if got := l.Error(); got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if ErrorList(nil).Err() != nil {
		t.Error("empty list must give a nil error")
	}
}
