// Command aindfs serves recording sessions as a read-only filesystem and
// answers questions about them from the command line.
package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"

	"github.com/spf13/cobra"
)

// Exit codes: 1 for failures, 2 for input the user must correct.
const (
	exitFailure = 1
	exitUsage   = 2
)

// usageError marks an error caused by what the user typed (a bad name, a bad
// flag): it exits with status 2.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

func main() {
	os.Exit(run(commandLine(os.Args), os.Stdout, os.Stderr))
}

// run executes the command line and returns the exit status.
func run(args []string, stdout, stderr io.Writer) int {
	g := &globals{stdout: stdout, stderr: stderr, args: args, ready: takeReadyPipe()}
	defer g.closeLog()
	root := newRootCmd(g)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	g.notReady(err)
	fmt.Fprintf(stderr, "aindfs: %v\n", err)
	if errors.As(err, new(usageError)) {
		return exitUsage
	}
	return exitFailure
}

// exitStatusHelp ends every command's --help.
const exitStatusHelp = `
Exit status: 0 done; 1 failed (network, catalog, a session with nothing behind
it online); 2 bad input (flags, arguments, names that are not sessions, paths
not in the tree) - the message names the input and what was wrong with it.
`

// usageArgs makes an argument check's error a usage error (exit 2).
func usageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return usageError{err}
		}
		return nil
	}
}

// rootArgs rejects a word that is not a command; cobra's own check would
// return a plain error.
func rootArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return fmt.Errorf("unknown command %q: see aindfs --help", args[0])
	}
	return nil
}

// checkUsage makes the argument checks of cmd and every command below it
// return usage errors; a command without one accepts any arguments.
func checkUsage(cmd *cobra.Command) {
	if cmd.Args != nil {
		cmd.Args = usageArgs(cmd.Args)
	}
	for _, c := range cmd.Commands() {
		checkUsage(c)
	}
}

// globals holds what every subcommand shares: flags of the root command and
// the logger built from them.
type globals struct {
	logFlags
	stdout io.Writer
	stderr io.Writer
	log    *slog.Logger
	args   []string // the command line, for mount --background to run again
	ready  *os.File // in a background mount: the pipe to the parent
}

func newRootCmd(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "aindfs",
		Short: "Recording sessions as a read-only filesystem",
		Long: `aindfs serves recording sessions as a read-only filesystem: every session at
sessions/<session-id>/ with its raw/, sorted/ and metadata/ folders, resolved
lazily from the Code Ocean catalog and streamed from S3 through a block cache.

Configuration comes from the environment and from a .env file (in the current
folder or a parent, then the home folder; variables already set win):
  CODE_OCEAN_API_TOKEN   Code Ocean access token (else the first variable whose
                         value starts with cop_)
  CODE_OCEAN_DOMAIN      default https://codeocean.allenneuraldynamics.org
  AWS_REGION, AWS_PROFILE, AWS_ENDPOINT_URL_S3, ...  the AWS SDK's usual chain;
                         without credentials, S3 is read anonymously
  AINDFS_BUCKETS         comma-separated buckets to probe for raw data
  AINDFS_DOCDB_URL       AIND's metadata database, default
                         https://api.allenneuraldynamics.org; off turns it off;
                         file://PATH reads records from a local JSON file`,
		Version:       buildVersion(),
		SilenceUsage:  true,
		SilenceErrors: true,
		Args:          rootArgs,
		// Runnable, so that a word that is not a command reaches rootArgs.
		RunE: func(cmd *cobra.Command, args []string) error { return cmd.Help() },
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if err := g.openLog(); err != nil {
				return usageError{err}
			}
			// Settings may live in .env files; the environment wins.
			g.loadSettings()
			return nil
		},
	}
	root.SetOut(g.stdout)
	root.SetErr(g.stderr)
	g.logFlags.register(root.PersistentFlags())
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return usageError{err} })
	root.SetVersionTemplate("aindfs {{.Version}}\n")
	root.AddCommand(newSessionCmd(g), newVersionCmd(g))
	root.AddCommand(newAttachedCmd(g), newAttachCmd(g))
	root.AddCommand(newMountCmd(g), newLsCmd(g), newCatCmd(g), newURLCmd(g), newStatsCmd(g), newRefreshCmd(g))
	root.AddCommand(newPrefetchCmd(g), newCacheCmd(g))
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	checkUsage(root)
	root.SetUsageTemplate(root.UsageTemplate() + exitStatusHelp)
	return root
}
