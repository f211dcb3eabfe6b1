package main

import (
	"context"
	"strings"

	"github.com/kdefer/kdefer/internal/cli"
	"github.com/kdefer/kdefer/internal/proc"
	"github.com/kdefer/kdefer/internal/series"
)

// identityHelp documents, for -h, whose name goes on the series.
const identityHelp = `Identity: the From: of every patch and the cover letter and their
Signed-off-by name the person who renders or applies the series, the way
"git format-patch -s" and "git am -s" would: --identity "Name <email>",
else git's user.name and user.email (as git config sees them in TREE),
else series.yaml's maintainer:. "kgen render --check/--update" always
uses series.yaml's maintainer:, so that patches/ is the same bytes on
every machine. The credit to the design (the v14 posting by Josh
Poimboeuf and Steven Rostedt) is in each message, never a sign-off.`

// gitIdentity returns user.name and user.email as git config sees them in
// dir (its repository's config, then the global ones); zero when either
// is unset.
func gitIdentity(ctx context.Context, dir string) series.Identity {
	get := func(key string) string {
		args := []string{"config", "--get", key}
		if dir != "" {
			args = append([]string{"-C", dir}, args...)
		}
		out, err := proc.Command(ctx, "git", args...).Output()
		if err != nil {
			return ""
		}
		return strings.TrimSpace(string(out))
	}
	name, email := get("user.name"), get("user.email")
	if name == "" || email == "" {
		return series.Identity{}
	}
	return series.Identity{Name: name, Email: email}
}

// identity picks the renderer's identity: flag, git config in dir, or
// zero (the series' maintainer).
func identity(ctx context.Context, flag, dir string) (series.Identity, error) {
	if flag != "" {
		id, err := series.ParseIdentity(flag)
		if err != nil {
			return id, cli.Errorf(cli.ExitHarness, "--identity: %w", err)
		}
		return id, nil
	}
	id := gitIdentity(ctx, dir)
	if id.IsZero() {
		cli.Progress("git config has no user.name/user.email: the series carries series.yaml's maintainer (set them, or pass --identity \"Name <email>\")")
	}
	return id, nil
}
