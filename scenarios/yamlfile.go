package scenarios

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/netip"
	"reflect"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/registry"
)

// A scenario file is YAML:
//
//	name: migrate-twice                 # required, [a-z0-9_-]
//	description: a guest moves and comes back
//	lab:                                # requirements; unmet ones skip the run
//	  zone-type: evpn                   # a zone of this type must exist
//	  min-nodes: 3
//	  min-guests: 2
//	  external: true                    # the lab must have an external host
//	params:                             # defaults, used as ${name} in steps
//	  pause: 50ms
//	steps:                              # run in order; the first error stops
//	  - udp-stream: {name: s1, from: vm2, to: vm1, interval: 1ms}
//	  - migrate: {guest: vm1, to: node2, pause: "${pause}"}
//	  - sleep: 300ms
//	  - stop-stream: {name: s1, max-lost: 200, max-gap: 500ms}
//	  - ping: {from: vm1, to: gateway, expect: reply}
//	  - fdb: {node: node3, mac-of: vm1, expect: remote node2, within: 2s}
//	  - capture: {name: c1, on: [underlay, vm2]}   # max-frames: N bounds it
//	  - ping: {from: vm1, to: vm2}
//	  - expect-capture: {name: c1, no-arp-request-for: vm2, only-vnis: [11000], no-fragments: true}
//	  - kill-agent: {node: node3}
//	  - scenario: {name: bum-replication}
//
// Every step is a mapping with exactly one key, the step kind. Errors name
// the file, the line and the field.

// FileScenario is a scenario read from a YAML file.
type FileScenario struct {
	File        string
	ScenName    string
	Desc        string
	Require     LabRequirement
	Defaults    []Param
	Steps       []Step
	scenarioFor func(name string) (Scenario, error) // Lookup, replaceable in tests
}

// LabRequirement is what a scenario file needs from the lab.
type LabRequirement struct {
	ZoneType  string `yaml:"zone-type"`
	MinNodes  int    `yaml:"min-nodes"`
	MinGuests int    `yaml:"min-guests"`
	External  bool   `yaml:"external"`
}

// Step is one parsed step.
type Step struct {
	Kind string
	Line int
	Args stepArgs
}

// stepArgs is the typed body of a step.
type stepArgs interface{ validate() error }

// The step bodies. Strings may contain ${param}.
type (
	scenarioStep struct {
		Name   string            `yaml:"name"`
		Params map[string]string `yaml:"params"`
	}
	pingStep struct {
		From     string `yaml:"from"`
		To       string `yaml:"to"`
		Family   int    `yaml:"family"`
		Count    int    `yaml:"count"`
		Interval string `yaml:"interval"`
		Size     int    `yaml:"size"`
		DF       bool   `yaml:"df"`
		Expect   string `yaml:"expect"`
	}
	streamStep struct {
		Name     string `yaml:"name"`
		From     string `yaml:"from"`
		To       string `yaml:"to"`
		Family   int    `yaml:"family"`
		Interval string `yaml:"interval"`
		Port     int    `yaml:"port"`
	}
	stopStreamStep struct {
		Name    string `yaml:"name"`
		MaxLost *int   `yaml:"max-lost"`
		MaxGap  string `yaml:"max-gap"`
	}
	migrateStep struct {
		Guest string `yaml:"guest"`
		To    string `yaml:"to"`
		Pause string `yaml:"pause"`
	}
	killNodeStep struct {
		Node string `yaml:"node"`
	}
	killAgentStep struct {
		Node string `yaml:"node"`
	}
	captureStep struct {
		Name string   `yaml:"name"`
		On   []string `yaml:"on"`
		// MaxFrames bounds the frames kept per point (default 100000);
		// frames over it are lost, which expect-capture reports.
		MaxFrames int `yaml:"max-frames"`
	}
	expectCaptureStep struct {
		Name            string   `yaml:"name"`
		NoARPRequestFor string   `yaml:"no-arp-request-for"`
		NoNDSolicitFor  string   `yaml:"no-nd-solicit-for"`
		NoFragments     bool     `yaml:"no-fragments"`
		OnlyVNIs        []uint32 `yaml:"only-vnis"`
		MinVXLAN        int      `yaml:"min-vxlan"`
	}
	sleepStep struct {
		For string
	}
	sysctlStep struct {
		In    string `yaml:"in"`
		Key   string `yaml:"key"`
		Value string `yaml:"value"`
	}
	execStep struct {
		In           string   `yaml:"in"`
		Cmd          []string `yaml:"cmd"`
		ExpectExit   *int     `yaml:"expect-exit"`
		ExpectOutput string   `yaml:"expect-output"`
	}
	fdbStep struct {
		Node   string `yaml:"node"`
		MACOf  string `yaml:"mac-of"`
		Expect string `yaml:"expect"`
		Within string `yaml:"within"`
	}
	routeStep struct {
		In     string `yaml:"in"`     // a node, a router, a guest or external
		VNet   string `yaml:"vnet"`   // with a node: the VNet's namespace (its VRF for EVPN)
		To     string `yaml:"to"`     // a prefix, or "default"
		Via    string `yaml:"via"`    // a node (its underlay addresses) or an address
		Expect string `yaml:"expect"` // present or absent
		Within string `yaml:"within"`
	}
)

// stepKinds maps step kinds to a constructor of their body.
var stepKinds = map[string]func() stepArgs{
	"scenario":       func() stepArgs { return &scenarioStep{} },
	"ping":           func() stepArgs { return &pingStep{} },
	"udp-stream":     func() stepArgs { return &streamStep{} },
	"stop-stream":    func() stepArgs { return &stopStreamStep{} },
	"migrate":        func() stepArgs { return &migrateStep{} },
	"kill-node":      func() stepArgs { return &killNodeStep{} },
	"kill-agent":     func() stepArgs { return &killAgentStep{} },
	"capture":        func() stepArgs { return &captureStep{} },
	"expect-capture": func() stepArgs { return &expectCaptureStep{} },
	"sleep":          func() stepArgs { return &sleepStep{} },
	"sysctl":         func() stepArgs { return &sysctlStep{} },
	"exec":           func() stepArgs { return &execStep{} },
	"fdb":            func() stepArgs { return &fdbStep{} },
	"route":          func() stepArgs { return &routeStep{} },
}

func stepKindNames() string {
	var names []string
	for k := range stepKinds {
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// hasParam tells whether a value will be expanded at run time, so its
// syntax can only be checked then.
func hasParam(s string) bool { return strings.Contains(s, "${") }

func checkDuration(field, v string, required bool) error {
	if v == "" {
		if required {
			return fmt.Errorf("field %q: required", field)
		}
		return nil
	}
	if hasParam(v) {
		return nil
	}
	if d, err := time.ParseDuration(v); err != nil || d < 0 {
		return fmt.Errorf("field %q: %q is not a duration (like 50ms)", field, v)
	}
	return nil
}

func required(field, v string) error {
	if v == "" {
		return fmt.Errorf("field %q: required", field)
	}
	return nil
}

func (s *scenarioStep) validate() error { return required("name", s.Name) }

func (s *pingStep) validate() error {
	if err := required("from", s.From); err != nil {
		return err
	}
	if err := required("to", s.To); err != nil {
		return err
	}
	if s.Family != 0 && s.Family != 4 && s.Family != 6 {
		return fmt.Errorf("field \"family\": %d is not 4 or 6", s.Family)
	}
	if s.Count < 0 || s.Count > 100000 {
		return fmt.Errorf("field \"count\": %d out of range 1..100000", s.Count)
	}
	if s.Size < 0 || s.Size > 65507 {
		return fmt.Errorf("field \"size\": %d out of range 0..65507", s.Size)
	}
	switch s.Expect {
	case "", "reply", "no-reply":
	default:
		return fmt.Errorf("field \"expect\": %q is not reply or no-reply", s.Expect)
	}
	return checkDuration("interval", s.Interval, false)
}

func (s *streamStep) validate() error {
	for _, f := range [][2]string{{"name", s.Name}, {"from", s.From}, {"to", s.To}} {
		if err := required(f[0], f[1]); err != nil {
			return err
		}
	}
	if s.Family != 0 && s.Family != 4 && s.Family != 6 {
		return fmt.Errorf("field \"family\": %d is not 4 or 6", s.Family)
	}
	if s.Port < 0 || s.Port > 65535 {
		return fmt.Errorf("field \"port\": %d out of range", s.Port)
	}
	return checkDuration("interval", s.Interval, false)
}

func (s *stopStreamStep) validate() error {
	if err := required("name", s.Name); err != nil {
		return err
	}
	if s.MaxLost != nil && *s.MaxLost < 0 {
		return fmt.Errorf("field \"max-lost\": must not be negative")
	}
	return checkDuration("max-gap", s.MaxGap, false)
}

func (s *migrateStep) validate() error {
	if err := required("guest", s.Guest); err != nil {
		return err
	}
	if err := required("to", s.To); err != nil {
		return err
	}
	return checkDuration("pause", s.Pause, false)
}

func (s *killNodeStep) validate() error { return required("node", s.Node) }

func (s *killAgentStep) validate() error { return required("node", s.Node) }

func (s *captureStep) validate() error {
	if err := required("name", s.Name); err != nil {
		return err
	}
	if len(s.On) == 0 {
		return fmt.Errorf("field \"on\": required (a list: [underlay, vm1, node2, ...])")
	}
	if s.MaxFrames < 0 {
		return fmt.Errorf("field \"max-frames\": must not be negative")
	}
	return nil
}

func (s *expectCaptureStep) validate() error {
	if err := required("name", s.Name); err != nil {
		return err
	}
	if s.NoARPRequestFor == "" && s.NoNDSolicitFor == "" && !s.NoFragments && len(s.OnlyVNIs) == 0 && s.MinVXLAN == 0 {
		return fmt.Errorf("no expectation: give no-arp-request-for, no-nd-solicit-for, no-fragments, only-vnis or min-vxlan")
	}
	if s.MinVXLAN < 0 {
		return fmt.Errorf("field \"min-vxlan\": must not be negative")
	}
	return nil
}

func (s *sleepStep) validate() error { return checkDuration("sleep", s.For, true) }

func (s *sysctlStep) validate() error {
	for _, f := range [][2]string{{"in", s.In}, {"key", s.Key}, {"value", s.Value}} {
		if err := required(f[0], f[1]); err != nil {
			return err
		}
	}
	return nil
}

func (s *execStep) validate() error {
	if err := required("in", s.In); err != nil {
		return err
	}
	if len(s.Cmd) == 0 {
		return fmt.Errorf("field \"cmd\": required (a list: [ip, link])")
	}
	return nil
}

func (s *fdbStep) validate() error {
	if err := required("node", s.Node); err != nil {
		return err
	}
	if err := required("mac-of", s.MACOf); err != nil {
		return err
	}
	if _, _, err := parseFDBExpect(s.Expect); err != nil && !hasParam(s.Expect) {
		return fmt.Errorf("field \"expect\": %w", err)
	}
	return checkDuration("within", s.Within, false)
}

func (s *routeStep) validate() error {
	for _, f := range [][2]string{{"in", s.In}, {"to", s.To}, {"via", s.Via}} {
		if err := required(f[0], f[1]); err != nil {
			return err
		}
	}
	if s.To != "default" && !hasParam(s.To) {
		if p, err := netip.ParsePrefix(s.To); err != nil || p != p.Masked() {
			return fmt.Errorf("field \"to\": %q is not a prefix without host bits or \"default\"", s.To)
		}
	}
	if s.Expect != "present" && s.Expect != "absent" && !hasParam(s.Expect) {
		return fmt.Errorf("field \"expect\": %q is not present or absent", s.Expect)
	}
	return checkDuration("within", s.Within, false)
}

// parseFDBExpect reads "local", "absent" or "remote NODE".
func parseFDBExpect(v string) (kind, node string, err error) {
	f := strings.Fields(v)
	switch {
	case len(f) == 1 && (f[0] == "local" || f[0] == "absent"):
		return f[0], "", nil
	case len(f) == 2 && f[0] == "remote":
		return "remote", f[1], nil
	}
	return "", "", fmt.Errorf("%q is not local, absent or \"remote NODE\"", v)
}

// FileError is a bad scenario file: it names file, line and field.
type FileError struct {
	File string
	Line int
	Msg  string
}

func (e *FileError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// BadInput marks the error as bad input (exit code 2 in the CLI).
func (e *FileError) BadInput() bool { return true }

// LoadFile reads a scenario file.
func LoadFile(path string) (*FileScenario, error) {
	data, err := config.ReadInput(path)
	if err != nil {
		return nil, &FileError{File: path, Msg: "cannot read: " + readErrText(err)}
	}
	return ParseFile(path, data)
}

// ParseFile parses a scenario file's content; name is used in errors.
func ParseFile(name string, data []byte) (*FileScenario, error) {
	ferr := func(line int, format string, a ...any) error {
		return &FileError{File: name, Line: line, Msg: fmt.Sprintf(format, a...)}
	}
	var doc yaml.Node
	dec := yaml.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) { // yaml.v3 says just "EOF" for no document
			return nil, ferr(0, "empty scenario file")
		}
		return nil, ferr(yamlErrLine(err), "%s", yamlErrMsg(err))
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, ferr(doc.Line, "a scenario file is a mapping with name, steps, ...")
	}
	root := doc.Content[0]
	fs := &FileScenario{File: name, scenarioFor: Lookup}
	seen := map[string]bool{}
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		if seen[k.Value] {
			return nil, ferr(k.Line, "field %q given twice", k.Value)
		}
		seen[k.Value] = true
		switch k.Value {
		case "name":
			if v.Kind != yaml.ScalarNode || !validName(v.Value) {
				return nil, ferr(v.Line, "field \"name\": %q must be lower-case letters, digits, dashes and underscores", v.Value)
			}
			fs.ScenName = v.Value
		case "description":
			if v.Kind != yaml.ScalarNode {
				return nil, ferr(v.Line, "field \"description\": must be a string")
			}
			fs.Desc = v.Value
		case "lab":
			if err := decodeStrict(v, &fs.Require); err != nil {
				return nil, ferr(errLine(err, v.Line), "field \"lab\": %s", errMsg(err))
			}
		case "params":
			if v.Kind != yaml.MappingNode {
				return nil, ferr(v.Line, "field \"params\": must be a mapping of name: default")
			}
			for j := 0; j+1 < len(v.Content); j += 2 {
				pk, pv := v.Content[j], v.Content[j+1]
				if pv.Kind != yaml.ScalarNode {
					return nil, ferr(pv.Line, "params: %q: the default must be a scalar", pk.Value)
				}
				if !validName(pk.Value) {
					return nil, ferr(pk.Line, "params: %q is not a valid parameter name", pk.Value)
				}
				fs.Defaults = append(fs.Defaults, Param{Name: pk.Value, Default: pv.Value})
			}
		case "steps":
			if v.Kind != yaml.SequenceNode {
				return nil, ferr(v.Line, "field \"steps\": must be a list")
			}
			for n, sn := range v.Content {
				st, err := parseStep(sn, n+1)
				if err != nil {
					return nil, ferr(errLine(err, sn.Line), "%s", errMsg(err))
				}
				fs.Steps = append(fs.Steps, st)
			}
		default:
			return nil, ferr(k.Line, "unknown field %q (known: name, description, lab, params, steps)", k.Value)
		}
	}
	if fs.ScenName == "" {
		return nil, ferr(root.Line, "field \"name\": required")
	}
	if len(fs.Steps) == 0 {
		return nil, ferr(root.Line, "field \"steps\": at least one step is required")
	}
	if t := fs.Require.ZoneType; t != "" {
		if _, ok := registry.Zone(t); !ok {
			names := registry.ZoneNames()
			return nil, ferr(lineOfKey(root, "lab"), "lab: field \"zone-type\": %q is not %s or %s", t, strings.Join(names[:len(names)-1], ", "), names[len(names)-1])
		}
	}
	// Every ${x} must be a declared parameter.
	declared := map[string]bool{}
	for _, p := range fs.Defaults {
		declared[p.Name] = true
	}
	for _, st := range fs.Steps {
		for _, ref := range paramRefs(st.Args) {
			if !declared[ref] {
				return nil, ferr(st.Line, "step %s: ${%s} is not declared under params", st.Kind, ref)
			}
		}
		// A built-in scenario and its literal parameter values are
		// checked now, before any lab is brought up.
		if a, ok := st.Args.(*scenarioStep); ok && !hasParam(a.Name) {
			sc, err := fs.scenarioFor(a.Name)
			if err != nil {
				return nil, ferr(st.Line, "step scenario: %v", err)
			}
			literal := map[string]string{}
			for k, v := range a.Params {
				if !hasParam(v) {
					literal[k] = v
				}
			}
			if _, err := applyDefaults(sc, literal); err != nil {
				return nil, ferr(st.Line, "step scenario: %v", err)
			}
		}
	}
	return fs, nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return true
}

func lineOfKey(m *yaml.Node, key string) int {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i].Line
		}
	}
	return m.Line
}

// lineError carries a line inside a nested node.
type lineError struct {
	line int
	msg  string
}

func (e *lineError) Error() string { return e.msg }

func errLine(err error, def int) int {
	if le, ok := err.(*lineError); ok && le.line > 0 {
		return le.line
	}
	return def
}

func errMsg(err error) string { return err.Error() }

func parseStep(n *yaml.Node, index int) (Step, error) {
	if n.Kind != yaml.MappingNode || len(n.Content) != 2 {
		return Step{}, &lineError{n.Line, fmt.Sprintf("step %d: must be a mapping with exactly one key, the step kind (%s)", index, stepKindNames())}
	}
	k, v := n.Content[0], n.Content[1]
	mk, ok := stepKinds[k.Value]
	if !ok {
		return Step{}, &lineError{k.Line, fmt.Sprintf("step %d: unknown step kind %q (known: %s)", index, k.Value, stepKindNames())}
	}
	args := mk()
	switch a := args.(type) {
	case *sleepStep:
		if v.Kind != yaml.ScalarNode {
			return Step{}, &lineError{v.Line, fmt.Sprintf("step %d (sleep): must be a duration like 500ms", index)}
		}
		a.For = v.Value
	case *scenarioStep:
		// "scenario: NAME" is short for "scenario: {name: NAME}".
		if v.Kind == yaml.ScalarNode {
			a.Name = v.Value
			break
		}
		if err := decodeStrict(v, a); err != nil {
			return Step{}, &lineError{errLine(err, v.Line), fmt.Sprintf("step %d (%s): %s", index, k.Value, errMsg(err))}
		}
	default:
		if err := decodeStrict(v, a); err != nil {
			return Step{}, &lineError{errLine(err, v.Line), fmt.Sprintf("step %d (%s): %s", index, k.Value, errMsg(err))}
		}
	}
	if err := args.validate(); err != nil {
		return Step{}, &lineError{v.Line, fmt.Sprintf("step %d (%s): %s", index, k.Value, err)}
	}
	return Step{Kind: k.Value, Line: k.Line, Args: args}, nil
}

// decodeStrict decodes a mapping node into a struct, rejecting keys the
// struct does not have (yaml.v3's Node.Decode has no KnownFields).
func decodeStrict(n *yaml.Node, out any) error {
	if n.Kind != yaml.MappingNode {
		return &lineError{n.Line, "must be a mapping"}
	}
	known := map[string]bool{}
	var names []string
	t := reflect.TypeOf(out).Elem()
	for i := 0; i < t.NumField(); i++ {
		tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
		if tag != "" && tag != "-" {
			known[tag] = true
			names = append(names, tag)
		}
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := n.Content[i]
		if !known[k.Value] {
			return &lineError{k.Line, fmt.Sprintf("unknown field %q (known: %s)", k.Value, strings.Join(names, ", "))}
		}
	}
	if err := n.Decode(out); err != nil {
		return &lineError{yamlErrLine(err), "field " + yamlErrMsg(err)}
	}
	return nil
}

// yamlErrLine pulls "line N" out of a yaml.v3 error.
func yamlErrLine(err error) int {
	var line int
	s := err.Error()
	if i := strings.Index(s, "line "); i >= 0 {
		fmt.Sscanf(s[i+5:], "%d", &line)
	}
	return line
}

// yamlErrMsg strips yaml.v3's "yaml: line N: " / "yaml: unmarshal errors:" prefixes.
func yamlErrMsg(err error) string {
	s := err.Error()
	s = strings.TrimPrefix(s, "yaml: unmarshal errors:\n")
	s = strings.TrimPrefix(s, "yaml: ")
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "line ") {
		if i := strings.Index(s, ": "); i >= 0 {
			s = s[i+2:]
		}
	}
	return s
}

// paramRefs lists the ${name} references in a step's string fields.
func paramRefs(a stepArgs) []string {
	var refs []string
	var walk func(v reflect.Value)
	walk = func(v reflect.Value) {
		switch v.Kind() {
		case reflect.Pointer:
			if !v.IsNil() {
				walk(v.Elem())
			}
		case reflect.Struct:
			for i := 0; i < v.NumField(); i++ {
				walk(v.Field(i))
			}
		case reflect.String:
			refs = append(refs, findRefs(v.String())...)
		case reflect.Slice:
			for i := 0; i < v.Len(); i++ {
				walk(v.Index(i))
			}
		case reflect.Map:
			for _, k := range v.MapKeys() {
				walk(v.MapIndex(k))
			}
		}
	}
	walk(reflect.ValueOf(a))
	return refs
}

func findRefs(s string) []string {
	var out []string
	for {
		i := strings.Index(s, "${")
		if i < 0 {
			return out
		}
		j := strings.Index(s[i:], "}")
		if j < 0 {
			return out
		}
		out = append(out, s[i+2:i+j])
		s = s[i+j+1:]
	}
}

// expand replaces ${name} with parameter values.
func expand(s string, params map[string]string) string {
	for _, ref := range findRefs(s) {
		s = strings.ReplaceAll(s, "${"+ref+"}", params[ref])
	}
	return s
}

// Name implements Scenario.
func (f *FileScenario) Name() string { return f.ScenName }

// Description implements Scenario.
func (f *FileScenario) Description() string {
	if f.Desc != "" {
		return f.Desc
	}
	return "scenario file " + f.File
}

// Params implements Scenario.
func (f *FileScenario) Params() []Param { return f.Defaults }

// readErrText drops the path an *fs.PathError repeats (FileError names it).
func readErrText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
