// Package headless drives a headless Chromium over the DevTools protocol on
// a pipe (--remote-debugging-pipe: commands on the child's fd 3, replies
// and events on its fd 4, each message JSON ended by a NUL byte). It opens
// a page, collects its console errors and exceptions, evaluates
// expressions and takes screenshots. Tests use it to look at report.html
// as a browser draws it. No network port is opened.
package headless

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"time"
)

// Find returns the path of a Chromium binary, or "".
func Find() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// Browser is a running headless Chromium.
type Browser struct {
	cmd     *exec.Cmd
	profile string
	w       io.WriteCloser
	mu      sync.Mutex
	nextID  int
	pending map[int]chan reply
	events  chan event
	done    chan struct{}
	readErr error
}

type reply struct {
	Result json.RawMessage `json:"result"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

type event struct {
	Method    string          `json:"method"`
	Params    json.RawMessage `json:"params"`
	SessionID string          `json:"sessionId"`
}

// Start starts Chromium with a fresh profile directory (removed by Close)
// and everything that phones home switched off.
func Start(ctx context.Context, bin string) (*Browser, error) {
	profile, err := os.MkdirTemp("", "sdnlab-chromium-")
	if err != nil {
		return nil, err
	}
	// Chromium reads commands from fd 3 and writes to fd 4.
	cmdR, cmdW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, bin,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
		"--user-data-dir="+profile, "--remote-debugging-pipe", "about:blank")
	cmd.ExtraFiles = []*os.File{cmdR, outW}
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		os.RemoveAll(profile)
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	cmdR.Close()
	outW.Close()
	b := &Browser{cmd: cmd, profile: profile, w: cmdW, pending: map[int]chan reply{}, events: make(chan event, 1024), done: make(chan struct{})}
	go b.read(outR)
	return b, nil
}

func (b *Browser) read(r io.ReadCloser) {
	defer close(b.done)
	defer r.Close()
	br := bufio.NewReaderSize(r, 1<<20)
	for {
		msg, err := br.ReadBytes(0)
		if err != nil {
			b.mu.Lock()
			b.readErr = err
			for id, ch := range b.pending {
				close(ch)
				delete(b.pending, id)
			}
			b.mu.Unlock()
			return
		}
		msg = msg[:len(msg)-1]
		var head struct {
			ID *int `json:"id"`
		}
		if json.Unmarshal(msg, &head) != nil {
			continue
		}
		if head.ID != nil {
			var rp reply
			_ = json.Unmarshal(msg, &rp)
			b.mu.Lock()
			ch := b.pending[*head.ID]
			delete(b.pending, *head.ID)
			b.mu.Unlock()
			if ch != nil {
				ch <- rp
			}
			continue
		}
		var ev event
		if json.Unmarshal(msg, &ev) == nil {
			select {
			case b.events <- ev:
			default: // a page flooding events must not block replies
			}
		}
	}
}

// call sends one command (on a session when sessionID is set) and waits
// for its reply.
func (b *Browser) call(ctx context.Context, sessionID, method string, params any, out any) error {
	b.mu.Lock()
	if b.readErr != nil {
		b.mu.Unlock()
		return fmt.Errorf("%s: browser gone: %w", method, b.readErr)
	}
	b.nextID++
	id := b.nextID
	ch := make(chan reply, 1)
	b.pending[id] = ch
	b.mu.Unlock()
	msg := map[string]any{"id": id, "method": method}
	if params != nil {
		msg["params"] = params
	}
	if sessionID != "" {
		msg["sessionId"] = sessionID
	}
	data, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	if _, err := b.w.Write(append(data, 0)); err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case rp, ok := <-ch:
		if !ok {
			return fmt.Errorf("%s: browser closed the pipe", method)
		}
		if rp.Error != nil {
			return fmt.Errorf("%s: %s (%d)", method, rp.Error.Message, rp.Error.Code)
		}
		if out != nil {
			return json.Unmarshal(rp.Result, out)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// Close ends the browser and removes its profile.
func (b *Browser) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	_ = b.call(ctx, "", "Browser.close", nil, nil)
	cancel()
	b.w.Close()
	select {
	case <-b.done:
	case <-time.After(5 * time.Second):
	}
	if b.cmd.Process != nil {
		_ = b.cmd.Process.Kill()
	}
	_ = b.cmd.Wait()
	os.RemoveAll(b.profile)
}

// Page is one open tab.
type Page struct {
	b       *Browser
	session string
	// Problems are the console errors, uncaught exceptions and failed
	// loads the page reported, in order.
	Problems []string
}

// Open opens url in a new tab of the given viewport width and waits until
// it has loaded.
func (b *Browser) Open(ctx context.Context, url string, width, height int) (*Page, error) {
	var target struct {
		TargetID string `json:"targetId"`
	}
	if err := b.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &target); err != nil {
		return nil, err
	}
	var att struct {
		SessionID string `json:"sessionId"`
	}
	if err := b.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &att); err != nil {
		return nil, err
	}
	p := &Page{b: b, session: att.SessionID}
	for _, m := range []string{"Runtime.enable", "Log.enable", "Page.enable"} {
		if err := p.call(ctx, m, nil, nil); err != nil {
			return nil, err
		}
	}
	if err := p.call(ctx, "Emulation.setDeviceMetricsOverride", map[string]any{"width": width, "height": height, "deviceScaleFactor": 1, "mobile": false}, nil); err != nil {
		return nil, err
	}
	var nav struct {
		ErrorText string `json:"errorText"`
	}
	if err := p.call(ctx, "Page.navigate", map[string]any{"url": url}, &nav); err != nil {
		return nil, err
	}
	if nav.ErrorText != "" {
		return nil, fmt.Errorf("open %s: %s", url, nav.ErrorText)
	}
	for {
		select {
		case ev := <-b.events:
			if ev.SessionID != p.session {
				continue
			}
			if ev.Method == "Page.loadEventFired" {
				p.drain()
				return p, nil
			}
			p.note(ev)
		case <-b.done:
			return nil, errors.New("browser exited while loading " + url)
		case <-ctx.Done():
			return nil, fmt.Errorf("open %s: %w", url, ctx.Err())
		}
	}
}

func (p *Page) call(ctx context.Context, method string, params, out any) error {
	return p.b.call(ctx, p.session, method, params, out)
}

// drain records the events that arrived so far.
func (p *Page) drain() {
	for {
		select {
		case ev := <-p.b.events:
			if ev.SessionID == p.session {
				p.note(ev)
			}
		default:
			return
		}
	}
}

func (p *Page) note(ev event) {
	switch ev.Method {
	case "Runtime.consoleAPICalled":
		var c struct {
			Type string `json:"type"`
			Args []struct {
				Value       any    `json:"value"`
				Description string `json:"description"`
			} `json:"args"`
		}
		if json.Unmarshal(ev.Params, &c) == nil && (c.Type == "error" || c.Type == "assert") {
			text := ""
			for _, a := range c.Args {
				if a.Value != nil {
					text += fmt.Sprint(a.Value) + " "
				} else {
					text += a.Description + " "
				}
			}
			p.Problems = append(p.Problems, "console."+c.Type+": "+text)
		}
	case "Runtime.exceptionThrown":
		var e struct {
			Details struct {
				Text      string `json:"text"`
				Exception struct {
					Description string `json:"description"`
				} `json:"exception"`
			} `json:"exceptionDetails"`
		}
		_ = json.Unmarshal(ev.Params, &e)
		p.Problems = append(p.Problems, "exception: "+e.Details.Text+" "+e.Details.Exception.Description)
	case "Log.entryAdded":
		var l struct {
			Entry struct {
				Level  string `json:"level"`
				Text   string `json:"text"`
				URL    string `json:"url"`
				Source string `json:"source"`
			} `json:"entry"`
		}
		if json.Unmarshal(ev.Params, &l) == nil && l.Entry.Level == "error" {
			p.Problems = append(p.Problems, fmt.Sprintf("log %s: %s %s", l.Entry.Source, l.Entry.Text, l.Entry.URL))
		}
	}
}

// Eval evaluates a JavaScript expression and unmarshals its JSON value.
func (p *Page) Eval(ctx context.Context, expr string, out any) error {
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		Exception *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := p.call(ctx, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &r); err != nil {
		return err
	}
	if r.Exception != nil {
		return fmt.Errorf("evaluate %q: %s", expr, r.Exception.Text)
	}
	p.drain()
	return json.Unmarshal(r.Result.Value, out)
}

// Rect is a region of the page in CSS pixels.
type Rect struct {
	X      float64 `json:"x"`
	Y      float64 `json:"y"`
	Width  float64 `json:"width"`
	Height float64 `json:"height"`
}

// Screenshot returns a PNG of the region (the whole page when clip is nil).
func (p *Page) Screenshot(ctx context.Context, clip *Rect) ([]byte, error) {
	params := map[string]any{"format": "png", "captureBeyondViewport": true}
	if clip == nil {
		var size struct {
			W float64 `json:"w"`
			H float64 `json:"h"`
		}
		if err := p.Eval(ctx, `({w: document.documentElement.scrollWidth, h: document.documentElement.scrollHeight})`, &size); err != nil {
			return nil, err
		}
		clip = &Rect{Width: size.W, Height: size.H}
	}
	params["clip"] = map[string]any{"x": clip.X, "y": clip.Y, "width": clip.Width, "height": clip.Height, "scale": 1}
	var r struct {
		Data string `json:"data"`
	}
	if err := p.call(ctx, "Page.captureScreenshot", params, &r); err != nil {
		return nil, err
	}
	p.drain()
	return base64.StdEncoding.DecodeString(r.Data)
}
