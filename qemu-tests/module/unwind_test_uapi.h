/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Interface between the unwind_test module and its user-space driver.
 *
 * Every field is a fixed-size 64-bit integer so that a 32-bit (compat)
 * process sees the same layout and compat_ptr_ioctl is enough.
 */
#ifndef UNWIND_TEST_UAPI_H
#define UNWIND_TEST_UAPI_H

#ifdef __KERNEL__
#include <linux/types.h>
#include <linux/ioctl.h>
#else
#include <linux/types.h>
#include <linux/ioctl.h>
#endif

#define UT_VERSION	2
#define UT_MAX_TRACERS	64	/* slots in the module's tracer table */
#define UT_NR_COPY	64	/* trace entries copied into a record */
#define UT_STEPS	4	/* request steps in one ioctl */
#define UT_SUB		8	/* tracers a callback may request itself */

/* Where a request is made from. */
enum {
	UT_CTX_TASK = 0,	/* the ioctl itself (syscall, task context) */
	UT_CTX_NMI = 1,		/* a self-NMI raised by the ioctl */
	UT_CTX_IRQ = 2,		/* a hard irq_work raised by the ioctl */
};

/* Bits of ut_step.observed: the context the request really ran in. */
#define UT_OBS_NMI	1ULL
#define UT_OBS_HARDIRQ	2ULL
#define UT_OBS_TASK	4ULL
#define UT_OBS_TIMEOUT	8ULL	/* the NMI or irq never came */

struct ut_info {
	__u64 version;
	__u64 api;		/* 1: the unwind_deferred_* API was found */
	__u64 nr_cpus;
	__u64 have_nmi;		/* NMI handler registered, IPI possible */
	__u64 have_fork_probe;	/* kprobe on kernel_clone registered */
	__u64 have_exit;	/* do_exit resolved */
	char why[128];		/* reason when api == 0 */
};

struct ut_register {
	__u64 count;				/* in: how many tracers */
	__u64 nr;				/* out: entries filled */
	__s64 ret[UT_MAX_TRACERS];		/* unwind_deferred_init() */
	__u64 id[UT_MAX_TRACERS];		/* table slot, valid if ret == 0 */
	__s64 bit[UT_MAX_TRACERS];		/* work->bit after init */
};

struct ut_unregister {
	__u64 mask;		/* in: tracer ids to cancel */
	/* out: callbacks of them still running when the last cancel returned (must be 0) */
	__u64 inflight;
};

struct ut_tracer_cfg {
	__u64 id;
	/* ids (< UT_SUB) to request from the next callback (one-shot) */
	__u64 on_cb_request;
	__u64 delay_ms;		/* busy-wait this long inside the callback */
};

struct ut_step {
	__u64 mask;		/* tracer ids to request */
	__u64 ctx;		/* UT_CTX_* */
	__u64 observed;		/* out: UT_OBS_* */
	/*
	 * 1: instead of requesting for mask, task_work_add() an empty work
	 * with ctx's notify mode (TWA_NMI_CURRENT from NMI), the result in
	 * ret[0]: the base kernel's part of a request, for the cost figures;
	 * 2: the same with a work that does a request's work with the
	 * module's code (walk, SRCU read side, a ring record)
	 */
	__u64 twa;
	__s64 ret[UT_MAX_TRACERS];
	__u64 cookie[UT_MAX_TRACERS];
};

#define UT_REQ_CANCEL	1ULL	/* cancel cancel_mask after the steps */
#define UT_REQ_EXIT	2ULL	/* do_exit(exit_code << 8) after the steps */

struct ut_request {
	__u64 nsteps;
	__u64 flags;
	__u64 cancel_mask;
	__u64 exit_code;
	struct ut_step step[UT_STEPS];
};

/* Record flags */
#define UT_REC_TASK	1ULL	/* callback ran in task context */
#define UT_REC_EXITING	2ULL	/* current had PF_EXITING */
#define UT_REC_KTHREAD	4ULL
/* Not a callback: a request logged before do_exit (tracer, cookie, sub_ret[0] = return value) */
#define UT_REC_REQLOG	8ULL

struct ut_record {
	__u64 seq;
	__u64 tracer;
	__u64 pid;
	__u64 cookie;
	__u64 nr;		/* trace->nr as given to the callback */
	__u64 flags;		/* UT_REC_* */
	__u64 last;		/* entries[nr - 1] */
	__u64 sub_mask;		/* which sub_ret are valid */
	__s64 sub_ret[UT_SUB];	/* requests made from inside the callback */
	__u64 sub_cookie[UT_SUB];
	__u64 entries[UT_NR_COPY];
};

struct ut_read {
	__u64 buf;		/* user pointer to ut_record[max] */
	__u64 max;
	__u64 count;		/* out */
	__u64 dropped;		/* out: records lost to a full ring */
};

struct ut_kthread {
	__u64 id;		/* tracer to request */
	__s64 ret;		/* out */
	__u64 cookie;		/* out */
};

struct ut_fork {
	__u64 mask;		/* in (ARM): tracers to request in kernel_clone */
	__u64 hit;		/* out (RESULT): the probe fired for us */
	__u64 pid;		/* out: the parent that requested */
	__s64 ret[UT_SUB];
	__u64 cookie[UT_SUB];
};

struct ut_stress {
	__u64 mask;		/* in (START): tracer ids (< UT_SUB) */
	__u64 period_us;	/* in (START): NMI broadcast period */
	/* out (STOP) */
	__u64 queued;		/* requests that returned 0 */
	__u64 callbacks;
	__u64 already;		/* requests that returned 1 */
	__u64 refused;		/* negative returns (e.g. exiting task) */
	__u64 double_queue;	/* 0 returned twice without a callback between */
	__u64 unmatched;	/* callback without a queued request/cookie */
	__u64 lost;		/* queued requests never called back */
	__u64 nmis_sent;
	__u64 nmis_handled;
	__u64 nmi_requests;
	__u64 irq_requests;
	__u64 task_requests;
	__u64 enrolled;
};

/*
 * The reset window: a data breakpoint on current's unwind_mask; when the
 * reset on the way to user space has cleared the mask and the ending
 * context's cookie is still set, its handler (a #DB in kernel mode, an
 * NMI-like context) requests tracer_b. ARM requests tracer_a from the
 * ioctl and registers the breakpoint; RESULT removes it and reports.
 */
struct ut_window {
	__u64 tracer_a;		/* in: requested from the ioctl (task) */
	__u64 tracer_b;		/* in: requested in the window */
	__s64 ret_a;		/* out (ARM) */
	__u64 cookie_a;
	__s64 ret_b;		/* out (RESULT) */
	__u64 cookie_b;
	__u64 stale;		/* the cookie still set in the window */
	__u64 fired;		/* the window was hit and tracer_b requested */
	__u64 in_nmi;		/* in_nmi() in the handler */
	__u64 hits;		/* writes to the mask the breakpoint saw */
};

/*
 * KASAN's aux stacks of the deferred task_work (trees with TWAF_NO_ALLOC):
 * kprobes on kasan_record_aux_stack() (may allocate) and on
 * kasan_record_aux_stack_noalloc() count the calls for current's
 * unwind_info.work between ARM and RESULT. ARM fails with EOPNOTSUPP where
 * the tree has no TWAF_NO_ALLOC or the kernel no generic KASAN.
 */
struct ut_auxstack {
	__u64 alloc;		/* out (RESULT): the allocating variant */
	__u64 noalloc;		/* out (RESULT): the non-allocating one */
};

/*
 * The base kernel's cost of the walk's primitive: get_user() of nwords
 * consecutive words at addr, each with page faults allowed, as the
 * frame-pointer walk reads a frame. Works without the deferred unwind API
 * too, so that a kernel without the series gives the same figure.
 */
#define UT_UACCESS_MAX	1024
struct ut_uaccess {
	__u64 addr;		/* in: user address of the first word */
	__u64 nwords;		/* in: words to read, at most UT_UACCESS_MAX */
	__u64 sum;		/* out: their sum, so that every read is made */
	/*
	 * in: UT_UACCESS_LOCKS: instead of reading, take and release nwords
	 * times an SRCU read lock and a raw spinlock with interrupts saved
	 * (the lock operations lockdep tracks on the way back to user space
	 * of a request: the SRCU read side around the callbacks, the test
	 * callback's ring lock), for the cost figures
	 */
	__u64 op;
};

#define UT_UACCESS_LOCKS	1ULL

#define UT_IOC_MAGIC	0xd5
#define UT_IOC_INFO	_IOR(UT_IOC_MAGIC, 1, struct ut_info)
#define UT_IOC_REGISTER	_IOWR(UT_IOC_MAGIC, 2, struct ut_register)
#define UT_IOC_UNREGISTER _IOWR(UT_IOC_MAGIC, 3, struct ut_unregister)
#define UT_IOC_TRACER_CFG _IOW(UT_IOC_MAGIC, 4, struct ut_tracer_cfg)
#define UT_IOC_REQUEST	_IOWR(UT_IOC_MAGIC, 5, struct ut_request)
#define UT_IOC_READ	_IOWR(UT_IOC_MAGIC, 6, struct ut_read)
#define UT_IOC_KTHREAD	_IOWR(UT_IOC_MAGIC, 7, struct ut_kthread)
#define UT_IOC_FORK_ARM	_IOW(UT_IOC_MAGIC, 8, struct ut_fork)
#define UT_IOC_FORK_RESULT _IOR(UT_IOC_MAGIC, 9, struct ut_fork)
#define UT_IOC_STRESS_START _IOW(UT_IOC_MAGIC, 10, struct ut_stress)
#define UT_IOC_STRESS_ENROLL _IO(UT_IOC_MAGIC, 11)
#define UT_IOC_STRESS_REQ _IO(UT_IOC_MAGIC, 12)	/* arg: UT_CTX_* */
#define UT_IOC_STRESS_STOP _IOR(UT_IOC_MAGIC, 13, struct ut_stress)
#define UT_IOC_RESET	_IO(UT_IOC_MAGIC, 14)	/* cancel all, clear ring */
#define UT_IOC_WINDOW_ARM _IOWR(UT_IOC_MAGIC, 15, struct ut_window)
#define UT_IOC_WINDOW_RESULT _IOR(UT_IOC_MAGIC, 16, struct ut_window)
#define UT_IOC_AUXSTACK_ARM _IO(UT_IOC_MAGIC, 17)
#define UT_IOC_AUXSTACK_RESULT _IOR(UT_IOC_MAGIC, 18, struct ut_auxstack)
#define UT_IOC_UACCESS	_IOWR(UT_IOC_MAGIC, 19, struct ut_uaccess)

#endif /* UNWIND_TEST_UAPI_H */
