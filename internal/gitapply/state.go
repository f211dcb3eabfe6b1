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

// inProgress are the states of the work tree in which an operation is
// under way, in the order they are looked for: the file that says so
// (below the git directory), the file an error names, the operation and
// how to finish or abort it.
var inProgress = []struct{ probe, file, what, finish string }{
	{"rebase-apply/applying", "rebase-apply", "git am", "finish it with git am --continue (or --skip), or give up with git am --abort"},
	{"rebase-apply", "rebase-apply", "git rebase", "finish it with git rebase --continue, or give up with git rebase --abort"},
	{"rebase-merge", "rebase-merge", "git rebase", "finish it with git rebase --continue, or give up with git rebase --abort"},
	{"MERGE_HEAD", "MERGE_HEAD", "a merge", "conclude it with git commit (or git merge --continue), or give up with git merge --abort"},
	{"CHERRY_PICK_HEAD", "CHERRY_PICK_HEAD", "git cherry-pick", "finish it with git cherry-pick --continue, or give up with git cherry-pick --abort"},
	{"REVERT_HEAD", "REVERT_HEAD", "git revert", "finish it with git revert --continue, or give up with git revert --abort"},
	{"BISECT_LOG", "BISECT_LOG", "git bisect", "end it with git bisect reset"},
}

// InProgress returns the git operation in progress in r's work tree
// (nil when none): the states in which git am, git switch and git
// checkout -b refuse to start (git only warns about a bisection; kgen
// refuses it too, since moving HEAD would confuse it).
func (r *Repo) InProgress() *InProgressError {
	for _, s := range inProgress {
		if _, err := os.Lstat(filepath.Join(r.GitDir, s.probe)); err == nil {
			return &InProgressError{s.what, filepath.Join(r.GitDir, s.file), s.finish}
		}
	}
	return nil
}
