package runtimeconfig

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
)

// InvalidError lists every problem of a refused document, so one edit can
// fix them all.
type InvalidError struct {
	Errs []error
}

func (e *InvalidError) Error() string {
	msgs := make([]string, len(e.Errs))
	for i, err := range e.Errs {
		msgs[i] = err.Error()
	}
	return "invalid runtime config: " + strings.Join(msgs, "; ")
}

// Unwrap exposes each problem to errors.Is and errors.As.
func (e *InvalidError) Unwrap() []error { return e.Errs }

var (
	levels       = []string{"debug", "info", "warn", "error"}
	destinations = []string{"stdout", "file", "both"}
)

// Validate checks c and returns an *InvalidError listing every problem.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if c.SchemaVersion != SchemaVersion {
		add("schemaVersion %q is not supported; this server reads %q", c.SchemaVersion, SchemaVersion)
	}
	if c.Generation < 0 {
		add("generation must not be negative")
	}
	errs = append(errs, c.RateLimits.validate()...)
	for _, cidr := range c.BlockedClients.CIDRs {
		if _, err := netip.ParsePrefix(cidr); err != nil {
			add("blockedClients.cidrs: %q is not a CIDR: %v", cidr, err)
		}
	}
	for _, name := range c.DisabledTools {
		if name == "" {
			add("disabledTools: empty tool name")
		}
	}
	errs = append(errs, c.Audit.validate()...)
	errs = append(errs, c.Sandbox.validate()...)
	if o := c.Auth.OIDC; o != nil {
		errs = append(errs, o.validate()...)
	}
	if len(errs) > 0 {
		return &InvalidError{Errs: errs}
	}
	return nil
}

func (r RateLimits) validate() []error {
	var errs []error
	for _, b := range []struct {
		name string
		b    Bucket
	}{{"read", r.Read}, {"write", r.Write}} {
		if r.Enabled && b.b.RequestsPerSecond <= 0 {
			errs = append(errs, fmt.Errorf("rateLimits.%s.requestsPerSecond must be positive", b.name))
		}
		if r.Enabled && b.b.Burst < 1 {
			errs = append(errs, fmt.Errorf("rateLimits.%s.burst must be at least 1", b.name))
		}
	}
	return errs
}

func (a Audit) validate() []error {
	var errs []error
	if !oneOf(a.Level, levels) {
		errs = append(errs, fmt.Errorf("audit.level %q must be one of %v", a.Level, levels))
	}
	if !oneOf(a.Destination, destinations) {
		errs = append(errs, fmt.Errorf("audit.destination %q must be one of %v", a.Destination, destinations))
	}
	if a.Destination != "stdout" && a.File.Path == "" {
		errs = append(errs, errors.New("audit.file.path is required when audit.destination writes a file"))
	}
	if a.File.MaxSizeMiB < 0 || a.File.MaxBackups < 0 {
		errs = append(errs, errors.New("audit.file sizes must not be negative"))
	}
	if len(a.Sinks) > 0 && a.Spool.Dir == "" {
		errs = append(errs, errors.New("audit.spool.dir is required when sinks are configured"))
	}
	seen := map[string]bool{}
	for i, s := range a.Sinks {
		if s.Name == "" || seen[s.Name] {
			errs = append(errs, fmt.Errorf("audit.sinks[%d]: name must be set and unique", i))
		}
		seen[s.Name] = true
		errs = append(errs, s.validate(i)...)
	}
	return errs
}

func (s Sink) validate(i int) []error {
	var errs []error
	switch s.Type {
	case SinkSyslog:
		if s.Syslog == nil || s.Syslog.Address == "" {
			errs = append(errs, fmt.Errorf("audit.sinks[%d]: a syslog sink needs syslog.address", i))
		}
	case SinkHTTP:
		if s.HTTP == nil {
			errs = append(errs, fmt.Errorf("audit.sinks[%d]: an http sink needs http.url", i))
			break
		}
		if u, err := url.Parse(s.HTTP.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") {
			errs = append(errs, fmt.Errorf("audit.sinks[%d]: http.url %q must be an http or https URL", i, s.HTTP.URL))
		}
		if !oneOf(s.HTTP.Format, []string{FormatNDJSON, FormatElasticsearch}) {
			errs = append(errs, fmt.Errorf("audit.sinks[%d]: http.format %q must be ndjson or elasticsearch", i, s.HTTP.Format))
		}
	default:
		errs = append(errs, fmt.Errorf("audit.sinks[%d]: type %q must be syslog or http", i, s.Type))
	}
	return errs
}

func (s Sandbox) validate() []error {
	var errs []error
	if !s.Enabled {
		return nil
	}
	if s.MemoryBytes < 64<<10 || s.MemoryBytes > 4<<30 {
		errs = append(errs, errors.New("sandbox.memoryBytes must be between 64KiB and 4GiB"))
	}
	if s.Timeout.Duration <= 0 {
		errs = append(errs, errors.New("sandbox.timeout must be positive"))
	}
	if s.MaxOutputBytes <= 0 || s.MaxModuleBytes <= 0 {
		errs = append(errs, errors.New("sandbox.maxOutputBytes and sandbox.maxModuleBytes must be positive"))
	}
	if s.MaxConcurrency < 1 {
		errs = append(errs, errors.New("sandbox.maxConcurrency must be at least 1"))
	}
	return errs
}

func (o *OIDC) validate() []error {
	var errs []error
	for field, v := range map[string]string{"issuer": o.Issuer, "jwksURL": o.JWKSURL} {
		if u, err := url.Parse(v); err != nil || u.Scheme == "" || u.Host == "" {
			errs = append(errs, fmt.Errorf("auth.oidc.%s %q must be an absolute URL", field, v))
		}
	}
	if o.Audience == "" {
		errs = append(errs, errors.New("auth.oidc.audience is required"))
	}
	if o.ClientIDClaim == "" {
		errs = append(errs, errors.New("auth.oidc.clientIDClaim is required"))
	}
	return errs
}

func oneOf(v string, allowed []string) bool {
	for _, a := range allowed {
		if v == a {
			return true
		}
	}
	return false
}
