// Package audit writes the memory server's audit log: one JSON line per
// security-relevant event, with the fields and operation names the security
// operations guide documents, so existing jq queries and SIEM rules keep
// working.
package audit

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Operation names. They are part of the audit contract: renaming one breaks
// the queries and alerts built on it.
const (
	OpAuthentication     = "authentication"
	OpRateLimitViolation = "rate_limit_violation"
	OpSecurityViolation  = "security_violation"
	OpConfigChange       = "config_change"
	OpDeleteEpisode      = "delete_episode"
	OpExecuteAgentCode   = "execute_agent_code"
	OpBulkEpisodes       = "bulk_episodes"
	OpToolCall           = "tool_call"
)

// Results.
const (
	ResultSuccess = "success"
	ResultFailure = "failure"
	ResultDenied  = "denied"
)

// Level orders events by importance; the logger drops events below its level.
type Level int

// Levels, lowest first.
const (
	LevelDebug Level = iota
	LevelInfo
	LevelWarn
	LevelError
)

var levelNames = [...]string{"debug", "info", "warn", "error"}

func (l Level) String() string {
	if l < LevelDebug || l > LevelError {
		return fmt.Sprintf("level(%d)", int(l))
	}
	return levelNames[l]
}

// MarshalText writes the level's name, as the audit contract spells it.
func (l Level) MarshalText() ([]byte, error) { return []byte(l.String()), nil }

// UnmarshalText reads a level's name.
func (l *Level) UnmarshalText(b []byte) error {
	v, err := ParseLevel(string(b))
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// ParseLevel reads a level as the runtime config writes it.
func ParseLevel(s string) (Level, error) {
	for i, n := range levelNames {
		if strings.EqualFold(s, n) {
			return Level(i), nil
		}
	}
	return LevelInfo, fmt.Errorf("audit level %q must be one of %v", s, levelNames[:])
}

// Event is one audit record. The JSON field names are the audit contract.
type Event struct {
	Timestamp time.Time      `json:"timestamp"`
	Level     Level          `json:"level"`
	Operation string         `json:"operation"`
	ClientID  string         `json:"client_id"`
	Result    string         `json:"result"`
	Metadata  map[string]any `json:"metadata"`
}

// Auditor records events. Tools and security layers depend on this
// interface, not on the logger, so tests can record events in memory.
type Auditor interface {
	Record(ctx context.Context, e Event)
}

// FreeText marks a metadata value written by an agent (a reflection, a
// query, code). Above debug level the logger records its length and digest
// instead of the text, so the audit log never becomes a copy of the memory
// store or a channel for prompt-injected content.
type FreeText string

// Discard is an Auditor that records nothing.
var Discard Auditor = discard{}

type discard struct{}

func (discard) Record(context.Context, Event) {}
