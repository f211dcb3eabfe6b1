// Package cli is the small command framework shared by kgen and kcheck:
// subcommands register themselves, errors carry an exit code, and the
// context is cancelled on SIGINT/SIGTERM so that long steps can clean up.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
)

// Exit codes shared by kgen and kcheck. Subcommands may document more
// specific codes (>= 10) in their own help text.
const (
	ExitOK      = 0 // success
	ExitFail    = 1 // the check ran and found a failure (test, splat, lint finding)
	ExitHarness = 2 // the tool itself could not do its job (bad usage, missing tool, I/O)
	// ExitInterrupted: SIGINT or SIGTERM stopped the command (128+SIGINT,
	// as shells report it), whatever step it was in.
	ExitInterrupted = 130
)

// Error is an error with an exit code and an optional hint telling the
// user what to do next.
type Error struct {
	Code int
	Err  error
	Hint string
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Errorf returns an *Error with the given exit code.
func Errorf(code int, format string, args ...any) *Error {
	return &Error{Code: code, Err: fmt.Errorf(format, args...)}
}

// WithHint attaches a hint to err, keeping its exit code (ExitHarness if none).
func WithHint(err error, hint string) error {
	var ce *Error
	if errors.As(err, &ce) {
		c := *ce
		c.Hint = hint
		return &c
	}
	return &Error{Code: ExitHarness, Err: err, Hint: hint}
}

// Command is one subcommand.
type Command struct {
	Name    string // e.g. "render" or "tree get"
	Summary string // one line for the command list
	Usage   string // full help text (flags are appended automatically)
	// Run parses its own flags from fs (already populated by Flags) and args.
	Flags func(fs *flag.FlagSet)
	Run   func(ctx context.Context, fs *flag.FlagSet, args []string) error
	// NoArgs: the command takes flags only; App.Run refuses positional
	// arguments (exit 2) before Run.
	NoArgs bool
}

// App is a program with subcommands.
type App struct {
	Name     string
	Summary  string
	Footer   string // appended to the top-level help (exit codes ...)
	commands map[string]*Command
}

// Register adds a command; it panics on duplicates (a programming error).
func (a *App) Register(c *Command) {
	if a.commands == nil {
		a.commands = map[string]*Command{}
	}
	if _, dup := a.commands[c.Name]; dup {
		panic("duplicate command " + c.Name)
	}
	a.commands[c.Name] = c
}

func (a *App) usage(w io.Writer) {
	fmt.Fprintf(w, "%s: %s\n\nUsage: %s COMMAND [flags] [args]\n\nCommands:\n", a.Name, a.Summary, a.Name)
	names := make([]string, 0, len(a.commands))
	for n := range a.commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-14s %s\n", n, a.commands[n].Summary)
	}
	fmt.Fprintf(w, "\nRun '%s COMMAND -h' for a command's flags.\n", a.Name)
	if a.Footer != "" {
		fmt.Fprintf(w, "\n%s\n", strings.TrimRight(a.Footer, "\n"))
	}
}

// Main runs the app with os.Args and exits.
func (a *App) Main() {
	os.Exit(a.Run(os.Args[1:], os.Stderr))
}

// Run dispatches args and returns the exit code. Two-word commands
// ("tree get") are matched before one-word ones.
func (a *App) Run(args []string, stderr io.Writer) int {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		a.usage(stderr)
		if len(args) == 0 {
			return ExitHarness
		}
		return ExitOK
	}
	var cmd *Command
	var rest []string
	if len(args) >= 2 {
		if c, ok := a.commands[args[0]+" "+args[1]]; ok {
			cmd, rest = c, args[2:]
		}
	}
	if cmd == nil {
		if c, ok := a.commands[args[0]]; ok {
			cmd, rest = c, args[1:]
		}
	}
	if cmd == nil {
		fmt.Fprintf(stderr, "%s: unknown command %q\n\n", a.Name, strings.Join(args, " "))
		a.usage(stderr)
		return ExitHarness
	}
	fs := flag.NewFlagSet(a.Name+" "+cmd.Name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: %s %s\n", a.Name, strings.TrimRight(cmd.Usage, "\n"))
		fmt.Fprintln(stderr, "\nFlags:")
		fs.PrintDefaults()
		if a.Footer != "" {
			fmt.Fprintf(stderr, "\n%s\n", strings.TrimRight(a.Footer, "\n"))
		}
	}
	if cmd.Flags != nil {
		cmd.Flags(fs)
	}
	if err := fs.Parse(interleave(fs, rest)); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK
		}
		return ExitHarness
	}
	if cmd.NoArgs && fs.NArg() > 0 {
		fmt.Fprintf(stderr, "%s %s: takes no arguments, got %q (see %s %s -h)\n", a.Name, cmd.Name, fs.Args(), a.Name, cmd.Name)
		return ExitHarness
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := cmd.Run(ctx, fs, fs.Args())
	if err == nil {
		return ExitOK
	}
	code := ExitHarness
	var ce *Error
	if errors.As(err, &ce) {
		code = ce.Code
	}
	if ctx.Err() != nil {
		// An interrupt is an interrupt, whatever step it cut short and
		// whatever code that step's error carries.
		fmt.Fprintf(stderr, "%s %s: interrupted: %v\n", a.Name, cmd.Name, err)
		return ExitInterrupted
	}
	fmt.Fprintf(stderr, "%s %s: %v\n", a.Name, cmd.Name, err)
	if ce != nil && ce.Hint != "" {
		fmt.Fprintf(stderr, "  hint: %s\n", ce.Hint)
	}
	return code
}

// interleave moves flags that follow positional arguments in front of
// them, so that "kgen apply ~/linux --dry-run" works like git does.
func interleave(fs *flag.FlagSet, args []string) []string {
	var flags, pos []string
	for i := 0; i < len(args); i++ {
		a := args[i]
		if a == "--" {
			pos = append(pos, args[i+1:]...)
			break
		}
		if len(a) > 1 && a[0] == '-' {
			flags = append(flags, a)
			name := strings.TrimLeft(a, "-")
			if strings.Contains(name, "=") {
				continue
			}
			if f := fs.Lookup(name); f != nil {
				if bf, ok := f.Value.(interface{ IsBoolFlag() bool }); ok && bf.IsBoolFlag() {
					continue
				}
				if i+1 < len(args) {
					flags = append(flags, args[i+1])
					i++
				}
			}
			continue
		}
		pos = append(pos, a)
	}
	return append(flags, pos...)
}

// Progress prints a progress line to stderr. Long steps call it; it is a
// variable so tests can silence it.
var Progress = func(format string, args ...any) {
	fmt.Fprintf(os.Stderr, format+"\n", args...)
}

// HelpFailures runs every subcommand with -h and returns the ones that
// did not exit 0 (a clash of flag names panics at run time, before any
// work), as "NAME: exit CODE".
func (a *App) HelpFailures() []string {
	var bad []string
	for _, name := range a.Names() {
		if code := a.Run(append(strings.Fields(name), "-h"), io.Discard); code != 0 {
			bad = append(bad, fmt.Sprintf("%s %s: exit %d", a.Name, name, code))
		}
	}
	return bad
}

// Names returns the registered command names, sorted.
func (a *App) Names() []string {
	names := make([]string, 0, len(a.commands))
	for n := range a.commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
