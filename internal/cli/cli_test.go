package cli

import (
	"context"
	"flag"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"
)

// An interrupt ends with 130 even when the step it cut short returns an
// error with a code of its own (kgen apply's rendering returned 18).
func TestInterruptIs130WhateverTheStep(t *testing.T) {
	a := &App{Name: "t"}
	a.Register(&Command{Name: "slow", Run: func(ctx context.Context, fs *flag.FlagSet, args []string) error {
		syscall.Kill(syscall.Getpid(), syscall.SIGINT)
		select {
		case <-ctx.Done():
		case <-time.After(10 * time.Second):
			t.Error("the context was not cancelled by SIGINT")
		}
		return Errorf(18, "rendering failed: %v", ctx.Err())
	}})
	var out strings.Builder
	if code := a.Run([]string{"slow"}, &out); code != ExitInterrupted {
		t.Fatalf("exit %d, want %d (%s)", code, ExitInterrupted, out.String())
	}
	if !strings.Contains(out.String(), "interrupted") {
		t.Errorf("message %q", out.String())
	}
}

// Flags may follow the positional arguments, as with git.
func TestFlagsAfterArguments(t *testing.T) {
	a := &App{Name: "t"}
	var junit string
	var json bool
	var got []string
	a.Register(&Command{Name: "boot", Flags: func(fs *flag.FlagSet) {
		fs.StringVar(&junit, "junit", "", "")
		fs.BoolVar(&json, "json", false, "")
	}, Run: func(ctx context.Context, fs *flag.FlagSet, args []string) error {
		got = args
		return nil
	}})
	if code := a.Run([]string{"boot", "TREE", "--junit", "out.xml", "--json"}, io.Discard); code != 0 {
		t.Fatalf("exit %d", code)
	}
	if len(got) != 1 || got[0] != "TREE" || junit != "out.xml" || !json {
		t.Fatalf("args %q junit %q json %v", got, junit, json)
	}
}

// A NoArgs command refuses a positional argument with exit 2 and never
// runs; with flags only it runs.
func TestNoArgs(t *testing.T) {
	a := &App{Name: "t"}
	ran := false
	var keep bool
	a.Register(&Command{Name: "versions", NoArgs: true, Flags: func(fs *flag.FlagSet) {
		fs.BoolVar(&keep, "keep", false, "")
	}, Run: func(ctx context.Context, fs *flag.FlagSet, args []string) error {
		ran = true
		return nil
	}})
	var out strings.Builder
	if code := a.Run([]string{"versions", "v2", "--keep"}, &out); code != ExitHarness || ran {
		t.Fatalf("exit %d, ran %v; want 2 without running", code, ran)
	}
	if !strings.Contains(out.String(), `takes no arguments, got ["v2"]`) {
		t.Errorf("message %q", out.String())
	}
	if code := a.Run([]string{"versions", "--keep"}, io.Discard); code != 0 || !ran || !keep {
		t.Errorf("flags only: exit %d, ran %v, keep %v", code, ran, keep)
	}
}
