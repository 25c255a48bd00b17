package topology

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/sdnlab/sdnlab/internal/nsutil"
)

// The state directory of a lab (/run/sdnlab/<lab>/):
//
//	lab.json                  the resolved Lab (names, addresses, interfaces)
//	nodes/<node>/interfaces   the generated host interfaces file
//	nodes/<node>/plan.json    the node's realized NodePlan
//	nodes/<node>/agent.pid    PID of the node's EVPN agent, when started
//
// Down does not need it: every namespace of a lab is named
// sdnlab-<lab>-..., and every process of a lab lives in one of them.

func writeJSON(path string, v any) error {
	_, err := writeJSONBytes(path, v)
	return err
}

// writeJSONChanged writes v to path as writeJSON does and tells whether
// that changed the file (false for a new one).
func writeJSONChanged(path string, v any) (bool, error) {
	old, _ := os.ReadFile(path)
	b, err := writeJSONBytes(path, v)
	return err == nil && len(old) > 0 && !bytes.Equal(old, b), err
}

// writeJSONBytes writes v to path atomically and returns what it wrote.
func writeJSONBytes(path string, v any) ([]byte, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", path, err)
	}
	b = append(b, '\n')
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return nil, err
	}
	return b, os.Rename(tmp, path)
}

// ReadState reads the lab.json of a running lab.
func ReadState(stateDir, lab string) (*Lab, error) {
	if stateDir == "" {
		stateDir = DefaultStateDir
	}
	b, err := os.ReadFile(filepath.Join(stateDir, lab, "lab.json"))
	if err != nil {
		return nil, fmt.Errorf("lab %s: no state (is it up?): %w", lab, err)
	}
	var l Lab
	if err := json.Unmarshal(b, &l); err != nil {
		return nil, fmt.Errorf("lab %s: bad state file: %w", lab, err)
	}
	return &l, nil
}

// capsCache is the kernel capabilities detected once per boot and kernel.
type capsCache struct {
	BootID string      `json:"bootID"`
	Caps   nsutil.Caps `json:"caps"`
}

// kernelCaps detects the kernel's capabilities in scratch namespace ns,
// or reads them from root/caps.json when this boot already did.
func kernelCaps(root, ns string) (nsutil.Caps, error) {
	// Keyed on the boot and the loaded modules: a modprobe invalidates it.
	b, _ := os.ReadFile("/proc/sys/kernel/random/boot_id")
	mods, _ := os.ReadFile("/proc/modules")
	var names []string
	for _, line := range strings.Split(string(mods), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			names = append(names, f[0])
		}
	}
	boot := ""
	if id := strings.TrimSpace(string(b)); id != "" {
		// "v2": caps.json files from before tc eBPF was detected are stale.
		boot = "v2/" + id + "/" + shortHash(strings.Join(names, ","), 16)
	}
	p := filepath.Join(root, "caps.json")
	if data, err := os.ReadFile(p); err == nil && boot != "" {
		var c capsCache
		if json.Unmarshal(data, &c) == nil && c.BootID == boot {
			return c.Caps, nil
		}
	}
	c, err := nsutil.DetectCaps(ns)
	if err != nil {
		return c, err
	}
	if boot != "" {
		_ = writeJSON(p, capsCache{BootID: boot, Caps: c})
	}
	return c, nil
}
