// Command memory-cli is the operator-facing CLI of the memory server: it
// reads audit logs, calls the server's tools, and collects incident evidence
// from a cluster.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"
)

func main() {
	if err := rootCommand().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "memory-cli:", err)
		os.Exit(1)
	}
}

func rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:           "memory-cli",
		Short:         "Operate memory-MCP servers: audit reports, episodes and incident evidence",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.AddCommand(auditCommand(), toolCommand(), episodesCommand(), evidenceCommand())
	return root
}
