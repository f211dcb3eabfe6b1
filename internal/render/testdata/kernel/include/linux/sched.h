/* SPDX-License-Identifier: GPL-2.0 */
#ifndef _LINUX_SCHED_H
#define _LINUX_SCHED_H

#include <linux/types.h>

struct task_struct {
	unsigned int			__state;

	void				*stack;
	refcount_t			usage;

	/* CPU-specific state of this task: */
	struct thread_struct		thread;
};

#endif
