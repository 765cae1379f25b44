package ship

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
)

// rsyslog runs a real rsyslogd listening with imtcp on an unprivileged
// port and writing each message's MSG part to a file.
type rsyslog struct {
	t        *testing.T
	bin, dir string
	port     int
	cmd      *exec.Cmd
}

func findRsyslogd(t *testing.T) string {
	t.Helper()
	for _, p := range []string{"rsyslogd", "/usr/sbin/rsyslogd", "/sbin/rsyslogd"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("rsyslogd not found; run hack/install-test-deps.sh")
	}
	t.Skip("rsyslogd not found; run hack/install-test-deps.sh to run this test")
	return ""
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (r *rsyslog) output() string { return filepath.Join(r.dir, "received.log") }

func (r *rsyslog) start() {
	r.t.Helper()
	conf := fmt.Sprintf(`global(workDirectory=%q maxMessageSize="64k")
module(load="imtcp")
template(name="msgOnly" type="string" string="%%msg%%\n")
ruleset(name="audit") {
  action(type="omfile" file=%q template="msgOnly")
}
input(type="imtcp" address="127.0.0.1" port="%d" ruleset="audit")
`, r.dir, r.output(), r.port)
	confPath := filepath.Join(r.dir, "rsyslog.conf")
	if err := os.WriteFile(confPath, []byte(conf), 0o600); err != nil {
		r.t.Fatal(err)
	}
	r.cmd = exec.Command(r.bin, "-n", "-f", confPath, "-i", filepath.Join(r.dir, "rsyslogd.pid"))
	var stderr bytes.Buffer
	r.cmd.Stdout, r.cmd.Stderr = &stderr, &stderr
	if err := r.cmd.Start(); err != nil {
		r.t.Fatalf("starting rsyslogd: %v", err)
	}
	awaitCondition(r.t, 10*time.Second, func() bool {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", r.port))
		if err == nil {
			c.Close()
		}
		return err == nil
	})
}

func (r *rsyslog) stop() {
	r.t.Helper()
	if r.cmd == nil {
		return
	}
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		r.t.Fatalf("stopping rsyslogd: %v", err)
	}
	_ = r.cmd.Wait() // a signalled exit is the expected outcome
	r.cmd = nil
}

func (r *rsyslog) received() map[string]int {
	data, err := os.ReadFile(r.output())
	if err != nil {
		return nil
	}
	got := map[string]int{}
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			got[line]++
		}
	}
	return got
}

func TestSyslogToRsyslogThroughRestart(t *testing.T) {
	rs := &rsyslog{t: t, bin: findRsyslogd(t), dir: t.TempDir(), port: freePort(t)}
	rs.start()
	t.Cleanup(rs.stop)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	m, err := NewManager(ctx, Options{Registerer: prometheus.NewRegistry(), BatchSize: 20,
		Backoff: Backoff{Initial: 5 * time.Millisecond, Max: 50 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	err = m.Configure(runtimeconfig.Audit{
		Sinks: []runtimeconfig.Sink{{Name: "rsyslog", Type: runtimeconfig.SinkSyslog,
			Syslog: &runtimeconfig.SyslogSink{Address: fmt.Sprintf("127.0.0.1:%d", rs.port)}}},
		Spool: runtimeconfig.Spool{Dir: t.TempDir(), MaxBytes: 8 << 20},
	})
	if err != nil {
		t.Fatal(err)
	}

	var want []string
	send := func(from, to int) {
		for i := from; i < to; i++ {
			line := fmt.Sprintf(`{"timestamp":"2026-03-01T12:00:00.%06dZ","level":"warn",`+
				`"operation":"authentication","client_id":"agent-%d","result":"failure",`+
				`"metadata":{"reason":"unknown token","n":%d,"note":"quotes \" and \\ and ünïcode"}}`, i, i%7, i)
			want = append(want, line)
			if err := m.Forward([]byte(line)); err != nil {
				t.Fatal(err)
			}
		}
	}
	allDelivered := func(n int) func() bool {
		return func() bool {
			got := rs.received()
			for _, w := range want[:n] {
				if got[w] == 0 {
					return false
				}
			}
			return true
		}
	}

	send(0, 200)
	awaitCondition(t, 20*time.Second, allDelivered(100))
	rs.stop() // the sink goes down mid-stream
	send(200, 400)
	rs.start()
	send(400, 500)
	awaitCondition(t, 30*time.Second, allDelivered(500))
}
