package config_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sdnlab/sdnlab/sdn/config"
	"github.com/sdnlab/sdnlab/sdn/registry"
)

func FuzzParseSectionConfig(f *testing.F) {
	for _, body := range validFiles() {
		f.Add(body)
	}
	f.Add("vnet:\n\tzone a\n")
	f.Add("a: b\r\n\tk v\r\n\r\n\tk2\n# c\nno header\n")
	f.Add(":\n\t \n")
	f.Fuzz(func(t *testing.T, in string) {
		secs, err := config.ParseSectionConfig("f.cfg", strings.NewReader(in))
		if err != nil && err.Error() == "" {
			t.Fatal("empty error text")
		}
		for _, s := range secs {
			if s.Type == "" || s.ID == "" || s.Pos.Line < 1 {
				t.Fatalf("bad section %+v", s)
			}
			for _, p := range s.Props {
				if p.Key == "" || p.Pos.Line <= s.Pos.Line {
					t.Fatalf("bad prop %+v in %+v", p, s)
				}
			}
		}
	})
}

func FuzzParseInterfaces(f *testing.F) {
	f.Add(lines("auto vmbr0", "iface vmbr0 inet static", "\taddress 10.0.0.1/24", "\tgateway 10.0.0.254", "\tbridge-ports eth0", "\tbridge-vlan-aware yes"))
	f.Add(lines("iface e inet6 static", "\taddress fd00::1", "\tnetmask 64", "\tmtu 1500", "\tpost-up a \\", "b"))
	f.Add(lines("auto vmbr9", "iface vmbr9 inet manual", "\tovs_type OVSBridge", "\tovs_ports a b", "source-directory x", "source *"))
	f.Add("iface\n\\\n")
	f.Fuzz(func(t *testing.T, in string) {
		// source lines resolve against a directory that does not exist, so
		// the fuzzer never reads real files.
		hi, err := config.ParseInterfacesReader("/nonexistent-sdnlab-fuzz/interfaces", strings.NewReader(in))
		if err != nil && err.Error() == "" {
			t.Fatal("empty error text")
		}
		if hi != nil && len(hi.Order) != len(hi.Ifaces) {
			t.Fatalf("order %v vs %d ifaces", hi.Order, len(hi.Ifaces))
		}
	})
}

// FuzzLoad writes the fuzzed text as each config file in turn and loads
// the directory: decoding and validation must never panic, and a config
// is always returned for a readable directory.
func FuzzLoad(f *testing.F) {
	files := validFiles()
	for _, name := range config.Files {
		if body, ok := files[name]; ok {
			f.Add(name, body, files["zones.cfg"])
		}
	}
	f.Add("subnets.cfg", lines("subnet: a-1.2.3.4-0", "\tvnet x", "\tdhcp-range start-address=::,end-address=::"), "")
	f.Add("fabrics.cfg", lines("ospf_node: a_b", "", "ospf_fabric: a", "\tarea 1"), "")
	f.Add("fabrics.cfg", lines("bgp_fabric: b", "\tip_prefix 10.0.0.0/8", "\tredistribute source=static,metric=1,", "", "bgp_node: b_n", "\trole internal", "\tasn 1", "\tip 10.0.0.1", "\tinterfaces name=e,"), "")
	f.Add("fabrics.cfg", lines("wireguard_fabric: w", "", "wireguard_node: w_n", "\trole internal", "\tinterfaces name=wg0,listen_port=1,public_key=x", "\tpeers type=internal,node=n,node_iface=wg0,iface=wg0,allowed_ips=1.0.0.0/8;::/0"), "")
	f.Add("prefix-lists.cfg", lines("prefix-list: p", "\tentries action=permit,prefix=0.0.0.0/0,le=32,ge=1,seq=5,"), "")
	f.Add("route-maps.cfg", lines("route-map-entry: r_1", "\taction permit", "\tmatch key=vni,value=1", "\tset key=metric,value=-rtt", "\texit-action key=continue,value=2", "\tcall r"), "")
	f.Add("priv/wg-keys.cfg", lines("node: n", "\tprivate_keys name=wg0,key=x"), "")
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, name, body, zones string) {
		if !validFileName(name) {
			name = config.Files[len(name)%len(config.Files)]
		}
		d, err := os.MkdirTemp(dir, "c")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(d)
		if err := os.WriteFile(filepath.Join(d, "zones.cfg"), []byte(zones), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(d, name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(d, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := config.Load(d, registry.Config())
		if c == nil {
			t.Fatalf("no config for a readable dir: %v", err)
		}
		_ = c.Strict()
		_ = c.CheckNodes([]string{"a", "b"})
		hi, _ := config.ParseInterfacesReader("i", bytes.NewReader([]byte(body)))
		if hi != nil {
			_ = c.CheckHost(hi)
		}
		if err != nil && !strings.Contains(err.Error(), d) {
			t.Fatalf("error does not name the file: %v", err)
		}
	})
}

func validFileName(n string) bool {
	for _, f := range config.Files {
		if f == n {
			return true
		}
	}
	return false
}
