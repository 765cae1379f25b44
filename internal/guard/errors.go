// Package guard holds the refusal policies of the memory server as pure
// checks: input limits, blocked sources and clients, scopes and disabled
// tools. Each refusal is a typed error saying what was refused and what the
// caller can do; the middleware in package security audits and answers them.
package guard

import (
	"fmt"
	"net/netip"
	"unicode/utf8"
)

// maxNameBytes bounds a name taken from a request (a tool name, an object
// key) where a refusal repeats it. The input limits allow strings of a
// megabyte and more; repeated whole, one small refused request would write
// that much to the audit log and its sinks, before authentication for some.
const maxNameBytes = 128

// Clip shortens a name taken from a request to its first maxNameBytes at
// most, cut on a character boundary and marked with an ellipsis.
func Clip(s string) string {
	if len(s) <= maxNameBytes {
		return s
	}
	cut := maxNameBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// InputError refuses a request that breaks an input limit.
type InputError struct {
	// Limit names the limit: body_bytes, depth, string_bytes, list_length,
	// object_keys or syntax.
	Limit string
	// Max is the limit's value; Path locates the offending value.
	Max  int64
	Path string
}

func (e *InputError) Error() string {
	if e.Limit == "syntax" {
		return fmt.Sprintf("request is not valid JSON near %s", e.Path)
	}
	return fmt.Sprintf("request exceeds the %s limit of %d at %s; send less data per call", e.Limit, e.Max, e.Path)
}

// BlockedError refuses a blocked client name or source address.
type BlockedError struct {
	Client string
	Source netip.Addr
}

func (e *BlockedError) Error() string {
	if e.Client != "" {
		return fmt.Sprintf("client %q is blocked on this server; contact its operators", e.Client)
	}
	return fmt.Sprintf("source address %s is blocked on this server; contact its operators", e.Source)
}

// ScopeError refuses a tool call the credential has no scope for.
type ScopeError struct {
	Tool, Scope string
}

func (e *ScopeError) Error() string {
	return fmt.Sprintf("tool %q needs scope %q, which this credential does not hold", Clip(e.Tool), e.Scope)
}

// DisabledToolError refuses a call to a tool switched off by the runtime
// config, as incident mode does for execute_agent_code.
type DisabledToolError struct {
	Tool string
}

func (e *DisabledToolError) Error() string {
	return fmt.Sprintf("tool %q is disabled on this server by its operators", Clip(e.Tool))
}
