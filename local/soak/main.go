// Command soak runs a bounded mixed load (tokens, management writes and
// reads, permission decisions) against the local stack (bin/gateway, which
// starts DynamoDB Local and local-kms) for -duration, while pausing and
// resuming DynamoDB Local and local-kms in turn with SIGSTOP and SIGCONT.
// It reports the requests served, the 5xx answers outside the fault
// windows (goal 0), the acknowledged writes it cannot read back at the end
// (goal 0), the recovery time after each fault and the gateway's memory
// growth. Every request goes to 127.0.0.1 and the run stops by itself.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

func main() {
	duration := flag.Duration("duration", 5*time.Minute, "how long the load runs")
	every := flag.Duration("fault-every", time.Minute, "time between the starts of two faults")
	pause := flag.Duration("fault", 10*time.Second, "how long each dependency stays paused")
	workers := flag.Int("workers", 4, "concurrent clients")
	gatewayBin := flag.String("gateway", "bin/gateway", "the local stack's gateway binary")
	flag.Parse()
	if err := run(*duration, *every, *pause, *workers, *gatewayBin); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

// sample is one request's outcome.
type sample struct {
	kind       string
	start, end time.Time
	status     int // 0: no answer (transport error)
}

// fault is one pause of a dependency.
type fault struct {
	dependency      string
	paused, resumed time.Time
	recovered       time.Time // first success of a request started after the resume
}

type soak struct {
	base   string
	http   *http.Client
	mu     sync.Mutex
	log    []sample
	admin  struct{ ClientID, ClientSecret string }
	token  string
	tokMu  sync.RWMutex
	writes []string // client ids whose creation was acknowledged
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func run(duration, every, pause time.Duration, workers int, gatewayBin string) error {
	gw, s, stop, err := startGateway(gatewayBin)
	if err != nil {
		return err
	}
	defer stop()
	deps, err := children(gw.Process.Pid)
	if err != nil {
		return err
	}
	// Whatever happens, nothing stays paused.
	defer func() {
		for _, pid := range deps {
			_ = syscall.Kill(-pid, syscall.SIGCONT)
		}
	}()
	if err := s.refreshToken(); err != nil {
		return err
	}
	warm := time.Now().Add(5 * time.Second)
	for time.Now().Before(warm) {
		s.one(0)
	}
	s.mu.Lock()
	s.log, s.writes = nil, nil
	s.mu.Unlock()
	rssStart := rss(gw.Process.Pid)

	ctx, cancel := context.WithTimeout(context.Background(), duration)
	defer cancel()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ctx.Err() == nil; i++ {
				s.one(w*1_000_000 + i)
			}
		}()
	}
	go func() {
		for ctx.Err() == nil {
			select {
			case <-ctx.Done():
			case <-time.After(30 * time.Minute):
				_ = s.refreshToken()
			}
		}
	}()
	faults := injectFaults(ctx, deps, duration, every, pause)
	<-ctx.Done()
	wg.Wait()
	rssEnd := rss(gw.Process.Pid)
	lost, checked, err := s.readBack()
	if err != nil {
		return err
	}
	s.report(duration, pause, workers, faults, rssStart, rssEnd, peakRSS(gw.Process.Pid), lost, checked)
	return nil
}

// startGateway starts the local stack on free ports and waits for the
// default tenant's admin, which it prints as one JSON line once it serves.
// stop interrupts it (and kills it after 15 s).
func startGateway(gatewayBin string) (*exec.Cmd, *soak, func(), error) {
	var ports [3]int
	for i := range ports {
		p, err := freePort()
		if err != nil {
			return nil, nil, nil, err
		}
		ports[i] = p
	}
	logFile, err := os.CreateTemp("", "soak-gateway-*.log")
	if err != nil {
		return nil, nil, nil, err
	}
	gw := exec.Command(gatewayBin)
	gw.Env = append(os.Environ(), "PORT="+strconv.Itoa(ports[0]), "DYNAMODB_PORT="+strconv.Itoa(ports[1]), "KMS_PORT="+strconv.Itoa(ports[2]))
	gw.Stderr = logFile
	stdout, err := gw.StdoutPipe()
	if err == nil {
		err = gw.Start()
	}
	if err != nil {
		logFile.Close()
		return nil, nil, nil, fmt.Errorf("start %s (make soak builds it): %w", gatewayBin, err)
	}
	stop := func() {
		_ = gw.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = gw.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = gw.Process.Kill()
		}
		logFile.Close()
	}
	s := &soak{base: "http://127.0.0.1:" + strconv.Itoa(ports[0]), http: &http.Client{Timeout: 30 * time.Second}}
	lines := bufio.NewScanner(stdout)
	for lines.Scan() {
		if strings.HasPrefix(lines.Text(), "{") && json.Unmarshal(lines.Bytes(), &s.admin) == nil && s.admin.ClientID != "" {
			break
		}
	}
	if s.admin.ClientID == "" {
		stop()
		return nil, nil, nil, fmt.Errorf("the gateway did not start; its log is %s", logFile.Name())
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	return gw, s, stop, nil
}

// injectFaults pauses DynamoDB Local and local-kms in turn, for pause, once
// every every, until duration has passed since it began.
func injectFaults(ctx context.Context, deps map[string]int, duration, every, pause time.Duration) []*fault {
	var faults []*fault
	order := []string{"dynamodb", "kms"}
	begin := time.Now()
	for i := 0; ; i++ {
		at := time.Duration(i)*every + every/2
		if at+pause >= duration {
			return faults
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Until(begin.Add(at))):
		}
		if ctx.Err() != nil {
			return faults
		}
		dep := order[i%len(order)]
		f := &fault{dependency: dep, paused: time.Now()}
		_ = syscall.Kill(-deps[dep], syscall.SIGSTOP)
		time.Sleep(pause)
		_ = syscall.Kill(-deps[dep], syscall.SIGCONT)
		f.resumed = time.Now()
		faults = append(faults, f)
	}
}

// children finds DynamoDB Local (java) and local-kms among pid's children.
func children(pid int) (map[string]int, error) {
	found := map[string]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// Fields after the command, which is in parentheses: state, ppid.
		rest := string(stat[bytes.LastIndexByte(stat, ')')+2:])
		fields := strings.Fields(rest)
		if len(fields) < 2 || fields[1] != strconv.Itoa(pid) {
			continue
		}
		comm, _ := os.ReadFile(filepath.Join("/proc", e.Name(), "comm"))
		switch name := strings.TrimSpace(string(comm)); {
		case name == "java":
			found["dynamodb"] = child
		case strings.HasPrefix(name, "local-kms"):
			found["kms"] = child
		}
	}
	if found["dynamodb"] == 0 || found["kms"] == 0 {
		return nil, fmt.Errorf("DynamoDB Local or local-kms not found among the gateway's processes: %v", found)
	}
	return found, nil
}

func procStatus(pid int, field string) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, field+":"); ok {
			n, _ := strconv.Atoi(strings.TrimSuffix(strings.TrimSpace(v), " kB"))
			return n
		}
	}
	return 0
}

func rss(pid int) int     { return procStatus(pid, "VmRSS") }
func peakRSS(pid int) int { return procStatus(pid, "VmHWM") }

func (s *soak) bearer() string {
	s.tokMu.RLock()
	defer s.tokMu.RUnlock()
	return s.token
}

func (s *soak) refreshToken() error {
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {s.admin.ClientID}, "client_secret": {s.admin.ClientSecret}}
	resp, err := s.http.PostForm(s.base+"/connect/token", form)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.AccessToken == "" {
		return fmt.Errorf("admin token: status %d: %v", resp.StatusCode, err)
	}
	s.tokMu.Lock()
	s.token = body.AccessToken
	s.tokMu.Unlock()
	return nil
}

// do sends one request and records its outcome under kind.
func (s *soak) do(kind, method, path string, body any, form url.Values) (int, []byte) {
	var rd io.Reader
	contentType := ""
	switch {
	case form != nil:
		rd, contentType = strings.NewReader(form.Encode()), "application/x-www-form-urlencoded"
	case body != nil:
		b, _ := json.Marshal(body)
		rd, contentType = bytes.NewReader(b), "application/json"
	}
	req, _ := http.NewRequest(method, s.base+path, rd)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if form == nil {
		req.Header.Set("Authorization", "Bearer "+s.bearer())
	}
	start := time.Now()
	resp, err := s.http.Do(req)
	status := 0
	var out []byte
	if err == nil {
		out, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		status = resp.StatusCode
	}
	s.mu.Lock()
	s.log = append(s.log, sample{kind: kind, start: start, end: time.Now(), status: status})
	s.mu.Unlock()
	return status, out
}

// one sends request number i of the mix: half token requests, a fifth
// decisions, a fifth reads, a tenth client creations.
func (s *soak) one(i int) {
	switch i % 10 {
	case 0, 1, 2, 3, 4:
		s.do("token", http.MethodPost, "/connect/token", nil,
			url.Values{"grant_type": {"client_credentials"}, "client_id": {s.admin.ClientID}, "client_secret": {s.admin.ClientSecret}})
	case 5, 6:
		s.do("decision", http.MethodPost, "/v1/permissions/check", map[string]string{"subject": "client-" + s.admin.ClientID, "action": "iam.client.read", "scope": "/"}, nil)
	case 7, 8:
		s.do("read", http.MethodGet, "/v1/clients?limit=5", nil, nil)
	case 9:
		status, out := s.do("write", http.MethodPost, "/v1/clients", map[string]any{"name": "soak-" + strconv.Itoa(i), "description": "soak",
			"allowedGrantTypes": []string{"client_credentials"}, "allowedScopes": []string{"api"}, "redirectUris": []string{}}, nil)
		var created struct {
			ClientID string `json:"clientId"`
		}
		if status == http.StatusCreated && json.Unmarshal(out, &created) == nil && created.ClientID != "" {
			s.mu.Lock()
			s.writes = append(s.writes, created.ClientID)
			s.mu.Unlock()
		}
	}
}

// readBack reads every acknowledged creation; one that is not there was lost.
func (s *soak) readBack() (lost, checked int, err error) {
	if err := s.refreshToken(); err != nil {
		return 0, 0, err
	}
	for _, id := range s.writes {
		var status int
		for attempt := 0; attempt < 5; attempt++ {
			req, _ := http.NewRequest(http.MethodGet, s.base+"/v1/clients/"+id, nil)
			req.Header.Set("Authorization", "Bearer "+s.bearer())
			resp, err := s.http.Do(req)
			if err != nil {
				return 0, 0, err
			}
			resp.Body.Close()
			if status = resp.StatusCode; status < 500 {
				break
			}
			time.Sleep(time.Second)
		}
		checked++
		switch status {
		case http.StatusOK:
		case http.StatusNotFound:
			lost++
		default:
			return lost, checked, errors.New("reading back " + id + ": status " + strconv.Itoa(status))
		}
	}
	return lost, checked, nil
}

// needs reports whether a request of kind depends on dependency: every
// request reads DynamoDB; only token requests sign with KMS (management
// requests verify with a cached public key).
func needs(kind, dependency string) bool { return dependency == "dynamodb" || kind == "token" }

func (s *soak) report(duration, pause time.Duration, workers int, faults []*fault, rssStart, rssEnd, rssPeak, lost, checked int) {
	sort.Slice(s.log, func(i, j int) bool { return s.log[i].start.Before(s.log[j].start) })
	// Recovery: from the resume to the end of the first successful request
	// that needs the dependency and started after the resume.
	for _, f := range faults {
		for _, r := range s.log {
			if r.start.After(f.resumed) && needs(r.kind, f.dependency) && r.status > 0 && r.status < 500 {
				f.recovered = r.end
				break
			}
		}
	}
	inWindow := func(r sample) bool {
		for _, f := range faults {
			end := f.recovered
			if end.IsZero() {
				end = f.resumed.Add(time.Minute)
			}
			if r.end.After(f.paused) && r.start.Before(end) {
				return true
			}
		}
		return false
	}
	served, outside, inside, noAnswer := 0, 0, 0, 0
	byKind := map[string]int{}
	for _, r := range s.log {
		switch {
		case r.status == 0:
			noAnswer++
		case r.status < 500:
			served++
			byKind[r.kind]++
		case inWindow(r):
			inside++
		default:
			outside++
		}
	}
	fmt.Printf("soak: %s, %d workers, a %s pause every fault (DynamoDB Local and local-kms in turn)\n\n", duration, workers, pause)
	fmt.Println("| Figure | Value |")
	fmt.Println("|---|---|")
	fmt.Printf("| Requests answered below 500 | %d (token %d, decision %d, read %d, write %d); %.0f/s |\n", served,
		byKind["token"], byKind["decision"], byKind["read"], byKind["write"], float64(served)/duration.Seconds())
	fmt.Printf("| 5xx inside fault windows (expected: 503 with Retry-After) | %d |\n", inside)
	fmt.Printf("| 5xx outside fault windows (goal 0) | %d |\n", outside)
	fmt.Printf("| Requests without an answer (goal 0) | %d |\n", noAnswer)
	fmt.Printf("| Acknowledged client creations lost (goal 0) | %d of %d read back |\n", lost, checked)
	for i, f := range faults {
		rec := "not recovered"
		if !f.recovered.IsZero() {
			rec = f.recovered.Sub(f.resumed).Round(time.Millisecond).String()
		}
		fmt.Printf("| Fault %d: %s paused at +%s, recovery after resume | %s |\n", i+1, f.dependency,
			f.paused.Sub(s.log[0].start).Round(time.Second), rec)
	}
	fmt.Printf("| Gateway memory (RSS): after warm-up, at the end, peak | %.1f MB, %.1f MB (%+.1f MB), %.1f MB |\n",
		float64(rssStart)/1024, float64(rssEnd)/1024, float64(rssEnd-rssStart)/1024, float64(rssPeak)/1024)
}
