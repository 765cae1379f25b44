// Package toolclass says which tools read and which write, the one fact the
// scope check and the rate limiter share.
package toolclass

import "github.com/memorymcp/memory-mcp-operator/internal/identity"

// Class is the read/write class of a tool.
type Class int

// Classes.
const (
	Read Class = iota
	Write
)

func (c Class) String() string {
	if c == Read {
		return "read"
	}
	return "write"
}

// Scope is the OAuth scope a client needs to call a tool of class c.
func (c Class) Scope() string {
	if c == Read {
		return identity.ScopeRead
	}
	return identity.ScopeWrite
}

// Classifier returns the class of a tool. Tools it does not know are
// writes: an unlisted tool then needs the stronger scope and the tighter
// bucket, which is the safe mistake.
type Classifier func(tool string) Class

// Memory is the class table of the memory server's tools.
var Memory = map[string]Class{
	"get_episode":             Read,
	"get_episode_timeline":    Read,
	"query_memory":            Read,
	"analyze_patterns":        Read,
	"search_patterns":         Read,
	"recommend_patterns":      Read,
	"search_episodes_by_tags": Read,
	"bulk_episodes":           Read,
	"health_check":            Read,
	"get_metrics":             Read,
	"create_episode":          Write,
	"add_episode_step":        Write,
	"complete_episode":        Write,
	"add_episode_tags":        Write,
	"remove_episode_tags":     Write,
	"delete_episode":          Write,
	"configure_embeddings":    Write,
	"execute_agent_code":      Write,
}

// FromTable returns a Classifier backed by table, treating unknown tools
// as writes.
func FromTable(table map[string]Class) Classifier {
	return func(tool string) Class {
		if c, ok := table[tool]; ok {
			return c
		}
		return Write
	}
}
