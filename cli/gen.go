package cli

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/ticksync/ticksync/internal/tsgen"
)

// genTickRate is the tick rate gen builds a game at: serve's default. The generated code does
// not depend on it (prediction ratios are left out), only the game's factory wants one.
const genTickRate = 20

// runGen is `NAME gen <ts> …`.
func runGen(p *Program, args []string, stdout, stderr io.Writer) int {
	usage := func() {
		fmt.Fprintf(stderr, "usage: %s gen <target> [flags]\n", p.Name)
		fmt.Fprintln(stderr)
		fmt.Fprintln(stderr, "targets:")
		fmt.Fprintln(stderr, "  ts       typed TypeScript for a game's entities and input, with a schema check")
		fmt.Fprintln(stderr)
		fmt.Fprintf(stderr, "Run '%s gen <target> -h' for its flags.\n", p.Name)
	}
	if len(args) == 0 {
		usage()
		return 2
	}
	switch args[0] {
	case "ts":
		return runGenTS(p, args[1:], stdout, stderr)
	case "-h", "--help", "help":
		usage()
		return 0
	}
	fmt.Fprintf(stderr, "%s gen: unknown target %q\n\n", p.Name, args[0])
	usage()
	return 2
}

func runGenTS(p *Program, args []string, stdout, stderr io.Writer) int {
	fs := newFlagSet("gen ts", "usage: "+p.Name+` gen ts -game NAME [-config JSON] [-import MODULE] [-o FILE]

Writes one TypeScript module for a game's schema: per entity class an interface with
its fields as the client's Entity gives them, a metadata object, the int columns of a
predict row, asCLASS(e) and CLASSEntities(mirror or interpolator); the input as an
interface with its metadata and columns; and checkSchema(schema), which throws naming
the first difference when a server runs another version of the game. The output is
deterministic: commit it and regenerate when the game's schema changes.`, "", stderr)
	game := fs.String("game", "", "the game's registered `name` (required)")
	config := fs.String("config", "", "room config (`JSON`) the schema is built with (default: the game's default config)")
	imp := fs.String("import", tsgen.DefaultImport, "`module` the generated file imports the client from (a path such as ../../src/index.js works too)")
	out := fs.String("o", "", "write to `file` instead of stdout (its directory is made if missing)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s gen ts: unexpected argument %q\n", p.Name, fs.Arg(0))
		return 2
	}
	if *game == "" {
		fmt.Fprintf(stderr, "%s gen ts: -game is required (games: %s)\n", p.Name, strings.Join(p.Games.Names(), ", "))
		return 2
	}
	factory, ok := p.Games.Lookup(*game)
	if !ok {
		fmt.Fprintf(stderr, "%s gen ts: unknown game %q (this binary has: %s)\n", p.Name, *game, strings.Join(p.Games.Names(), ", "))
		return 2
	}
	var cfg []byte
	if *config != "" {
		cfg = []byte(*config)
	}
	g, err := factory(genTickRate, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "%s gen ts: game %q: %v\n", p.Name, *game, err)
		return 2
	}
	src, err := tsgen.Generate(g.Schema(), tsgen.Options{Game: *game, Command: genCommand(p.Name, *game, *config, *imp), Import: *imp})
	if err != nil {
		fmt.Fprintf(stderr, "%s gen ts: %v\n", p.Name, err)
		return 1
	}
	if *out == "" {
		if _, err := stdout.Write(src); err != nil {
			fmt.Fprintf(stderr, "%s gen ts: %v\n", p.Name, err)
			return 1
		}
		return 0
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		fmt.Fprintf(stderr, "%s gen ts: %v\n", p.Name, err)
		return 1
	}
	if err := os.WriteFile(*out, src, 0o644); err != nil {
		fmt.Fprintf(stderr, "%s gen ts: %v\n", p.Name, err)
		return 1
	}
	return 0
}

// genCommand is the command line that regenerates a file, as its header names it: the flags
// that change the output, the defaults left out.
func genCommand(program, game, config, imp string) string {
	cmd := program + " gen ts -game " + shellWord(game)
	if config != "" {
		cmd += " -config " + shellWord(config)
	}
	if imp != tsgen.DefaultImport {
		cmd += " -import " + shellWord(imp)
	}
	return cmd
}

var plainWord = regexp.MustCompile(`^[A-Za-z0-9_./@:,+=-]+$`)

// shellWord quotes s for a POSIX shell when it needs it.
func shellWord(s string) string {
	if plainWord.MatchString(s) {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
