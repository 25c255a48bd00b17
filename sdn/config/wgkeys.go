package config

// decodeWGKeys reads priv/wg-keys.cfg: "node: NAME" sections with
// "private_keys name=IFACE,key=BASE64" lines. Messages never carry a key.
func (c *Config) decodeWGKeys(secs []Section, errs *ErrorList) {
	for i := range secs {
		sec := &secs[i]
		if sec.Type != "node" {
			errs.add(sec.Pos, "type", "unknown section type %q in priv/wg-keys.cfg (want node)", sec.Type)
			continue
		}
		if !fabricNodeIDRE.MatchString(sec.ID) {
			errs.add(sec.Pos, "id", "invalid node name %q", sec.ID)
			continue
		}
		d := newDecoder(sec, "wireguard keys", map[string]keySpec{"private_keys": {repeat: true}}, errs)
		keys := map[string]string{}
		for _, p := range d.all["private_keys"] {
			ps, err := parsePropertyString(p.Value, "", "name", "key")
			switch {
			case err != nil:
				d.errf(p, "not name=IFACE,key=KEY")
				continue
			case !wgIfaceRE.MatchString(ps.get("name")):
				d.errf(p, "name %q is not a wireguard interface name", ps.get("name"))
				continue
			case !wgKeyRE.MatchString(ps.get("key")):
				d.errf(p, "the key of interface %s is not a WireGuard key (44 characters of base64)", ps.get("name"))
				continue
			}
			if _, dup := keys[ps.get("name")]; dup {
				d.errf(p, "interface %s has two keys", ps.get("name"))
				continue
			}
			keys[ps.get("name")] = ps.get("key")
		}
		c.WGKeys[sec.ID] = keys
	}
}
