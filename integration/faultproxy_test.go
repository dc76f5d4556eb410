package integration

import (
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
)

// faultMode is what a faultProxy does with new connections.
type faultMode int32

const (
	passThrough faultMode = iota // forward to the stand-in
	refuse                       // accept and reset at once, as a stopped process does
	hang                         // accept, read, never answer
	throttle                     // answer every request with a ThrottlingException
)

// faultProxy sits between the SDK and a stand-in so a test can take the
// dependency away, stall it or throttle it, and give it back, while the
// service keeps running.
type faultProxy struct {
	listener net.Listener
	target   string
	mode     atomic.Int32
	requests atomic.Int64 // requests answered in throttle mode

	mu    sync.Mutex
	conns map[net.Conn]bool
}

func newFaultProxy(target string) (*faultProxy, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &faultProxy{listener: l, target: strings.TrimPrefix(target, "http://"), conns: map[net.Conn]bool{}}
	go p.serve()
	return p, nil
}

func (p *faultProxy) URL() string { return "http://" + p.listener.Addr().String() }

// set changes the mode and cuts every open connection, so pooled
// connections feel the change too.
func (p *faultProxy) set(m faultMode) {
	p.mode.Store(int32(m))
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
		delete(p.conns, c)
	}
}

func (p *faultProxy) track(c net.Conn) {
	p.mu.Lock()
	p.conns[c] = true
	p.mu.Unlock()
}

func (p *faultProxy) serve() {
	for {
		c, err := p.listener.Accept()
		if err != nil {
			return
		}
		p.track(c)
		switch faultMode(p.mode.Load()) {
		case refuse:
			if tc, ok := c.(*net.TCPConn); ok {
				_ = tc.SetLinger(0)
			}
			c.Close()
		case hang:
			go func() { _, _ = io.Copy(io.Discard, c) }()
		case throttle:
			go p.throttle(c)
		default:
			go p.forward(c)
		}
	}
}

func (p *faultProxy) forward(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	p.track(up)
	go func() { _, _ = io.Copy(up, c); up.Close() }()
	_, _ = io.Copy(c, up)
	c.Close()
}

// throttle answers like KMS does when a request rate quota is exceeded.
func (p *faultProxy) throttle(c net.Conn) {
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		p.requests.Add(1)
		w.Header().Set("Content-Type", "application/x-amz-json-1.1")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = io.WriteString(w, `{"__type":"ThrottlingException","message":"Rate exceeded"}`)
	})}
	_ = srv.Serve(&oneConn{conn: c})
}

// oneConn is a listener that yields one connection.
type oneConn struct {
	conn net.Conn
	done bool
}

func (l *oneConn) Accept() (net.Conn, error) {
	if l.done {
		return nil, io.EOF
	}
	l.done = true
	return l.conn, nil
}
func (l *oneConn) Close() error   { return nil }
func (l *oneConn) Addr() net.Addr { return l.conn.LocalAddr() }
