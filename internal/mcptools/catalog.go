// Package mcptools exposes the episodic memory engine as MCP tools.
//
// Besides the tools themselves it publishes what the security layer needs
// to classify calls (Catalog, ToolClass, RequiredScope) and the seams it
// plugs into (Auditor, CodeRunner).
package mcptools

import (
	"slices"

	"github.com/memorymcp/memory-mcp-operator/internal/identity"
)

// Class tells whether a tool reads or changes memory; rate limits and
// scopes are applied per class.
type Class int

// Tool classes.
const (
	Read Class = iota + 1
	Write
)

func (c Class) String() string {
	if c == Read {
		return "read"
	}
	return "write"
}

// ToolInfo describes one tool for the security layer and the docs.
type ToolInfo struct {
	Name        string
	Class       Class
	Destructive bool
	// Audited tools record an audit event on every call.
	Audited bool
}

// Scope is the scope a client needs to call the tool.
func (t ToolInfo) Scope() string {
	if t.Class == Read {
		return identity.ScopeRead
	}
	return identity.ScopeWrite
}

// Tool names.
const (
	CreateEpisode        = "create_episode"
	AddEpisodeStep       = "add_episode_step"
	CompleteEpisode      = "complete_episode"
	GetEpisode           = "get_episode"
	GetEpisodeTimeline   = "get_episode_timeline"
	QueryMemory          = "query_memory"
	AnalyzePatterns      = "analyze_patterns"
	SearchPatterns       = "search_patterns"
	RecommendPatterns    = "recommend_patterns"
	AddEpisodeTags       = "add_episode_tags"
	RemoveEpisodeTags    = "remove_episode_tags"
	SearchEpisodesByTags = "search_episodes_by_tags"
	DeleteEpisode        = "delete_episode"
	BulkEpisodes         = "bulk_episodes"
	ConfigureEmbeddings  = "configure_embeddings"
	HealthCheck          = "health_check"
	GetMetrics           = "get_metrics"
	ExecuteAgentCode     = "execute_agent_code"
)

var catalog = []ToolInfo{
	{Name: CreateEpisode, Class: Write},
	{Name: AddEpisodeStep, Class: Write},
	{Name: CompleteEpisode, Class: Write},
	{Name: GetEpisode, Class: Read},
	{Name: GetEpisodeTimeline, Class: Read},
	{Name: QueryMemory, Class: Read},
	{Name: AnalyzePatterns, Class: Read},
	{Name: SearchPatterns, Class: Read},
	{Name: RecommendPatterns, Class: Read},
	{Name: AddEpisodeTags, Class: Write},
	{Name: RemoveEpisodeTags, Class: Write, Destructive: true},
	{Name: SearchEpisodesByTags, Class: Read},
	{Name: DeleteEpisode, Class: Write, Destructive: true, Audited: true},
	{Name: BulkEpisodes, Class: Read, Audited: true},
	{Name: ConfigureEmbeddings, Class: Write, Destructive: true, Audited: true},
	{Name: HealthCheck, Class: Read},
	{Name: GetMetrics, Class: Read},
	{Name: ExecuteAgentCode, Class: Write, Audited: true},
}

// Catalog lists every tool the server can offer, in registration order.
func Catalog() []ToolInfo { return slices.Clone(catalog) }

// Lookup returns the catalog entry of a tool.
func Lookup(name string) (ToolInfo, bool) {
	i := slices.IndexFunc(catalog, func(t ToolInfo) bool { return t.Name == name })
	if i < 0 {
		return ToolInfo{}, false
	}
	return catalog[i], true
}

// ToolClass returns the class of a tool. Unknown names are Write, the
// stricter class, so a tool added without a catalog entry is never
// rate-limited or scoped as a read.
func ToolClass(name string) Class {
	if t, ok := Lookup(name); ok {
		return t.Class
	}
	return Write
}

// RequiredScope returns the scope needed to call a tool.
func RequiredScope(name string) string {
	return ToolInfo{Class: ToolClass(name)}.Scope()
}
