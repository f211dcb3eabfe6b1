// SPDX-License-Identifier: GPL-2.0-only
/*
 *  linux/kernel/fork.c
 */

#include <linux/sched.h>
#include <linux/task_work.h>

static int sched_fork(unsigned long clone_flags, struct task_struct *p);

static void free_task(struct task_struct *tsk)
{
	release_user_cpus_ptr(tsk);
	free_task_struct(tsk);
}

__latent_entropy struct task_struct *copy_process(
					struct pid *pid,
					int trace,
					int node,
					struct kernel_clone_args *args)
{
	int pidfd = -1, retval;
	struct task_struct *p;

	p = dup_task_struct(current, node);
	if (!p)
		goto fork_out;

	retval = sched_fork(clone_flags, p);
	if (retval)
		goto bad_fork_cleanup_policy;

	return p;

bad_fork_cleanup_policy:
	free_task(p);
fork_out:
	return ERR_PTR(retval);
}

void __put_task_struct(struct task_struct *tsk)
{
	free_task(tsk);
}
