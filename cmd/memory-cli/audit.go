package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/memorymcp/memory-mcp-operator/internal/auditreport"
)

type auditFlags struct {
	file      string
	operation string
	client    string
	result    string
	since     time.Duration
}

func (f *auditFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVarP(&f.file, "file", "f", "-", "audit log to read; - for standard input")
	cmd.Flags().StringVar(&f.operation, "operation", "", "only events of this operation, such as authentication")
	cmd.Flags().StringVar(&f.client, "client", "", "only events of this client")
	cmd.Flags().StringVar(&f.result, "result", "", "only events with this result, such as failure")
	cmd.Flags().DurationVar(&f.since, "since", 0, "only events newer than this, such as 1h")
}

func (f *auditFlags) filter() auditreport.Filter {
	flt := auditreport.Filter{Operation: f.operation, ClientID: f.client, Result: f.result}
	if f.since > 0 {
		flt.Since = time.Now().Add(-f.since)
	}
	return flt
}

func (f *auditFlags) open(cmd *cobra.Command) (io.ReadCloser, error) {
	if f.file == "-" {
		return io.NopCloser(cmd.InOrStdin()), nil
	}
	r, err := os.Open(f.file)
	if err != nil {
		return nil, fmt.Errorf("opening audit log: %w", err)
	}
	return r, nil
}

func auditCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Read audit logs"}
	cmd.AddCommand(auditReportCommand(), auditSearchCommand())
	return cmd
}

func auditReportCommand() *cobra.Command {
	var flags auditFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "report",
		Short: "Summarise an audit log: events per operation, failures per client, config changes",
		Example: `  kubectl logs deploy/agent-memory | memory-cli audit report
  memory-cli audit report -f /var/lib/memory-mcp/audit/audit.log --since 1h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := flags.open(cmd)
			if err != nil {
				return err
			}
			defer r.Close() //nolint:errcheck // read-only
			rep, err := auditreport.Summarise(r, flags.filter())
			if err != nil {
				return err
			}
			if asJSON {
				enc := json.NewEncoder(cmd.OutOrStdout())
				enc.SetIndent("", "  ")
				return enc.Encode(rep)
			}
			return printReport(cmd.OutOrStdout(), rep)
		},
	}
	flags.register(cmd)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the report as JSON")
	return cmd
}

func printReport(w io.Writer, rep *auditreport.Report) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "events\t%d\t(%d other lines skipped)\n", rep.Events, rep.Skipped)
	if rep.Events > 0 {
		fmt.Fprintf(tw, "from\t%s\n", rep.First.Format(time.RFC3339))
		fmt.Fprintf(tw, "to\t%s\n", rep.Last.Format(time.RFC3339))
	}
	fmt.Fprintln(tw, "\nOPERATION/RESULT\tCOUNT")
	for _, c := range rep.ByOperation {
		fmt.Fprintf(tw, "%s\t%d\n", c.Key, c.Count)
	}
	fmt.Fprintln(tw, "\nCLIENT\tREFUSALS AND FAILURES")
	for _, c := range rep.FailuresByClient {
		fmt.Fprintf(tw, "%s\t%d\n", c.Key, c.Count)
	}
	if len(rep.ConfigChanges) > 0 {
		fmt.Fprintln(tw, "\nCONFIG CHANGE\tRESULT\tDETAILS")
		for _, e := range rep.ConfigChanges {
			details, err := json.Marshal(e.Metadata)
			if err != nil {
				return err
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\n", e.Timestamp.Format(time.RFC3339), e.Result, details)
		}
	}
	return tw.Flush()
}

func auditSearchCommand() *cobra.Command {
	var flags auditFlags
	cmd := &cobra.Command{
		Use:     "search",
		Short:   "Print the audit events that match the filters, as they were written",
		Example: `  memory-cli audit search -f audit.log --operation authentication --result failure`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			r, err := flags.open(cmd)
			if err != nil {
				return err
			}
			defer r.Close() //nolint:errcheck // read-only
			out := cmd.OutOrStdout()
			_, err = auditreport.Scan(r, flags.filter(), func(_ auditreport.Event, line []byte) error {
				_, err := fmt.Fprintf(out, "%s\n", line)
				return err
			})
			return err
		},
	}
	flags.register(cmd)
	return cmd
}
