package topology

import (
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/plan"
	"github.com/sdnlab/sdnlab/sdn/registry"
)

// Defaults of a lab file.
const (
	DefaultMTU          = 1500
	minMTU6             = 1280 // below it the kernel disables IPv6 on a link
	defaultSegment      = "lan"
	externalSegmentName = "ext"
	defaultUpstreamName = "upstream"
	maxLabName          = 12
)

var (
	defaultUnderlay = netip.MustParsePrefix("10.99.0.0/24")
	defaultExternal = netip.MustParsePrefix("203.0.113.0/24")
	labNameRE       = regexp.MustCompile(`^[a-z0-9]{1,12}$`)
	thingNameRE     = regexp.MustCompile(`^[a-zA-Z0-9]([a-zA-Z0-9_-]{0,30}[a-zA-Z0-9])?$`)
)

// Load reads and checks a lab file and the SDN configuration it names, and
// compiles every node's plan. Every problem is reported at once, as a
// config.ErrorList (BadInput) naming file, line and field, before anything
// is created. compile is the SDN compiler (sdn.Compile): the caller passes
// it so that topology depends on the plan, not on the compiler.
func Load(file string, compile Compiler) (*Lab, error) { return load(file, nil, compile) }

// Compiler compiles the plan of one node (sdn.Compile).
type Compiler func(*config.Config, plan.NodeFacts) (*plan.NodePlan, error)

// load is Load, with the lab name replaced by *name when name is not nil.
func load(file string, name *string, compile Compiler) (*Lab, error) {
	if compile == nil {
		return nil, errors.New("load lab: no SDN compiler given")
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return nil, err
	}
	s, err := parseSpec(file)
	if err != nil {
		return nil, err
	}
	if name != nil {
		s.Name = str{V: *name, Pos: config.Pos{File: file, Line: 1}, Set: true}
	}
	r := &resolver{s: s, lab: &Lab{File: abs}, compiler: compile}
	r.resolve()
	if err := r.errs.Err(); err != nil {
		return nil, err
	}
	return r.lab, nil
}

type resolver struct {
	compiler Compiler
	s        *spec
	lab      *Lab
	errs     config.ErrorList
	cfg      *config.Config
	// used tracks every underlay address, to catch duplicates.
	used map[netip.Addr]config.Pos
	// reflectorAddrs are the addresses of EVPN route reflectors.
	reflectorAddrs map[netip.Addr]bool
}

func (r *resolver) errf(pos config.Pos, field, format string, a ...any) {
	r.errs = append(r.errs, &config.Error{Pos: pos, Field: field, Msg: fmt.Sprintf(format, a...)})
}

// absorb adds err to the problems: a config.ErrorList as it is (it names
// its own files and lines), anything else at pos and field as format
// (which has one %v for err).
func (r *resolver) absorb(err error, pos config.Pos, field, format string) {
	if el, ok := err.(config.ErrorList); ok {
		r.errs = append(r.errs, el...)
		return
	}
	r.errf(pos, field, format, err)
}

// newName checks a router's or guest's name: valid (thingNameRE) and not
// in seen, which it is then added to. Otherwise it reports the problem at
// the name, with invalid or twice as the message (%q is the name).
func (r *resolver) newName(seen map[string]bool, name str, field, invalid, twice string) bool {
	switch {
	case !thingNameRE.MatchString(name.V):
		r.errf(name.Pos, field, invalid, name.V)
	case seen[name.V]:
		r.errf(name.Pos, field, twice, name.V)
	default:
		seen[name.V] = true
		return true
	}
	return false
}

// rootPos is the position for problems with no better place (line 1).
func (r *resolver) rootPos() config.Pos { return config.Pos{File: r.s.File, Line: 1} }

func (r *resolver) resolve() {
	r.used = map[netip.Addr]config.Pos{}
	r.name()
	r.loadConfig()
	r.segments()
	r.nodes()
	r.links()
	r.lab.LSPGenInterval = r.s.LSPGenInterval.V
	r.checkConfigNodes()
	r.routers()
	r.upstream()
	r.impairments()
	if len(r.errs) > 0 {
		return // routes and plans need a consistent underlay
	}
	r.routes()
	r.compile()
	r.reflectors()
	r.checkPeers()
	r.checkFabricLinks()
	if len(r.errs) > 0 {
		return
	}
	r.guests()
	r.checkMTU()
	r.checkNamespaces()
	r.upstreamSDNRoutes()
	r.bgp()
	r.upstreamBGP()
}

func (r *resolver) name() {
	s := r.s
	if s.Name.Set {
		if err := CheckLabName(s.Name.V); err != nil {
			r.errf(s.Name.Pos, "name", "%v", err)
		}
		r.lab.Name = s.Name.V
		return
	}
	base := filepath.Base(s.File)
	stem := strings.TrimSuffix(strings.TrimSuffix(base, ".yaml"), ".yml")
	if stem == "lab" {
		abs, _ := filepath.Abs(s.File)
		stem = filepath.Base(filepath.Dir(abs))
	}
	var b strings.Builder
	for _, c := range strings.ToLower(stem) {
		if (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') {
			b.WriteRune(c)
		}
	}
	n := b.String()
	if len(n) > maxLabName {
		n = n[:maxLabName]
	}
	if n == "" {
		r.errf(r.rootPos(), "name", "cannot derive a lab name from %q: set name:", s.File)
	}
	r.lab.Name = n
}

func (r *resolver) loadConfig() {
	s := r.s
	dir := s.SDN.V
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(filepath.Dir(s.File), dir)
	}
	abs, _ := filepath.Abs(dir)
	r.lab.SDNDir = abs
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		r.errf(s.SDN.Pos, "sdn", "%q is not a directory of SDN .cfg files", s.SDN.V)
		return
	}
	cfg, err := config.Load(dir, registry.Config())
	if err != nil {
		r.absorb(err, s.SDN.Pos, "sdn", "%v")
	}
	r.cfg = cfg
	r.lab.Config = cfg
	if cfg != nil {
		r.lab.VNets = map[string]VNetInfo{}
		for id, v := range cfg.VNets {
			vi := VNetInfo{Zone: v.Zone}
			if z := cfg.Zones[v.Zone]; z != nil {
				vi.ZoneType = z.Type
			}
			r.lab.VNets[id] = vi
		}
	}
}

// configPeers returns the underlay addresses the SDN configuration names
// (vxlan zone peers, EVPN controller peers), used as default node addresses
// in lab order, since the config has no node-to-peer mapping.
func (r *resolver) configPeers() []netip.Addr {
	if r.cfg == nil {
		return nil
	}
	for _, c := range r.cfg.SortedControllers() {
		if c.Type == "evpn" && len(c.Peers) > 0 {
			return c.Peers
		}
	}
	for _, z := range r.cfg.SortedZones() {
		if len(z.Peers) > 0 { // zones with a static VTEP list (vxlan)
			return z.Peers
		}
	}
	return nil
}

// checkConfigNodes holds the SDN configuration against the lab's node list,
// now that it is known: zone nodes, exit nodes, exitnodes-primary and the
// bgp/isis controllers' node must name nodes of the lab.
func (r *resolver) checkConfigNodes() {
	if r.cfg == nil || len(r.lab.Nodes) == 0 {
		return
	}
	names := make([]string, 0, len(r.lab.Nodes))
	for _, n := range r.lab.Nodes {
		names = append(names, n.Name)
	}
	if err := r.cfg.CheckNodes(names); err != nil {
		r.absorb(err, r.rootPos(), "nodes", "%v")
	}
}

// NameOf returns the lab name a lab file gets (its name: field, or the
// name derived from its path), without checking the rest of it.
func NameOf(file string) (string, error) {
	s, err := parseSpec(file)
	if err != nil {
		return "", err
	}
	r := &resolver{s: s, lab: &Lab{}}
	r.name()
	if err := r.errs.Err(); err != nil {
		return "", err
	}
	return r.lab.Name, nil
}

// LoadNamed is Load with the lab name given (tests and side-by-side runs of
// one lab file); name follows the rules of the name: field.
func LoadNamed(file, name string, compile Compiler) (*Lab, error) {
	return load(file, &name, compile)
}
