package guard

import (
	"net/netip"
	"slices"
	"sync/atomic"

	"github.com/memorymcp/memory-mcp-operator/internal/identity"
	"github.com/memorymcp/memory-mcp-operator/internal/runtimeconfig"
	"github.com/memorymcp/memory-mcp-operator/internal/toolclass"
)

// Policy holds the live blocklist and disabled tools.
type Policy struct {
	snap atomic.Pointer[snapshot]
}

type snapshot struct {
	names    map[string]bool
	prefixes []netip.Prefix
	disabled map[string]bool
}

// NewPolicy returns a policy that refuses nothing until Apply.
func NewPolicy() *Policy {
	p := &Policy{}
	p.snap.Store(&snapshot{})
	return p
}

// Apply installs the blocklist and disabled tools of cfg, which Parse
// validated; an unparsable CIDR is skipped.
func (p *Policy) Apply(cfg *runtimeconfig.Config) {
	s := &snapshot{names: map[string]bool{}, disabled: map[string]bool{}}
	for _, n := range cfg.BlockedClients.Names {
		s.names[n] = true
	}
	for _, c := range cfg.BlockedClients.CIDRs {
		if pfx, err := netip.ParsePrefix(c); err == nil {
			s.prefixes = append(s.prefixes, pfx.Masked())
		}
	}
	for _, t := range HiddenTools(cfg) {
		s.disabled[t] = true
	}
	p.snap.Store(s)
}

// CheckSource refuses a blocked source address. The address must be the
// connection's peer: X-Forwarded-For is written by clients and is not
// trusted.
func (p *Policy) CheckSource(addr netip.Addr) error {
	addr = addr.Unmap()
	for _, pfx := range p.snap.Load().prefixes {
		if pfx.Contains(addr) {
			return &BlockedError{Source: addr}
		}
	}
	return nil
}

// CheckClient refuses a blocked client name.
func (p *Policy) CheckClient(c *identity.Client) error {
	if c != nil && p.snap.Load().names[c.ID] {
		return &BlockedError{Client: c.ID}
	}
	return nil
}

// CheckScope refuses a call whose credential lacks the tool's scope.
func CheckScope(c *identity.Client, tool string, class toolclass.Class) error {
	if !c.HasScope(class.Scope()) {
		return &ScopeError{Tool: tool, Scope: class.Scope()}
	}
	return nil
}

// CheckTool refuses a disabled tool.
func (p *Policy) CheckTool(tool string) error {
	if p.snap.Load().disabled[tool] {
		return &DisabledToolError{Tool: tool}
	}
	return nil
}

// Disabled reports whether tool is disabled.
func (p *Policy) Disabled(tool string) bool {
	return p.snap.Load().disabled[tool]
}

// HiddenTools returns the tools cfg hides from tools/list and refuses:
// the disabled tools, and execute_agent_code when the sandbox is off.
// The server may use it to remove tools with mcp.Server.RemoveTools.
func HiddenTools(cfg *runtimeconfig.Config) []string {
	out := slices.Clone(cfg.DisabledTools)
	if !cfg.Sandbox.Enabled && !slices.Contains(out, "execute_agent_code") {
		out = append(out, "execute_agent_code")
	}
	slices.Sort(out)
	return out
}
