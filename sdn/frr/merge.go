package frr

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// The line patterns Proxmox's frr.conf.local merge recognises, in the order
// it tries them.
var (
	reRouterISIS   = regexp.MustCompile(`^router isis (.+)$`)
	reRouterBGP    = regexp.MustCompile(`^router bgp (\S+)(?: vrf (.+))?$`)
	reRouter       = regexp.MustCompile(`^router (.+)$`)
	reVRF          = regexp.MustCompile(`^vrf (.+)$`)
	reInterface    = regexp.MustCompile(`^interface (.+)$`)
	reCommunity    = regexp.MustCompile(`^bgp community-list (.+)$`)
	reAF           = regexp.MustCompile(`address-family (.+)$`)
	reRouteMap     = regexp.MustCompile(`^route-map (.+) (permit|deny) (\d+)`)
	reAccessList   = regexp.MustCompile(`^access-list (.+) seq (\d+) (.+)$`)
	rePrefixList   = regexp.MustCompile(`^ip prefix-list (.+) seq (\d+) (.*)$`)
	rePrefixList6  = regexp.MustCompile(`^ipv6 prefix-list (.+) seq (\d+) (.*)$`)
	reExitAF       = regexp.MustCompile(`exit-address-family$`)
	reExit         = regexp.MustCompile(`^exit`)
	perlWhitespace = " \t\n\r\f\v"
)

// rmItem is one element of a route-map's merged list: either the marker
// for all generated entries of that name, or a raw frr.conf.local line.
type rmItem struct {
	generated bool
	line      string
}

// MergeLocal merges the text of frr.conf.local into c the way Proxmox does
// (PVE::Network::SDN::Frr::append_local_config), and gives every generated
// route-map entry its final sequence number. It must run after the
// controllers and before the fabrics are added (Proxmox builds the fabric
// part afterwards, so fabric route-maps keep their own numbers).
//
// The rules, in short: a block whose header names a block that was
// generated (router bgp with the same ASN and VRF, its address families,
// router isis, an isis interface, a vrf) gets the local lines appended
// inside it; any other router/interface/vrf block is appended verbatim
// after the prefix lists; route-map entries are never merged but appended
// after the generated entries of the same name and renumbered from there;
// access-list and prefix-list lines with a seq and bgp community-lists are
// appended as they are; comment lines (containing '!') are dropped, and
// so are lines outside any block: those are returned as "line N: text" so
// the caller can tell the user.
func (c *Config) MergeLocal(local string) (dropped []string) {
	routeMaps := map[string][]rmItem{}
	for name := range c.RouteMaps {
		routeMaps[name] = append(routeMaps[name], rmItem{generated: true})
	}
	if local != "" {
		dropped = c.mergeLines(local, routeMaps)
	}
	for _, name := range SortedKeys(routeMaps) {
		seq := 1
		for _, it := range routeMaps[name] {
			switch {
			case it.generated:
				entries := c.RouteMaps[name]
				for i := range entries {
					entries[i].Seq = seq
					seq++
				}
			case reRouteMap.MatchString(it.line):
				m := reRouteMap.FindStringSubmatch(it.line)
				c.Custom = append(c.Custom, "route-map "+m[1]+" "+m[2]+" "+strconv.Itoa(seq))
				seq++
			default:
				c.Custom = append(c.Custom, it.line)
			}
		}
	}
	return dropped
}

// localLine is a line of frr.conf.local and its 1-based number.
type localLine struct {
	n    int
	text string
}

// localLines splits frr.conf.local the way Proxmox's /^(.+?)\s*$/gm loop
// sees it: every line with something other than whitespace, with its
// trailing whitespace removed. (Whitespace-only lines either vanish or
// land outside any block, where they are dropped anyway.)
func localLines(text string) []localLine {
	var out []localLine
	for i, l := range strings.Split(text, "\n") {
		l = strings.TrimRight(l, perlWhitespace)
		if l != "" {
			out = append(out, localLine{i + 1, l})
		}
	}
	return out
}

// mergeLines is the line state machine of the merge.
func (c *Config) mergeLines(local string, routeMaps map[string][]rmItem) (dropped []string) {
	var (
		section    *[]string // nil: outside any block, lines are dropped
		rmSection  string    // route-map whose lines are being collected
		inRouteMap bool
		bgpASN     string
		bgpVRF     string
		inBGP      bool
		newBlock   bool
		newAFBlock bool
	)
	top := &c.Custom
	lineNo := 0
	push := func(line string) {
		if inRouteMap {
			routeMaps[rmSection] = append(routeMaps[rmSection], rmItem{line: line})
			return
		}
		if section != nil {
			*section = append(*section, line)
		} else {
			dropped = append(dropped, fmt.Sprintf("line %d: %s", lineNo, line))
		}
	}
	setSection := func(s *[]string) { section, inRouteMap = s, false }
	bgpRouter := func() *BGPRouter {
		if !inBGP {
			return nil
		}
		r := c.BGP.Routers[bgpVRF]
		if r == nil || strconv.FormatUint(uint64(r.ASN), 10) != bgpASN {
			return nil
		}
		return r
	}

	for _, ll := range localLines(local) {
		line := ll.text
		lineNo = ll.n
		if m := reRouterISIS.FindStringSubmatch(line); m != nil {
			if r := c.ISIS.Routers[m[1]]; r != nil {
				setSection(&r.Custom)
			} else {
				newBlock = true
				*top = append(*top, "router isis "+m[1])
				setSection(top)
			}
			continue
		}
		if m := reRouterBGP.FindStringSubmatch(line); m != nil {
			bgpASN, bgpVRF, inBGP = m[1], DefaultVRF, true
			hasVRF := m[2] != ""
			if hasVRF {
				bgpVRF = m[2]
			}
			if r := bgpRouter(); r != nil {
				setSection(&r.Custom)
			} else {
				newBlock = true
				hdr := "router bgp " + bgpASN
				if hasVRF {
					hdr += " vrf " + bgpVRF
				}
				*top = append(*top, hdr)
				setSection(top)
			}
			continue
		}
		if m := reRouter.FindStringSubmatch(line); m != nil {
			newBlock = true
			*top = append(*top, "router "+m[1])
			setSection(top)
			continue
		}
		if m := reVRF.FindStringSubmatch(line); m != nil {
			if v := c.BGP.VRFs[m[1]]; v != nil {
				setSection(&v.Custom)
			} else {
				newBlock = true
				*top = append(*top, "vrf "+m[1])
				setSection(top)
			}
			continue
		}
		if m := reInterface.FindStringSubmatch(line); m != nil {
			if i := c.ISIS.Interfaces[m[1]]; i != nil {
				setSection(&i.Custom)
			} else {
				newBlock = true
				*top = append(*top, "interface "+m[1])
				setSection(top)
			}
			continue
		}
		if reCommunity.MatchString(line) {
			*top = append(*top, line)
			continue
		}
		if m := reAF.FindStringSubmatch(line); m != nil {
			afLine := " address-family " + m[1]
			if r := bgpRouter(); r != nil {
				if custom := r.afCustom(strings.ReplaceAll(m[1], " ", "_")); custom != nil {
					setSection(custom)
				} else {
					newAFBlock = true
					r.Custom = append(r.Custom, afLine)
					setSection(&r.Custom)
				}
			} else {
				newAFBlock = true
				*top = append(*top, afLine)
				setSection(top)
			}
			continue
		}
		if m := reRouteMap.FindStringSubmatch(line); m != nil {
			// Never merged: collected and renumbered after the generated ones.
			newBlock = true
			routeMaps[m[1]] = append(routeMaps[m[1]], rmItem{line: "route-map " + m[1] + " " + m[2] + " " + m[3]})
			section, rmSection, inRouteMap = nil, m[1], true
			continue
		}
		if reAccessList.MatchString(line) || rePrefixList.MatchString(line) || rePrefixList6.MatchString(line) {
			*top = append(*top, line)
			continue
		}
		if reExitAF.MatchString(line) {
			if newAFBlock {
				push(line)
				setSection(top)
			} else if r := c.BGP.Routers[bgpVRF]; inBGP && r != nil {
				// Proxmox goes back to the router block by VRF alone.
				setSection(&r.Custom)
			} else {
				// Proxmox would create an invalid router here and fail;
				// the lab drops the following lines instead.
				setSection(nil)
			}
			newAFBlock = false
			continue
		}
		if reExit.MatchString(line) {
			if newBlock {
				push(line)
				push("!")
			}
			setSection(nil)
			inBGP, bgpASN, bgpVRF = false, "", ""
			newBlock = false
			continue
		}
		if strings.Contains(line, "!") {
			continue
		}
		push(line)
	}
	return dropped
}

// afCustom returns the Custom list of the router's address family called
// key ("ipv4_unicast", "ipv6_unicast", "l2vpn_evpn"), or nil when the
// router has no such family.
func (r *BGPRouter) afCustom(key string) *[]string {
	switch key {
	case "ipv4_unicast":
		if r.IPv4Unicast != nil {
			return &r.IPv4Unicast.Custom
		}
	case "ipv6_unicast":
		if r.IPv6Unicast != nil {
			return &r.IPv6Unicast.Custom
		}
	case "l2vpn_evpn":
		if r.L2VPNEVPN != nil {
			return &r.L2VPNEVPN.Custom
		}
	}
	return nil
}
