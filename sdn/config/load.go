package config

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
)

// Files are the section-config files Load reads from a config directory.
var Files = []string{
	"zones.cfg", "vnets.cfg", "subnets.cfg", "controllers.cfg", "fabrics.cfg",
	"ipams.cfg", "dns.cfg", "prefix-lists.cfg", "route-maps.cfg",
	// The WireGuard fabrics' private keys (Proxmox keeps them apart from
	// the rest, in a priv directory).
	"priv/wg-keys.cfg",
}

// Load reads an SDN configuration directory (the layout of /etc/pve/sdn).
// A missing file is an empty one; an unreadable directory is an error.
// Load decodes and validates everything, and returns the Config together
// with an ErrorList holding every problem (nil when there is none).
// types are the section types the configuration may use (sdn/registry).
func Load(dir string, types Types) (*Config, error) {
	if _, err := os.ReadDir(dir); err != nil {
		return nil, ErrorList{{Pos: Pos{File: dir}, Msg: "cannot read config directory: " + errText(err)}}
	}
	files := map[string][]Section{}
	var errs ErrorList
	for _, name := range Files {
		path := filepath.Join(dir, name)
		data, err := ReadInput(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			errs.add(Pos{File: path}, "", "cannot read: %s", errText(err))
			continue
		}
		secs, err := ParseSectionConfig(path, bytes.NewReader(data))
		errs.addErr(Pos{File: path}, err)
		files[name] = secs
	}
	c := decode(dir, files, types, &errs)
	return c, errs.Err()
}

// LoadSections builds a Config from already parsed files (keyed by file
// name, e.g. "zones.cfg"), for callers that do not read a directory.
func LoadSections(dir string, files map[string][]Section, types Types) (*Config, error) {
	var errs ErrorList
	c := decode(dir, files, types, &errs)
	return c, errs.Err()
}

func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func newConfig(dir string) *Config {
	return &Config{
		Dir:         dir,
		Zones:       map[string]*Zone{},
		VNets:       map[string]*VNet{},
		Subnets:     map[string]*Subnet{},
		Controllers: map[string]*Controller{},
		Fabrics:     map[string]*Fabric{},
		PrefixLists: map[string]*PrefixList{},
		RouteMaps:   map[string][]*RouteMapEntry{},
		WGKeys:      map[string]map[string]string{},
		Other:       map[string][]Section{},
	}
}

func decode(dir string, files map[string][]Section, types Types, errs *ErrorList) *Config {
	c := newConfig(dir)
	c.types = types
	for i := range files["zones.cfg"] {
		c.decodeZone(&files["zones.cfg"][i], errs)
	}
	for i := range files["vnets.cfg"] {
		c.decodeVNet(&files["vnets.cfg"][i], errs)
	}
	for i := range files["subnets.cfg"] {
		c.decodeSubnet(&files["subnets.cfg"][i], errs)
	}
	for i := range files["controllers.cfg"] {
		c.decodeController(&files["controllers.cfg"][i], errs)
	}
	c.decodeFabrics(files["fabrics.cfg"], errs)
	c.decodePrefixLists(files["prefix-lists.cfg"], errs)
	c.decodeRouteMaps(files["route-maps.cfg"], errs)
	c.decodeWGKeys(files["priv/wg-keys.cfg"], errs)
	for _, name := range []string{"ipams.cfg", "dns.cfg"} {
		if secs := files[name]; len(secs) > 0 {
			c.Other[name] = secs
			c.decodeOther(name, secs, errs)
		}
	}
	c.validate(errs)
	c.sortIgnored()
	c.Warnings.Sort()
	return c
}

// Strict returns the problems Proxmox's API would refuse although its
// generator accepts them (Warnings), or nil. sdnlab validate fails on them.
func (c *Config) Strict() error {
	if c == nil {
		return nil
	}
	return c.Warnings.Err()
}
