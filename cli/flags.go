package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
)

// newFlagSet returns a subcommand's flag set whose -h prints usage (its lines: the synopsis, a
// blank line, the description), then every flag, then the optional trailer (e.g. exit codes).
func newFlagSet(name, usage, trailer string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, usage)
		fmt.Fprintln(stderr)
		fmt.Fprintln(stderr, "flags:")
		fs.PrintDefaults()
		if trailer != "" {
			fmt.Fprintln(stderr)
			fmt.Fprint(stderr, trailer)
		}
	}
	return fs
}

// parseFlags parses args into fs. When it returns ok false, the command exits with code: 0
// after -h, 2 after a bad flag (the flag package has already said why).
func parseFlags(fs *flag.FlagSet, args []string) (code int, ok bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	return 0, true
}
