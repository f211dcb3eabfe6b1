package gitapply

import (
	"fmt"
	"os"
	"path/filepath"
)

// InProgressError names a git operation that is under way in the work
// tree, and how to finish or abort it.
type InProgressError struct {
	What   string // "git am", "a merge", ...
	File   string // the file that says so
	Finish string // how to go on
}

func (e *InProgressError) Error() string {
	return fmt.Sprintf("%s is in progress (%s exists): %s, then run kgen again", e.What, e.File, e.Finish)
}

// InProgress returns the git operation in progress in r's work tree
// (nil when none): the states in which git am, git switch and git
// checkout -b refuse to start (git only warns about a bisection; kgen
// refuses it too, since moving HEAD would confuse it).
func (r *Repo) InProgress() *InProgressError {
	ex := func(name string) bool {
		_, err := os.Lstat(filepath.Join(r.GitDir, name))
		return err == nil
	}
	rel := func(name string) string { return filepath.Join(r.GitDir, name) }
	switch {
	case ex("rebase-apply/applying"):
		return &InProgressError{"git am", rel("rebase-apply"), "finish it with git am --continue (or --skip), or give up with git am --abort"}
	case ex("rebase-apply"):
		return &InProgressError{"git rebase", rel("rebase-apply"), "finish it with git rebase --continue, or give up with git rebase --abort"}
	case ex("rebase-merge"):
		return &InProgressError{"git rebase", rel("rebase-merge"), "finish it with git rebase --continue, or give up with git rebase --abort"}
	case ex("MERGE_HEAD"):
		return &InProgressError{"a merge", rel("MERGE_HEAD"), "conclude it with git commit (or git merge --continue), or give up with git merge --abort"}
	case ex("CHERRY_PICK_HEAD"):
		return &InProgressError{"git cherry-pick", rel("CHERRY_PICK_HEAD"), "finish it with git cherry-pick --continue, or give up with git cherry-pick --abort"}
	case ex("REVERT_HEAD"):
		return &InProgressError{"git revert", rel("REVERT_HEAD"), "finish it with git revert --continue, or give up with git revert --abort"}
	case ex("BISECT_LOG"):
		return &InProgressError{"git bisect", rel("BISECT_LOG"), "end it with git bisect reset"}
	}
	return nil
}
