package plan

import "sort"

// Stanzas is the set of stanzas being generated for one node, keyed by
// interface name the way Proxmox keys its generated config: the first
// writer of a name wins (Add), a few writers append to an existing stanza
// (Get), and the result is written sorted by name.
type Stanzas struct {
	byName map[string]*Iface
}

// NewStanzas returns an empty set.
func NewStanzas() *Stanzas { return &Stanzas{byName: map[string]*Iface{}} }

// Has reports whether a stanza called name exists.
func (s *Stanzas) Has(name string) bool { _, ok := s.byName[name]; return ok }

// Get returns the stanza called name, or nil.
func (s *Stanzas) Get(name string) *Iface { return s.byName[name] }

// Add stores i unless a stanza of that name exists; it reports whether i
// was stored.
func (s *Stanzas) Add(i *Iface) bool {
	if s.Has(i.Name) {
		return false
	}
	s.byName[i.Name] = i
	return true
}

// GetOrNew returns the stanza called name, creating an empty one of kind
// when there is none.
func (s *Stanzas) GetOrNew(name string, kind IfaceKind) *Iface {
	if i := s.byName[name]; i != nil {
		return i
	}
	i := NewIface(name, kind)
	s.byName[name] = i
	return i
}

// Len is the number of stanzas.
func (s *Stanzas) Len() int { return len(s.byName) }

// Sorted returns the stanzas sorted by name (byte order, as Perl's sort).
func (s *Stanzas) Sorted() []Iface {
	names := make([]string, 0, len(s.byName))
	for n := range s.byName {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]Iface, 0, len(names))
	for _, n := range names {
		out = append(out, *s.byName[n])
	}
	return out
}
