package ship

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

// facilityLogAudit is the RFC 5424 "log audit" facility.
const facilityLogAudit = 13

// severities maps audit levels to RFC 5424 severities.
var severities = map[string]int{"error": 3, "warn": 4, "info": 6, "debug": 7}

// SyslogSink sends RFC 5424 messages with octet-counting framing (RFC 6587)
// over one long-lived TCP or TLS connection. Each message's MSGID is the
// audit operation and its MSG the audit line unchanged.
//
// # Notes
//
// Syslog over TCP has no application acknowledgement: a write succeeds once
// the kernel buffered it. After each batch the sink waits ProbeFor for the
// receiver to close the connection; a close or reset fails the batch, which
// is then sent again. A receiver that dies later than ProbeFor after
// reading nothing can still lose a batch. Limitation: RELP would give true
// acknowledgements; it is not implemented.
type SyslogSink struct {
	Address  string
	AppName  string
	Hostname string
	TLS      *tls.Config
	// ProbeFor is how long to watch for a closed connection after a batch;
	// defaults to 50ms.
	ProbeFor time.Duration
	// WriteTimeout bounds the writing of one batch; defaults to 30s. A
	// receiver that stops reading then fails the batch, to be sent again,
	// instead of holding the shipper in a write that may never return.
	WriteTimeout time.Duration

	conn net.Conn
}

// Send writes the batch and checks the connection survived it.
func (s *SyslogSink) Send(ctx context.Context, batch []Record) error {
	if s.conn == nil {
		if err := s.dial(ctx); err != nil {
			return err
		}
	}
	conn := s.conn
	timeout := s.WriteTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	if err := conn.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
		return s.fail(fmt.Errorf("writing to syslog %s: %w", s.Address, err))
	}
	// Stopping the shipper interrupts a write blocked on a full socket, so
	// reconfiguration and shutdown, which wait for the shipper, never wait
	// on the receiver.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	w := bufio.NewWriterSize(conn, 64<<10)
	for _, r := range batch {
		if _, err := w.Write(s.frame(r)); err != nil {
			return s.fail(fmt.Errorf("writing to syslog %s: %w", s.Address, err))
		}
	}
	if err := w.Flush(); err != nil {
		return s.fail(fmt.Errorf("writing to syslog %s: %w", s.Address, err))
	}
	return s.probe()
}

func (s *SyslogSink) dial(ctx context.Context) error {
	d := &net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}
	var conn net.Conn
	var err error
	if s.TLS != nil {
		conn, err = (&tls.Dialer{NetDialer: d, Config: s.TLS}).DialContext(ctx, "tcp", s.Address)
	} else {
		conn, err = d.DialContext(ctx, "tcp", s.Address)
	}
	if err != nil {
		return fmt.Errorf("connecting to syslog %s: %w", s.Address, err)
	}
	s.conn = conn
	return nil
}

// probe reads with a short deadline: a timeout means the receiver is still
// there; anything else means it went away and the batch may be lost.
func (s *SyslogSink) probe() error {
	probe := s.ProbeFor
	if probe == 0 {
		probe = 50 * time.Millisecond
	}
	if err := s.conn.SetReadDeadline(time.Now().Add(probe)); err != nil {
		return s.fail(fmt.Errorf("probing syslog %s: %w", s.Address, err))
	}
	var b [1]byte
	_, err := s.conn.Read(b[:])
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil
	}
	if err == nil {
		err = errors.New("unexpected data from the receiver")
	}
	return s.fail(fmt.Errorf("syslog %s closed the connection: %w", s.Address, err))
}

func (s *SyslogSink) fail(err error) error {
	_ = s.conn.Close() // the send already failed; its error is the one to report
	s.conn = nil
	return err
}

// frame builds "LEN SP <PRI>1 TIMESTAMP HOST APP - MSGID - MSG".
func (s *SyslogSink) frame(r Record) []byte {
	var head struct {
		Level     string `json:"level"`
		Operation string `json:"operation"`
	}
	// An unreadable line is still shipped, at notice severity.
	_ = json.Unmarshal(r.Line, &head)
	sev, ok := severities[head.Level]
	if !ok {
		sev = 5
	}
	msg := fmt.Appendf(nil, "<%d>1 %s %s %s - %s - ", facilityLogAudit*8+sev,
		r.Appended.UTC().Format("2006-01-02T15:04:05.000000Z07:00"),
		nilValue(s.Hostname), nilValue(s.AppName), nilValue(printable(head.Operation)))
	msg = append(msg, r.Line...)
	return append(strconv.AppendInt(nil, int64(len(msg)), 10), append([]byte{' '}, msg...)...)
}

// nilValue writes RFC 5424's NILVALUE for an empty header field.
func nilValue(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// printable keeps a header field to the printable ASCII RFC 5424 allows,
// at most 32 characters as MSGID requires.
func printable(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s) && len(b) < 32; i++ {
		if s[i] > 32 && s[i] < 127 {
			b = append(b, s[i])
		}
	}
	return string(b)
}

// Close closes the connection.
func (s *SyslogSink) Close() error {
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn = nil
	return err
}
