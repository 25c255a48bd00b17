package config

func (c *Config) decodeController(sec *Section, errs *ErrorList) {
	allowed, ok := typeKeys(sec, "controller", keyTable(c.types.Controllers), c.types.controllerNames(), errs)
	if !ok {
		return
	}
	t, _ := c.types.controller(sec.Type)
	if !ctrlIDRE.MatchString(sec.ID) || len(sec.ID) > 64 {
		errs.add(sec.Pos, "controller", "invalid controller id %q: 2-64 characters, letters, digits, '-' and '_', starting with a letter", sec.ID)
	}
	d := newDecoder(sec, "controller", allowed, errs)
	d.cfg = c
	ct := &Controller{ID: sec.ID, Type: sec.Type, Pos: sec.Pos, Props: d.props}
	t.Decode(d, ct)
	if _, dup := c.Controllers[ct.ID]; !dup {
		c.Controllers[ct.ID] = ct
	}
}
