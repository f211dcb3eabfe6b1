// SPDX-License-Identifier: GPL-2.0
/*
 * unwind-selftest: the in-guest driver of the deferred user-space unwinding
 * self-tests. It runs as /init (PID 1) in a throw-away initramfs: mounts
 * devtmpfs and proc, loads /lib/unwind_test.ko, runs the suites, prints one
 * KTAP v1 document on the console and powers the machine off.
 *
 * Built static with frame pointers (see ../README.md): the tests call down
 * through a known chain of noinline functions and compare the user stack
 * trace the kernel hands to the unwind callbacks with the real return
 * addresses of that chain.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "chain.h"
#include "unwind_test_uapi.h"

#define MODULE_PATH "/lib/unwind_test.ko"
#define DEV_PATH "/dev/unwind_test"
#define MAX_BOUND 1024	/* no sane walk may report more entries than this */

/* ------------------------------------------------------------------ */
/* KTAP output: every line is written with a single write(2).          */

static void out_line(int indent, const char *fmt, ...)
{
	char buf[1024];
	int n = 0;
	va_list ap;

	while (n < indent && n < 64)
		buf[n++] = ' ';
	va_start(ap, fmt);
	n += vsnprintf(buf + n, sizeof(buf) - n - 1, fmt, ap);
	va_end(ap);
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(1, buf, n) < 0) {
		/* nothing sensible to do: the console is gone */
	}
}

/* Per-case state: diagnostics are printed as they come, before the result. */
static int case_failed;
static char case_skip[200];
#define IND 8	/* cases are nested two levels deep: suite > case */

static void diag(const char *fmt, ...)
{
	char buf[900];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	out_line(IND, "# %s", buf);
}

#define CHECK(cond, ...) do {						\
	if (!(cond)) {							\
		case_failed = 1;					\
		diag("FAIL %s:%d: %s", __func__, __LINE__, #cond);	\
		diag(__VA_ARGS__);					\
	}								\
} while (0)

static void skip(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(case_skip, sizeof(case_skip), fmt, ap);
	va_end(ap);
}

/* ------------------------------------------------------------------ */
/* Module access                                                       */

static int dev_fd = -1;
static struct ut_info info;

/*
 * CASE_IOCTL(cmd, arg): ioctl cmd on the module for a case; when it
 * fails, the case fails with the command's name and errno. Returns 0 or
 * -1.
 */
#define CASE_IOCTL(cmd, arg) case_ioctl_named(cmd, arg, #cmd)

static int case_ioctl_named(unsigned long cmd, void *arg, const char *name)
{
	if (!ioctl(dev_fd, cmd, arg))
		return 0;
	case_failed = 1;
	diag("%s: %s", name, strerror(errno));
	return -1;
}

static void reset_module(void)
{
	ioctl(dev_fd, UT_IOC_RESET, 0);
}

/* Register n tracers; ids[] receives their table slots. Returns how many. */
static int reg_tracers(int n, uint64_t *ids)
{
	struct ut_register r;
	int i;

	memset(&r, 0, sizeof(r));
	r.count = n;
	if (ioctl(dev_fd, UT_IOC_REGISTER, &r)) {
		diag("UT_IOC_REGISTER: %s", strerror(errno));
		return 0;
	}
	for (i = 0; i < (int)r.nr; i++) {
		if (r.ret[i]) {
			diag("unwind_deferred_init #%d returned %lld", i,
			     (long long)r.ret[i]);
			return i;
		}
		if (ids)
			ids[i] = r.id[i];
	}
	return r.nr;
}

static uint64_t unreg_tracers(uint64_t mask)
{
	struct ut_unregister u = { .mask = mask };

	if (ioctl(dev_fd, UT_IOC_UNREGISTER, &u))
		diag("UT_IOC_UNREGISTER: %s", strerror(errno));
	return u.inflight;
}

static int tracer_cfg(uint64_t id, uint64_t on_cb, uint64_t delay_ms)
{
	struct ut_tracer_cfg c = { .id = id, .on_cb_request = on_cb,
				   .delay_ms = delay_ms };

	return ioctl(dev_fd, UT_IOC_TRACER_CFG, &c);
}

#define MAX_RECS 512
static struct ut_record recs[MAX_RECS];
static int nrecs;

static int read_records(void)
{
	struct ut_read rd = { .buf = (uintptr_t)recs, .max = MAX_RECS };

	nrecs = 0;
	if (ioctl(dev_fd, UT_IOC_READ, &rd)) {
		diag("UT_IOC_READ: %s", strerror(errno));
		return -1;
	}
	if (rd.dropped)
		diag("the module dropped %llu records", (unsigned long long)rd.dropped);
	nrecs = rd.count;
	return nrecs;
}

/* Callbacks (not request logs) of tracer id for pid with cookie (0: any). */
static int count_cb(uint64_t id, pid_t pid, uint64_t cookie)
{
	int i, n = 0;

	for (i = 0; i < nrecs; i++) {
		if (recs[i].flags & UT_REC_REQLOG)
			continue;
		if (recs[i].tracer == id && (pid_t)recs[i].pid == pid &&
		    (!cookie || recs[i].cookie == cookie))
			n++;
	}
	return n;
}

static struct ut_record *find_cb(uint64_t id, pid_t pid)
{
	int i;

	for (i = 0; i < nrecs; i++)
		if (!(recs[i].flags & UT_REC_REQLOG) && recs[i].tracer == id &&
		    (pid_t)recs[i].pid == pid)
			return &recs[i];
	return NULL;
}

static void dump_records(void)
{
	int i;

	for (i = 0; i < nrecs; i++)
		diag("record %d: tracer %llu pid %llu cookie %#llx nr %llu flags %#llx",
		     i, (unsigned long long)recs[i].tracer,
		     (unsigned long long)recs[i].pid,
		     (unsigned long long)recs[i].cookie,
		     (unsigned long long)recs[i].nr,
		     (unsigned long long)recs[i].flags);
}

/* ------------------------------------------------------------------ */
/* The known call chain                                                */

/*
 * chain1 -> chain2 -> chain3 -> chain_syscall -> syscall instruction.
 * Each level stores its own return address; the expected user trace is
 *   [0] ut_after_syscall (the instruction after `syscall`)
 *   [1] return address of chain_syscall (inside chain3)
 *   [2] return address of chain3 (inside chain2)
 *   [3] return address of chain2 (inside chain1)
 *   [4] return address of chain1 (inside its caller)
 */
#define CHAIN_DEPTH 5
extern char ut_after_syscall[];
extern char ut_after_hostile[];
static void *volatile chain_ra[CHAIN_DEPTH];

DEFINE_CHAIN_SYSCALL(chain_syscall, ut_after_syscall, chain_ra[1])

/*
 * One level of the chain: it stores its return address in chain_ra[slot]
 * and calls next, not as a tail call, so that it keeps its frame.
 */
#define DEFINE_CHAIN_LEVEL(name, slot, next)				\
static NOINLINE long name(long nr, long a, long b, long c)		\
{									\
	long r;								\
									\
	chain_ra[slot] = __builtin_return_address(0);			\
	r = next(nr, a, b, c);						\
	asm volatile("" ::: "memory");					\
	return r;							\
}

DEFINE_CHAIN_LEVEL(chain3, 2, chain_syscall)
DEFINE_CHAIN_LEVEL(chain2, 3, chain3)
DEFINE_CHAIN_LEVEL(chain1, 4, chain2)

/* ioctl through the chain; returns 0 or -errno */
static long chain_ioctl(unsigned long cmd, void *arg)
{
	chain_ra[0] = ut_after_syscall;
	return chain1(SYS_ioctl, dev_fd, cmd, (long)arg);
}

/*
 * A syscall made with a hostile frame pointer in %rbp. %rbp is saved on
 * the stack and restored right after; nothing between uses it.
 */
static NOINLINE long hostile_syscall(unsigned long fp, long nr, long a, long b,
				     long c)
{
	register long rax asm("rax") = nr;

	asm volatile("push %%rbp\n\t"
		     "mov %[fp], %%rbp\n\t"
		     "syscall\n\t"
		     ".globl ut_after_hostile\n"
		     "ut_after_hostile:\n\t"
		     "pop %%rbp\n\t"
		     : "+r"(rax)
		     : "D"(a), "S"(b), "d"(c), [fp] "r"(fp)
		     : "rcx", "r11", "memory");
	return rax;
}

/* Make one request step in ctx for mask through the chain. */
static int request1(uint64_t mask, int ctx, struct ut_request *rq)
{
	long r;

	memset(rq, 0, sizeof(*rq));
	rq->nsteps = 1;
	rq->step[0].mask = mask;
	rq->step[0].ctx = ctx;
	r = chain_ioctl(UT_IOC_REQUEST, rq);
	if (r) {
		diag("UT_IOC_REQUEST: %s", strerror(-r));
		return -1;
	}
	return 0;
}

static const char *ctx_name(int ctx)
{
	return ctx == UT_CTX_NMI ? "NMI" : ctx == UT_CTX_IRQ ? "irq" : "task";
}

static int check_observed(const struct ut_step *st, int ctx)
{
	uint64_t o = st->observed;

	if (o & UT_OBS_TIMEOUT) {
		diag("the %s never arrived (observed %#llx)", ctx_name(ctx),
		     (unsigned long long)o);
		return 0;
	}
	switch (ctx) {
	case UT_CTX_NMI:
		return (o & UT_OBS_NMI) != 0;
	case UT_CTX_IRQ:
		return (o & UT_OBS_HARDIRQ) && !(o & UT_OBS_NMI);
	default:
		return (o & UT_OBS_TASK) && !(o & (UT_OBS_NMI | UT_OBS_HARDIRQ));
	}
}

/* Compare a callback's trace with the chain's real return addresses. */
static int check_chain_trace(const struct ut_record *r)
{
	int i, ok = 1;

	if (r->nr < CHAIN_DEPTH || r->nr > MAX_BOUND) {
		diag("trace has %llu entries, want %d..%d",
		     (unsigned long long)r->nr, CHAIN_DEPTH, MAX_BOUND);
		ok = 0;
	}
	for (i = 0; i < CHAIN_DEPTH && i < UT_NR_COPY; i++) {
		if (r->entries[i] != (uintptr_t)chain_ra[i]) {
			diag("entry %d = %#llx, want %p", i,
			     (unsigned long long)r->entries[i], chain_ra[i]);
			ok = 0;
		}
	}
	if (!ok)
		for (i = 0; i < (int)r->nr && i < 8; i++)
			diag("  trace[%d] = %#llx", i,
			     (unsigned long long)r->entries[i]);
	return ok;
}

/* ------------------------------------------------------------------ */
/* Test cases                                                          */

static int need_tracers(int n, uint64_t *ids)
{
	int got;

	reset_module();
	got = reg_tracers(n, ids);
	if (got < n) {
		case_failed = 1;
		diag("could only register %d of %d tracers", got, n);
		return -1;
	}
	read_records();
	nrecs = 0;
	return 0;
}

static void one_context(int ctx)
{
	struct ut_request rq;
	struct ut_record *r;
	uint64_t id;
	pid_t me = getpid();

	if (ctx == UT_CTX_NMI && !info.have_nmi) {
		skip("no NMI handler could be registered in the module");
		return;
	}
	if (need_tracers(1, &id))
		return;
	if (request1(1ULL << id, ctx, &rq)) {
		case_failed = 1;
		return;
	}
	CHECK(check_observed(&rq.step[0], ctx),
	      "request did not run in %s context (observed %#llx)",
	      ctx_name(ctx), (unsigned long long)rq.step[0].observed);
	CHECK(rq.step[0].ret[id] == 0, "request returned %lld, want 0",
	      (long long)rq.step[0].ret[id]);
	CHECK(rq.step[0].cookie[id] != 0, "cookie is 0");
	read_records();
	CHECK(count_cb(id, me, 0) == 1, "%d callbacks, want 1",
	      count_cb(id, me, 0));
	r = find_cb(id, me);
	if (r) {
		CHECK(r->cookie == rq.step[0].cookie[id],
		      "callback cookie %#llx, request cookie %#llx",
		      (unsigned long long)r->cookie,
		      (unsigned long long)rq.step[0].cookie[id]);
		CHECK(r->flags & UT_REC_TASK, "callback not in task context");
		CHECK(check_chain_trace(r), "user trace does not match the call chain");
	}
	if (case_failed)
		dump_records();
}

static void t_task_request(void) { one_context(UT_CTX_TASK); }
static void t_nmi_request(void) { one_context(UT_CTX_NMI); }
static void t_irq_request(void) { one_context(UT_CTX_IRQ); }

static void t_cookie_same_within_entry(void)
{
	struct ut_request rq;
	uint64_t id[3], c;
	pid_t me = getpid();
	int i, nsteps = info.have_nmi ? 3 : 2;
	int ctxs[3] = { UT_CTX_TASK, UT_CTX_IRQ, UT_CTX_NMI };

	if (need_tracers(3, id))
		return;
	memset(&rq, 0, sizeof(rq));
	rq.nsteps = nsteps;
	for (i = 0; i < nsteps; i++) {
		rq.step[i].mask = 1ULL << id[i];
		rq.step[i].ctx = ctxs[i];
	}
	if (chain_ioctl(UT_IOC_REQUEST, &rq)) {
		case_failed = 1;
		diag("UT_IOC_REQUEST failed");
		return;
	}
	c = rq.step[0].cookie[id[0]];
	CHECK(c != 0, "cookie is 0");
	for (i = 0; i < nsteps; i++) {
		CHECK(check_observed(&rq.step[i], ctxs[i]), "step %d context", i);
		CHECK(rq.step[i].ret[id[i]] == 0, "%s request returned %lld",
		      ctx_name(ctxs[i]), (long long)rq.step[i].ret[id[i]]);
		CHECK(rq.step[i].cookie[id[i]] == c,
		      "%s request cookie %#llx differs from the task one %#llx",
		      ctx_name(ctxs[i]),
		      (unsigned long long)rq.step[i].cookie[id[i]],
		      (unsigned long long)c);
	}
	read_records();
	for (i = 0; i < nsteps; i++)
		CHECK(count_cb(id[i], me, c) == 1,
		      "tracer %d: %d callbacks with the entry cookie, want 1", i,
		      count_cb(id[i], me, c));
	if (!info.have_nmi)
		diag("NMI step left out: no NMI handler");
	if (case_failed)
		dump_records();
}

#define ENTRIES 16
static void t_cookie_new_each_entry(void)
{
	struct ut_request rq;
	uint64_t id, ck[ENTRIES];
	pid_t me = getpid();
	int i, j, dups;

	if (need_tracers(1, &id))
		return;
	for (i = 0; i < ENTRIES; i++) {
		if (request1(1ULL << id, i % 3 == 1 && info.have_nmi ?
			     UT_CTX_NMI : UT_CTX_TASK, &rq)) {
			case_failed = 1;
			return;
		}
		ck[i] = rq.step[0].cookie[id];
		CHECK(rq.step[0].ret[id] == 0,
		      "entry %d: request returned %lld, want 0 (a new entry)",
		      i, (long long)rq.step[0].ret[id]);
		CHECK(ck[i] != 0, "entry %d: cookie is 0", i);
		read_records();
		CHECK(count_cb(id, me, ck[i]) == 1,
		      "entry %d: %d callbacks with cookie %#llx, want 1", i,
		      count_cb(id, me, ck[i]), (unsigned long long)ck[i]);
		getppid();	/* an entry without any request in between */
	}
	for (i = 0, dups = 0; i < ENTRIES; i++)
		for (j = 0; j < i; j++)
			if (ck[i] == ck[j] && ++dups <= 3)
				CHECK(0, "entries %d and %d share cookie %#llx",
				      j, i, (unsigned long long)ck[i]);
	if (dups)
		diag("%d pairs of entries share a cookie", dups);
}

static void t_return_values(void)
{
	struct ut_request rq;
	struct ut_kthread kt;
	uint64_t id[2];
	pid_t me = getpid();

	if (need_tracers(2, id))
		return;
	memset(&rq, 0, sizeof(rq));
	rq.nsteps = 4;
	rq.step[0].mask = 1ULL << id[0];	/* 0: queued */
	rq.step[1].mask = 1ULL << id[0];	/* 1: already pending */
	rq.step[2].mask = 1ULL << id[1];	/* 0: queued (task_work already added) */
	rq.step[3].mask = 1ULL << id[1];	/* 1 again, from NMI or irq */
	rq.step[3].ctx = info.have_nmi ? UT_CTX_NMI : UT_CTX_IRQ;
	if (chain_ioctl(UT_IOC_REQUEST, &rq)) {
		case_failed = 1;
		return;
	}
	CHECK(rq.step[0].ret[id[0]] == 0, "first request: %lld, want 0",
	      (long long)rq.step[0].ret[id[0]]);
	CHECK(rq.step[1].ret[id[0]] == 1, "second request: %lld, want 1",
	      (long long)rq.step[1].ret[id[0]]);
	CHECK(rq.step[2].ret[id[1]] == 0, "other tracer: %lld, want 0",
	      (long long)rq.step[2].ret[id[1]]);
	CHECK(rq.step[3].ret[id[1]] == 1, "other tracer again (%s): %lld, want 1",
	      ctx_name(rq.step[3].ctx), (long long)rq.step[3].ret[id[1]]);
	read_records();
	CHECK(count_cb(id[0], me, 0) == 1, "tracer 0: %d callbacks",
	      count_cb(id[0], me, 0));
	CHECK(count_cb(id[1], me, 0) == 1, "tracer 1: %d callbacks",
	      count_cb(id[1], me, 0));

	/* The next entry: 0 again. */
	if (request1(1ULL << id[0], UT_CTX_TASK, &rq) == 0)
		CHECK(rq.step[0].ret[id[0]] == 0, "next entry: %lld, want 0",
		      (long long)rq.step[0].ret[id[0]]);
	read_records();

	/* Negative: a kernel thread. */
	memset(&kt, 0, sizeof(kt));
	kt.id = id[0];
	if (!CASE_IOCTL(UT_IOC_KTHREAD, &kt)) {
		CHECK(kt.ret < 0, "request from a kthread returned %lld, want < 0",
		      (long long)kt.ret);
		CHECK(kt.cookie == 0 || kt.ret < 0, "kthread cookie");
	}
}

static void t_several_tracers(void)
{
	struct ut_request rq;
	uint64_t id[4], c;
	pid_t me = getpid();
	int i;

	if (need_tracers(4, id))
		return;
	if (request1((1ULL << id[1]) | (1ULL << id[3]), UT_CTX_TASK, &rq)) {
		case_failed = 1;
		return;
	}
	c = rq.step[0].cookie[id[1]];
	CHECK(rq.step[0].ret[id[1]] == 0 && rq.step[0].ret[id[3]] == 0,
	      "returns %lld %lld", (long long)rq.step[0].ret[id[1]],
	      (long long)rq.step[0].ret[id[3]]);
	CHECK(rq.step[0].cookie[id[3]] == c, "different cookies in one entry");
	read_records();
	for (i = 0; i < 4; i++) {
		int want = (i == 1 || i == 3);

		CHECK(count_cb(id[i], me, 0) == want,
		      "tracer %d: %d callbacks, want %d", i,
		      count_cb(id[i], me, 0), want);
	}
	CHECK(count_cb(id[1], me, c) == 1 && count_cb(id[3], me, c) == 1,
	      "callback cookies differ from the request cookie");
	if (case_failed)
		dump_records();
}

static void t_completed_mask(void)
{
	struct ut_request rq;
	struct ut_record *r;
	uint64_t id[2], c;
	pid_t me = getpid();

	if (need_tracers(2, id))
		return;
	if (id[0] >= UT_SUB || id[1] >= UT_SUB) {
		case_failed = 1;
		diag("tracer ids %llu %llu too high", (unsigned long long)id[0],
		     (unsigned long long)id[1]);
		return;
	}
	/* From inside tracer 0's callback: request tracer 0 and tracer 1. */
	tracer_cfg(id[0], (1ULL << id[0]) | (1ULL << id[1]), 0);
	if (request1(1ULL << id[0], UT_CTX_TASK, &rq)) {
		case_failed = 1;
		return;
	}
	c = rq.step[0].cookie[id[0]];
	read_records();
	CHECK(count_cb(id[0], me, 0) == 1,
	      "tracer 0 called %d times in one entry, want 1 (requested again "
	      "from its own callback)", count_cb(id[0], me, 0));
	CHECK(count_cb(id[1], me, c) == 1,
	      "tracer 1, requested from tracer 0's callback: %d callbacks with "
	      "the entry cookie, want 1", count_cb(id[1], me, c));
	r = find_cb(id[0], me);
	if (r) {
		CHECK(r->sub_ret[id[0]] == 1,
		      "re-request after the callback ran returned %lld, want 1",
		      (long long)r->sub_ret[id[0]]);
		CHECK(r->sub_cookie[id[0]] == c, "re-request cookie %#llx, want %#llx",
		      (unsigned long long)r->sub_cookie[id[0]],
		      (unsigned long long)c);
		CHECK(r->sub_ret[id[1]] == 0,
		      "request of tracer 1 from the callback returned %lld, want 0",
		      (long long)r->sub_ret[id[1]]);
		CHECK(r->sub_cookie[id[1]] == c, "tracer 1 cookie changed");
	}
	/* The next entry starts a fresh mask: called again, new cookie. */
	tracer_cfg(id[0], 0, 0);
	if (request1(1ULL << id[0], UT_CTX_TASK, &rq) == 0) {
		CHECK(rq.step[0].ret[id[0]] == 0, "next entry: %lld",
		      (long long)rq.step[0].ret[id[0]]);
		read_records();
		CHECK(count_cb(id[0], me, rq.step[0].cookie[id[0]]) == 1,
		      "next entry: no callback");
		CHECK(rq.step[0].cookie[id[0]] != c, "next entry kept the cookie");
	}
	if (case_failed)
		dump_records();
}

static void t_cancel(void)
{
	struct ut_request rq;
	struct ut_register r;
	uint64_t id;
	pid_t me = getpid();

	if (need_tracers(1, &id))
		return;
	memset(&r, 0, sizeof(r));
	/* learn the bit of the tracer: register one more, see, drop it */
	memset(&rq, 0, sizeof(rq));
	rq.nsteps = 1;
	rq.step[0].mask = 1ULL << id;
	rq.flags = UT_REQ_CANCEL;
	rq.cancel_mask = 1ULL << id;
	if (chain_ioctl(UT_IOC_REQUEST, &rq)) {
		case_failed = 1;
		return;
	}
	CHECK(rq.step[0].ret[id] == 0, "request returned %lld",
	      (long long)rq.step[0].ret[id]);
	read_records();
	CHECK(count_cb(id, me, 0) == 0,
	      "%d callbacks after the tracer was cancelled with its request "
	      "pending, want 0", count_cb(id, me, 0));

	/* The bit is free again: the next tracer gets it and works. */
	memset(&r, 0, sizeof(r));
	r.count = 1;
	if (ioctl(dev_fd, UT_IOC_REGISTER, &r) || r.nr != 1 || r.ret[0]) {
		case_failed = 1;
		diag("re-register failed: %lld", (long long)r.ret[0]);
		return;
	}
	diag("re-registered tracer got bit %lld", (long long)r.bit[0]);
	id = r.id[0];
	if (request1(1ULL << id, UT_CTX_TASK, &rq) == 0) {
		CHECK(rq.step[0].ret[id] == 0, "request on the reused bit: %lld",
		      (long long)rq.step[0].ret[id]);
		read_records();
		CHECK(count_cb(id, me, rq.step[0].cookie[id]) == 1,
		      "no callback on the reused bit");
	}
}

struct slow_arg {
	uint64_t id;
	struct ut_request rq;
};

static void *slow_requester(void *p)
{
	struct slow_arg *a = p;

	memset(&a->rq, 0, sizeof(a->rq));
	a->rq.nsteps = 1;
	a->rq.step[0].mask = 1ULL << a->id;
	ioctl(dev_fd, UT_IOC_REQUEST, &a->rq);
	return NULL;
}

static void t_cancel_waits_for_callback(void)
{
	static struct slow_arg a;
	pthread_t th;
	uint64_t id, inflight;
	int before, after;

	if (need_tracers(1, &id))
		return;
	tracer_cfg(id, 0, 400);	/* the callback busy-waits 400 ms */
	a.id = id;
	if (pthread_create(&th, NULL, slow_requester, &a)) {
		case_failed = 1;
		diag("pthread_create failed");
		return;
	}
	usleep(150 * 1000);
	inflight = unreg_tracers(1ULL << id);
	CHECK(inflight == 0,
	      "unwind_deferred_cancel returned while %llu callback(s) still ran",
	      (unsigned long long)inflight);
	read_records();
	before = nrecs;
	pthread_join(th, NULL);
	usleep(100 * 1000);
	read_records();
	after = nrecs;
	CHECK(after == 0, "%d callback(s) recorded after cancel returned", after);
	diag("callback had %s when cancel was called",
	     before ? "started" : "not started");
}

static void t_bits_exhausted(void)
{
	struct ut_register r;
	int i, ok = 0, busy = -1;

	reset_module();
	memset(&r, 0, sizeof(r));
	r.count = UT_MAX_TRACERS;
	if (CASE_IOCTL(UT_IOC_REGISTER, &r))
		return;
	for (i = 0; i < (int)r.nr; i++) {
		if (r.ret[i] == 0)
			ok++;
		else if (r.ret[i] == -EBUSY)
			busy = i;
		else
			CHECK(0, "init #%d returned %lld", i, (long long)r.ret[i]);
	}
	diag("%d tracers registered before -EBUSY", ok);
	CHECK(busy == ok, "no -EBUSY after %d tracers (nr %llu)", ok,
	      (unsigned long long)r.nr);
	CHECK(ok >= 2 && ok < 64, "%d tracers fit in the mask", ok);
	/* free one, the next init succeeds */
	unreg_tracers(1ULL << r.id[ok / 2]);
	memset(&r, 0, sizeof(r));
	r.count = 1;
	CHECK(ioctl(dev_fd, UT_IOC_REGISTER, &r) == 0 && r.ret[0] == 0,
	      "init after freeing a bit returned %lld", (long long)r.ret[0]);
	reset_module();
}

static void t_kthread_refused(void)
{
	struct ut_kthread kt;
	uint64_t id;
	int i;

	if (need_tracers(1, &id))
		return;
	memset(&kt, 0, sizeof(kt));
	kt.id = id;
	if (CASE_IOCTL(UT_IOC_KTHREAD, &kt))
		return;
	CHECK(kt.ret < 0, "kthread request returned %lld, want < 0",
	      (long long)kt.ret);
	usleep(50 * 1000);
	read_records();
	for (i = 0; i < nrecs; i++)
		CHECK(!(recs[i].flags & UT_REC_KTHREAD),
		      "a callback ran in a kthread (pid %llu)",
		      (unsigned long long)recs[i].pid);
	CHECK(nrecs == 0, "%d callbacks after a refused request", nrecs);
}

static int wait_child(pid_t pid, int *status)
{
	int i;

	for (i = 0; i < 300; i++) {	/* 30 s */
		pid_t w = waitpid(pid, status, WNOHANG);

		if (w == pid)
			return 0;
		if (w < 0)
			return -1;
		usleep(100 * 1000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, status, 0);
	return -1;
}

#define COMPAT_PATH "/bin/unwind-compat32"
#define COMPAT_WHY "/etc/unwind-compat32.why"
static void t_compat_refused(void)
{
	uint64_t id;
	pid_t pid;
	int status = 0;

	if (access(COMPAT_PATH, X_OK)) {
		char why[160] = "a 32-bit (-m32) build was not possible on the "
				"build machine";
		FILE *f = fopen(COMPAT_WHY, "r");

		if (f) {
			if (fgets(why, sizeof(why), f))
				why[strcspn(why, "\n")] = 0;
			fclose(f);
		}
		skip("no 32-bit helper %s: %s", COMPAT_PATH, why);
		return;
	}
	if (need_tracers(1, &id))
		return;
	if (id != 0) {
		case_failed = 1;
		diag("the 32-bit helper requests tracer 0, got id %llu",
		     (unsigned long long)id);
		return;
	}
	pid = fork();
	if (pid == 0) {
		execl(COMPAT_PATH, COMPAT_PATH, (char *)NULL);
		_exit(120);
	}
	if (pid < 0 || wait_child(pid, &status)) {
		case_failed = 1;
		diag("32-bit helper did not finish");
		return;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 126) {
		skip("the kernel cannot run 32-bit binaries (IA32_EMULATION off?)");
		return;
	}
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	      "32-bit helper status %#x: 1 = request accepted from a compat "
	      "task, 2 = open failed, 3 = ioctl failed, 120 = exec failed", status);
	read_records();
	CHECK(count_cb(id, pid, 0) == 0, "%d callbacks for the compat task",
	      count_cb(id, pid, 0));
}

static void t_exit_with_pending(void)
{
	struct ut_request rq;
	uint64_t id, ck = 0;
	pid_t pid;
	int status = 0, i, reqlog = 0;

	if (!info.have_exit) {
		skip("do_exit not found in kallsyms");
		return;
	}
	if (need_tracers(1, &id))
		return;
	chain_ioctl(UT_IOC_INFO, &info);	/* chain_ra[] as in the child */
	pid = fork();
	if (pid == 0) {
		memset(&rq, 0, sizeof(rq));
		rq.nsteps = 1;
		rq.step[0].mask = 1ULL << id;
		rq.flags = UT_REQ_EXIT;
		rq.exit_code = 42;
		chain_ioctl(UT_IOC_REQUEST, &rq);
		_exit(3);	/* not reached: the ioctl exits */
	}
	if (pid < 0 || wait_child(pid, &status)) {
		case_failed = 1;
		diag("child did not finish");
		return;
	}
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 42,
	      "child status %#x, want exit 42 from inside the ioctl", status);
	read_records();
	for (i = 0; i < nrecs; i++) {
		if ((recs[i].flags & UT_REC_REQLOG) && (pid_t)recs[i].pid == pid) {
			reqlog++;
			ck = recs[i].cookie;
			CHECK(recs[i].sub_ret[0] == 0,
			      "request before exit returned %lld",
			      (long long)recs[i].sub_ret[0]);
		}
	}
	CHECK(reqlog == 1, "request log missing");
	CHECK(count_cb(id, pid, 0) == 1,
	      "%d callbacks for the exiting task, want exactly 1",
	      count_cb(id, pid, 0));
	CHECK(count_cb(id, pid, ck) == 1, "callback cookie differs (want %#llx)",
	      (unsigned long long)ck);
	{
		struct ut_record *r = find_cb(id, pid);

		/*
		 * The exit hook calls back before the task gives up its memory:
		 * the trace is the child's real chain (same binary, same
		 * addresses as ours). Without it the task_work would run after
		 * exit_mm() with an empty trace.
		 */
		if (r) {
			diag("callback at exit: nr %llu, flags %#llx",
			     (unsigned long long)r->nr,
			     (unsigned long long)r->flags);
			CHECK(check_chain_trace(r),
			      "the trace at exit is not the child's call chain");
		}
	}
	if (case_failed)
		dump_records();
}

/*
 * A request from an NMI-like context right after the reset on the way to
 * user space cleared the mask, while the ending context's cookie is still
 * set (the module's data breakpoint on unwind_mask makes the window
 * deterministic). The request belongs to the next entry context: it must
 * get a new cookie, and its callback that same cookie.
 */
static void t_reset_window(void)
{
	struct ut_window w;
	uint64_t ids[2];
	pid_t me = syscall(SYS_gettid);
	long err;

	if (need_tracers(2, ids))
		return;
	memset(&w, 0, sizeof(w));
	w.tracer_a = ids[0];
	w.tracer_b = ids[1];
	err = chain_ioctl(UT_IOC_WINDOW_ARM, &w);
	if (err < 0) {
		case_failed = 1;
		diag("arming the data breakpoint on unwind_mask failed: %s",
		     strerror(-err));
		return;
	}
	/* the return from ARM went through the reset; one more entry runs
	 * what the window request queued
	 */
	chain_ioctl(UT_IOC_INFO, &info);
	if (CASE_IOCTL(UT_IOC_WINDOW_RESULT, &w))
		return;
	diag("window: A ret %lld cookie %#llx; mask writes seen %llu; B ret %lld cookie %#llx (stale %#llx, in_nmi %llu)",
	     (long long)w.ret_a, (unsigned long long)w.cookie_a,
	     (unsigned long long)w.hits, (long long)w.ret_b,
	     (unsigned long long)w.cookie_b, (unsigned long long)w.stale,
	     (unsigned long long)w.in_nmi);
	read_records();
	CHECK(w.ret_a == 0 && count_cb(ids[0], me, w.cookie_a) == 1,
	      "tracer A: request %lld, %d callbacks with its cookie",
	      (long long)w.ret_a, count_cb(ids[0], me, w.cookie_a));
	CHECK(w.fired, "the breakpoint never saw the reset clear the mask with the cookie set (%llu writes)",
	      (unsigned long long)w.hits);
	if (!w.fired)
		return;
	CHECK(w.in_nmi, "the breakpoint handler did not run as an NMI");
	CHECK(w.ret_b == 0, "request in the window returned %lld, want 0",
	      (long long)w.ret_b);
	CHECK(w.cookie_b && w.cookie_b != w.cookie_a,
	      "request in the window got cookie %#llx, the ending context's is %#llx",
	      (unsigned long long)w.cookie_b, (unsigned long long)w.cookie_a);
	CHECK(count_cb(ids[1], me, 0) == 1, "%d callbacks for tracer B, want 1",
	      count_cb(ids[1], me, 0));
	CHECK(count_cb(ids[1], me, w.cookie_b) == 1,
	      "tracer B's callback does not carry its request's cookie %#llx",
	      (unsigned long long)w.cookie_b);
	if (case_failed)
		dump_records();
}

/*
 * A perf sample of a context switch requests under the runqueue lock; on
 * a tree whose task_work_add() takes TWAF_NO_ALLOC, KASAN must record the
 * aux stack of the deferred work without allocating. Requests from task
 * and irq context (the NMI path records no aux stack) must reach only
 * kasan_record_aux_stack_noalloc().
 */
static void t_task_work_no_alloc(void)
{
	struct ut_auxstack a = { 0, 0 };
	struct ut_request rq;
	uint64_t id;

	if (need_tracers(1, &id))
		return;
	if (ioctl(dev_fd, UT_IOC_AUXSTACK_ARM) < 0) {
		if (errno == EOPNOTSUPP)
			skip("the tree has no TWAF_NO_ALLOC (its KASAN never allocates for an aux stack) or the kernel no generic KASAN");
		else {
			case_failed = 1;
			diag("kprobes on kasan_record_aux_stack*: %s",
			     strerror(errno));
		}
		return;
	}
	request1(1ULL << id, UT_CTX_TASK, &rq);
	request1(1ULL << id, UT_CTX_IRQ, &rq);
	if (CASE_IOCTL(UT_IOC_AUXSTACK_RESULT, &a))
		return;
	diag("aux stacks of the deferred work: %llu allocating, %llu not",
	     (unsigned long long)a.alloc, (unsigned long long)a.noalloc);
	CHECK(a.alloc == 0, "task_work_add() let KASAN allocate %llu times for the deferred work (no TWAF_NO_ALLOC)",
	      (unsigned long long)a.alloc);
	CHECK(a.noalloc >= 2, "%llu non-allocating aux stacks for 2 requests",
	      (unsigned long long)a.noalloc);
}

static void t_fork_child_clean(void)
{
	struct ut_fork f;
	struct ut_request rq;
	uint64_t id, pc, cc[2] = { 0, 0 };
	int pfd[2], status = 0;
	long cret[2] = { -999, -999 };
	pid_t pid, me = getpid();

	if (!info.have_fork_probe) {
		skip("no kprobe on kernel_clone");
		return;
	}
	if (need_tracers(1, &id))
		return;
	if (id >= UT_SUB || pipe(pfd)) {
		case_failed = 1;
		return;
	}
	memset(&f, 0, sizeof(f));
	f.mask = 1ULL << id;
	if (CASE_IOCTL(UT_IOC_FORK_ARM, &f))
		return;
	pid = fork();	/* the parent requests inside kernel_clone() */
	if (pid == 0) {
		long out[4];

		close(pfd[0]);
		request1(1ULL << id, UT_CTX_TASK, &rq);
		out[0] = rq.step[0].ret[id];
		out[1] = rq.step[0].cookie[id];
		request1(1ULL << id, UT_CTX_TASK, &rq);
		out[2] = rq.step[0].ret[id];
		out[3] = rq.step[0].cookie[id];
		if (write(pfd[1], out, sizeof(out)) != sizeof(out))
			_exit(2);
		_exit(0);
	}
	close(pfd[1]);
	if (pid > 0) {
		long in[4];

		if (read(pfd[0], in, sizeof(in)) == sizeof(in)) {
			cret[0] = in[0];
			cc[0] = in[1];
			cret[1] = in[2];
			cc[1] = in[3];
		}
	}
	close(pfd[0]);
	if (pid < 0 || wait_child(pid, &status)) {
		case_failed = 1;
		diag("child did not finish");
		return;
	}
	memset(&f, 0, sizeof(f));
	ioctl(dev_fd, UT_IOC_FORK_RESULT, &f);
	pc = f.cookie[id];
	CHECK(f.hit && f.pid == (uint64_t)me, "the kernel_clone probe did not fire");
	CHECK(f.ret[id] == 0, "parent request in kernel_clone returned %lld",
	      (long long)f.ret[id]);
	CHECK(cret[0] == 0,
	      "child's first request returned %ld, want 0 (it inherited state)",
	      cret[0]);
	CHECK(cret[1] == 0, "child's second entry: %ld, want 0", cret[1]);
	CHECK(cc[0] != 0 && cc[0] != pc,
	      "child's cookie %#llx, parent's %#llx: must be new and non-zero",
	      (unsigned long long)cc[0], (unsigned long long)pc);
	CHECK(cc[1] != cc[0], "child's two entries share a cookie");
	read_records();
	CHECK(count_cb(id, me, pc) == 1, "parent: %d callbacks for the fork entry",
	      count_cb(id, me, pc));
	CHECK(count_cb(id, pid, 0) == 2, "child: %d callbacks, want 2",
	      count_cb(id, pid, 0));
	CHECK(count_cb(id, pid, pc) == 0, "the child got the parent's request");
	if (case_failed)
		dump_records();
}

/* Hostile frame pointers */

enum { H_CYCLE, H_KERNEL, H_UNALIGNED, H_UNMAPPED, H_DEEP };
#define DEEP_FRAMES 1500

static unsigned long unmapped_above_stack(void)
{
	char line[256];
	unsigned long lo, hi, stack_hi = 0, cand;
	FILE *f = fopen("/proc/self/maps", "r");
	int tries, clash;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "[stack]") &&
		    sscanf(line, "%lx-%lx", &lo, &hi) == 2)
			stack_hi = hi;
	if (!stack_hi) {
		fclose(f);
		return 0;
	}
	for (tries = 1; tries < 64; tries++) {
		cand = stack_hi + tries * 0x10000UL;
		clash = 0;
		rewind(f);
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 &&
			    cand + 32 > lo && cand < hi)
				clash = 1;
		if (!clash && cand < 0x7ffffffff000UL) {
			fclose(f);
			return cand;
		}
	}
	fclose(f);
	return 0;
}

static NOINLINE void hostile(int kind)
{
	static const char *names[] = { "cycle", "kernel", "unaligned",
				       "unmapped", "deep" };
	unsigned long frames[2 * DEEP_FRAMES + 4];
	struct ut_request rq;
	struct ut_record *r;
	unsigned long fp = 0;
	uint64_t id;
	pid_t me = getpid();
	long ret;
	int i;

	if (need_tracers(1, &id))
		return;
	memset(frames, 0, sizeof(frames));
	switch (kind) {
	case H_CYCLE:	/* A -> B -> A, both above the stack pointer */
		frames[0] = (unsigned long)&frames[4];
		frames[1] = 0x401000;
		frames[4] = (unsigned long)&frames[0];
		frames[5] = 0x402000;
		fp = (unsigned long)&frames[0];
		break;
	case H_KERNEL:
		fp = 0xffff888000100000UL;
		break;
	case H_UNALIGNED:
		fp = (unsigned long)&frames[8] + 3;
		break;
	case H_UNMAPPED:
		fp = unmapped_above_stack();
		if (!fp) {
			skip("no unmapped address above the stack found");
			return;
		}
		break;
	case H_DEEP:
		for (i = 0; i < DEEP_FRAMES; i++) {
			frames[2 * i] = i + 1 < DEEP_FRAMES ?
				(unsigned long)&frames[2 * i + 2] : 0;
			frames[2 * i + 1] = 0x400000UL + 16UL * i;
		}
		fp = (unsigned long)&frames[0];
		break;
	}
	memset(&rq, 0, sizeof(rq));
	rq.nsteps = 1;
	rq.step[0].mask = 1ULL << id;
	rq.step[0].ctx = (kind & 1) && info.have_nmi ? UT_CTX_NMI : UT_CTX_TASK;
	ret = hostile_syscall(fp, SYS_ioctl, dev_fd, UT_IOC_REQUEST, (long)&rq);
	CHECK(ret == 0, "ioctl: %ld", ret);
	CHECK(rq.step[0].ret[id] == 0, "request returned %lld",
	      (long long)rq.step[0].ret[id]);
	read_records();
	CHECK(count_cb(id, me, 0) == 1, "%d callbacks, want 1 (the walk must "
	      "end and the callback still happen)", count_cb(id, me, 0));
	r = find_cb(id, me);
	if (!r)
		return;
	diag("%s fp %#lx from %s: %llu entries", names[kind], fp,
	     ctx_name(rq.step[0].ctx), (unsigned long long)r->nr);
	CHECK(r->cookie == rq.step[0].cookie[id], "cookie mismatch");
	CHECK(r->nr >= 1 && r->nr <= MAX_BOUND, "nr %llu not in 1..%d",
	      (unsigned long long)r->nr, MAX_BOUND);
	if (r->nr >= 1)
		CHECK(r->entries[0] == (uintptr_t)ut_after_hostile,
		      "first entry %#llx, want the syscall return %p",
		      (unsigned long long)r->entries[0], ut_after_hostile);
	for (i = 0; i < (int)r->nr && i < UT_NR_COPY; i++)
		CHECK(r->entries[i] < 0x800000000000ULL,
		      "entry %d = %#llx is not a user address", i,
		      (unsigned long long)r->entries[i]);
	switch (kind) {
	case H_KERNEL:
	case H_UNMAPPED:
	case H_UNALIGNED:
		CHECK(r->nr <= 2, "%llu entries from a bad frame pointer",
		      (unsigned long long)r->nr);
		break;
	case H_DEEP:
		CHECK(r->nr >= UT_NR_COPY, "deep chain cut at %llu",
		      (unsigned long long)r->nr);
		CHECK(r->nr < DEEP_FRAMES, "deep chain walked whole (%llu)",
		      (unsigned long long)r->nr);
		for (i = 1; i < (int)r->nr && i < UT_NR_COPY; i++)
			if (r->entries[i] != 0x400000UL + 16UL * (i - 1)) {
				CHECK(0, "deep entry %d = %#llx", i,
				      (unsigned long long)r->entries[i]);
				break;
			}
		break;
	}
	/* The task is still fine: a normal request right after works. */
	if (request1(1ULL << id, UT_CTX_TASK, &rq) == 0) {
		read_records();
		r = find_cb(id, me);
		CHECK(r && check_chain_trace(r), "normal trace after hostile one");
	}
}

static void t_hostile_cycle(void) { hostile(H_CYCLE); }
static void t_hostile_kernel(void) { hostile(H_KERNEL); }
static void t_hostile_unaligned(void) { hostile(H_UNALIGNED); }
static void t_hostile_unmapped(void) { hostile(H_UNMAPPED); }
static void t_hostile_deep(void) { hostile(H_DEEP); }

/* Stress */

static volatile int stress_stop;
static int stress_seconds = 4;

struct stress_arg {
	int cpu;
	long loops;
	long errors;
};

static void *stress_thread(void *p)
{
	struct stress_arg *a = p;
	cpu_set_t set;
	long i;

	CPU_ZERO(&set);
	CPU_SET(a->cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
	if (ioctl(dev_fd, UT_IOC_STRESS_ENROLL, 0)) {
		a->errors++;
		return NULL;
	}
	for (i = 0; !stress_stop; i++) {
		int ctx = UT_CTX_TASK;

		if (i % 4 == 1 && info.have_nmi)
			ctx = UT_CTX_NMI;
		else if (i % 8 == 3)
			ctx = UT_CTX_IRQ;
		if (ioctl(dev_fd, UT_IOC_STRESS_REQ, ctx))
			a->errors++;
		syscall(SYS_getppid);
		if (i % 16 == 0)
			sched_yield();
	}
	a->loops = i;
	return NULL;
}

static void t_stress(void)
{
	struct ut_stress s;
	uint64_t id[2];
	int ncpu = info.nr_cpus ? info.nr_cpus : 1;
	int nthr = 2 * ncpu, i;
	pthread_t th[32];
	struct stress_arg args[32];
	long loops = 0, errors = 0;

	if (nthr > 32)
		nthr = 32;
	if (need_tracers(2, id))
		return;
	memset(&s, 0, sizeof(s));
	s.mask = (1ULL << id[0]) | (1ULL << id[1]);
	s.period_us = 1000;
	if (CASE_IOCTL(UT_IOC_STRESS_START, &s))
		return;
	stress_stop = 0;
	for (i = 0; i < nthr; i++) {
		args[i].cpu = i % ncpu;
		args[i].loops = args[i].errors = 0;
		if (pthread_create(&th[i], NULL, stress_thread, &args[i])) {
			nthr = i;
			break;
		}
	}
	sleep(stress_seconds);
	stress_stop = 1;
	for (i = 0; i < nthr; i++) {
		pthread_join(th[i], NULL);
		loops += args[i].loops;
		errors += args[i].errors;
	}
	memset(&s, 0, sizeof(s));
	if (CASE_IOCTL(UT_IOC_STRESS_STOP, &s))
		return;
	diag("%d threads on %d CPUs, %d s: %ld loops, %llu requests queued, "
	     "%llu callbacks, %llu already pending, %llu refused",
	     nthr, ncpu, stress_seconds, loops, (unsigned long long)s.queued,
	     (unsigned long long)s.callbacks, (unsigned long long)s.already,
	     (unsigned long long)s.refused);
	diag("NMIs sent %llu handled %llu; requests from NMI %llu, irq %llu, "
	     "task %llu", (unsigned long long)s.nmis_sent,
	     (unsigned long long)s.nmis_handled,
	     (unsigned long long)s.nmi_requests,
	     (unsigned long long)s.irq_requests,
	     (unsigned long long)s.task_requests);
	CHECK(errors == 0, "%ld ioctl errors in the threads", errors);
	CHECK(s.enrolled == (uint64_t)nthr, "enrolled %llu of %d",
	      (unsigned long long)s.enrolled, nthr);
	CHECK(s.queued > 0, "no request was queued");
	CHECK(s.double_queue == 0, "%llu requests returned 0 while one was "
	      "still pending", (unsigned long long)s.double_queue);
	CHECK(s.unmatched == 0, "%llu callbacks matched no queued request",
	      (unsigned long long)s.unmatched);
	CHECK(s.lost == 0, "%llu queued requests never got a callback",
	      (unsigned long long)s.lost);
	CHECK(s.queued == s.callbacks, "queued %llu != callbacks %llu",
	      (unsigned long long)s.queued, (unsigned long long)s.callbacks);
	if (info.have_nmi) {
		CHECK(s.nmis_handled > 0, "no NMI arrived");
		CHECK(s.nmi_requests > 0, "no request from NMI context");
	}
	reset_module();
}

/*
 * Kernel cost figures, printed as "# cost: NAME VALUE ns" for kcheck bench
 * --against and kcheck conform, which set them side by side with the same
 * case on another kernel. Each figure is the fastest of COST_BATCHES
 * batches (TCG shares a loaded host; the fastest batch is the one least
 * disturbed). The case fails only when a request fails: a figure has no
 * threshold inside the guest.
 *
 * Besides the figures of the series' paths, the case measures the same
 * work on each kernel without the series' part (the baselines): the ioctl
 * with an empty request, the self-NMI with an empty request, one
 * get_user() of a word. kcheck divides each ratio by the ratio of its
 * baseline, which leaves what the two kernels' own paths cost out.
 *
 * A request and its baseline are measured in alternating batches
 * (cost_pair), COST_PAIR_BATCHES of each, so that a slow spell of the
 * host falls on both and the fastest batch of each comes from the same
 * stretch of time: measured one after the other in 10 batches, the NMI
 * request and its empty self-NMI once came out 0.60 and once 1.25 times
 * upstream's, corrected, on the same kernels. The walk per frame is
 * taken the same way, a request from COST_DEEP frames against one from a
 * single frame (cost_depths).
 */
#define COST_BATCHES	10
#define COST_PAIR_BATCHES 40
#define COST_DEEP	128
#define COST_WORDS	64

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* ioctl from depth frames of this function (each keeps its frame) */
static NOINLINE long deep_ioctl(int depth, unsigned long cmd, void *arg)
{
	long r;

	if (depth <= 1)
		r = syscall(SYS_ioctl, dev_fd, cmd, arg);
	else
		r = deep_ioctl(depth - 1, cmd, arg);
	asm volatile("" ::: "memory");
	return r;
}

/* Per-call time of a batch of n syscalls (getppid: no work in the kernel). */
static uint64_t cost_syscall_batch(int n)
{
	uint64_t t0 = mono_ns();
	int i;

	for (i = 0; i < n; i++)
		syscall(SYS_getppid);
	return (mono_ns() - t0) / n;
}

/* Fastest of COST_BATCHES batches of cost_syscall_batch(). */
static uint64_t cost_syscall(int n)
{
	uint64_t best = ~0ULL, d;
	int b;

	for (b = 0; b < COST_BATCHES; b++) {
		d = cost_syscall_batch(n);
		if (d < best)
			best = d;
	}
	return best;
}

/*
 * syscall_idle_ns and syscall_never_requested_ns in alternating batches:
 * this task, which has made a request, and a child, which never did
 * (fork_child_starts_clean), take turns, one batch of n syscalls each,
 * COST_PAIR_BATCHES times; the fastest batch of each. Returns 0 when the
 * child could not run.
 */
static int cost_syscall_pair(int n, uint64_t *used, uint64_t *fresh)
{
	int go[2], back[2], status, b, ok = 1;
	uint64_t d;
	pid_t pid;

	*used = *fresh = ~0ULL;
	if (pipe(go))
		return 0;
	if (pipe(back)) {
		close(go[0]);
		close(go[1]);
		return 0;
	}
	pid = fork();
	if (pid == 0) {
		char c;

		close(go[1]);
		close(back[0]);
		while (read(go[0], &c, 1) == 1) {
			d = cost_syscall_batch(n);
			if (write(back[1], &d, sizeof(d)) != sizeof(d))
				_exit(1);
		}
		_exit(0);
	}
	close(go[0]);
	close(back[1]);
	for (b = 0; pid > 0 && ok && b < COST_PAIR_BATCHES; b++) {
		d = cost_syscall_batch(n);
		if (d < *used)
			*used = d;
		if (write(go[1], "g", 1) != 1 ||
		    read(back[0], &d, sizeof(d)) != sizeof(d))
			ok = 0;
		else if (d < *fresh)
			*fresh = d;
	}
	close(go[1]);
	close(back[0]);
	if (pid > 0)
		waitpid(pid, &status, 0);
	return pid > 0 && ok;
}

/*
 * Per-request time of one batch of n requests for the tracers in mask,
 * made in ctx from depth frames: the ioctl, the request and, on the way
 * back to user space, the walk and the callback. An empty mask gives the
 * ioctl (and in NMI context the self-NMI) alone. Returns 0 when a
 * request failed.
 */
static uint64_t cost_batch_twa(uint64_t mask, int ctx, int depth, int n, int twa)
{
	struct ut_request rq;
	int i, id = mask ? __builtin_ctzll(mask) : 0;
	uint64_t t0, d;

	read_records();
	t0 = mono_ns();
	for (i = 0; i < n; i++) {
		memset(&rq, 0, sizeof(rq));
		rq.nsteps = 1;
		rq.step[0].mask = mask;
		rq.step[0].ctx = ctx;
		rq.step[0].twa = twa;
		if (deep_ioctl(depth, UT_IOC_REQUEST, &rq) ||
		    rq.step[0].ret[id] < 0 ||
		    (rq.step[0].observed & UT_OBS_TIMEOUT)) {
			diag("%s request from %d frames: %s / %lld",
			     ctx_name(ctx), depth, strerror(errno),
			     (long long)rq.step[0].ret[id]);
			return 0;
		}
	}
	d = (mono_ns() - t0) / n;
	read_records();
	return d ? d : 1;
}

static uint64_t cost_batch(uint64_t mask, int ctx, int depth, int n)
{
	return cost_batch_twa(mask, ctx, depth, n, 0);
}

/* Fastest per-request time of batches batches (cost_batch). */
static uint64_t cost_request(uint64_t mask, int ctx, int depth, int n, int batches)
{
	uint64_t best = ~0ULL, d;
	int b;

	for (b = 0; b < batches; b++) {
		d = cost_batch(mask, ctx, depth, n);
		if (!d)
			return 0;
		if (d < best)
			best = d;
	}
	return best;
}

/*
 * A request for mask and its baseline (the same with an empty mask),
 * in alternating batches: the fastest of COST_PAIR_BATCHES of each in
 * *req and *base. With twa, a third batch in turn: the same empty request
 * plus task_work_add() of an empty work with the request's notify mode
 * (struct ut_step.twa), the base kernel's part of a request; *twa is 0
 * when the module cannot (no TWA_NMI_CURRENT). With model, a fourth: the
 * same with a work that does a request's work with the module's code
 * (twa 2: walk, SRCU read side, a ring record). Returns 0 when a request
 * failed.
 */
static int cost_pair(uint64_t mask, int ctx, int n, uint64_t *base, uint64_t *req,
		     uint64_t *twa, uint64_t *model)
{
	uint64_t d, *best[4] = { base, req, twa, model };
	int b, k, kinds = twa ? (model ? 4 : 3) : 2;

	for (k = 0; k < kinds; k++)
		*best[k] = ~0ULL;
	for (b = 0; b < COST_PAIR_BATCHES; b++) {
		for (k = 0; k < kinds; k++) {
			if (!best[k])
				continue;
			d = cost_batch_twa(k == 1 ? mask : 0, ctx, 1, n, k >= 2 ? k - 1 : 0);
			if (!d) {
				if (k < 2)
					return 0;
				/* no task_work_add() baseline: the rest stands */
				*best[k] = 0;
				best[k] = NULL;
				continue;
			}
			if (d < *best[k])
				*best[k] = d;
		}
	}
	return 1;
}

/*
 * The walk's cost: requests from COST_DEEP frames and from one, in
 * alternating batches as cost_pair() takes them, the fastest of
 * COST_PAIR_BATCHES of each. Taken apart, a slow spell of the host fell
 * on one of the two only, and a walk of a few hundred ns a frame was
 * lost in it. Returns 0 when a request failed.
 */
static int cost_depths(uint64_t mask, int n, uint64_t *one, uint64_t *deep)
{
	uint64_t d, *best[2] = { one, deep };
	int b, k;

	*one = *deep = ~0ULL;
	for (b = 0; b < COST_PAIR_BATCHES; b++) {
		for (k = 0; k < 2; k++) {
			d = cost_batch(mask, UT_CTX_TASK, k ? COST_DEEP : 1, n);
			if (!d)
				return 0;
			if (d < *best[k])
				*best[k] = d;
		}
	}
	return 1;
}

/*
 * Fastest per-word time of get_user() in the kernel: n ioctls reading
 * COST_WORDS + 1 words against n reading one, as the walk per frame is
 * measured. With op UT_UACCESS_LOCKS, the same for one SRCU read lock and
 * one raw spinlock with interrupts saved, taken and released (lockdep
 * tracks both): lock_pair_ns. Returns 0 when the module cannot do it.
 */
static uint64_t cost_uaccess(int n, uint64_t op)
{
	unsigned long words[COST_WORDS + 1];
	uint64_t best[2] = { ~0ULL, ~0ULL };
	struct ut_uaccess u;
	int b, i, k;

	for (i = 0; i <= COST_WORDS; i++)
		words[i] = i;
	for (b = 0; b < COST_BATCHES; b++) {
		for (k = 0; k < 2; k++) {
			uint64_t t0 = mono_ns(), d;

			for (i = 0; i < n; i++) {
				u.addr = (uintptr_t)words;
				u.nwords = k ? COST_WORDS + 1 : 1;
				u.op = op;
				if (ioctl(dev_fd, UT_IOC_UACCESS, &u))
					return 0;
			}
			d = (mono_ns() - t0) / n;
			if (d < best[k])
				best[k] = d;
		}
	}
	return best[1] > best[0] ? (best[1] - best[0]) / COST_WORDS : 0;
}

static uint64_t cost_get_user(int n)
{
	return cost_uaccess(n, 0);
}

/*
 * The same syscall figure in a child that never made a request: its
 * unwind state is untouched, so the difference to syscall_idle_ns is what
 * the idle infrastructure costs a task that has used it.
 */
static uint64_t cost_syscall_fresh(int n)
{
	uint64_t v = 0;
	int p[2], status;
	pid_t pid;

	if (pipe(p))
		return 0;
	pid = fork();
	if (pid == 0) {
		v = cost_syscall(n);
		if (write(p[1], &v, sizeof(v)) != sizeof(v))
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	if (pid < 0 || read(p[0], &v, sizeof(v)) != sizeof(v))
		v = 0;
	close(p[0]);
	if (pid > 0)
		waitpid(pid, &status, 0);
	return v;
}

/*
 * The figures that do not need the deferred unwind API, so that a kernel
 * without the series (the same base before kgen apply) gives them too.
 */
static void cost_get_user_figure(void)
{
	uint64_t gu;

	if (dev_fd < 0)
		return;
	gu = cost_get_user(200);
	if (gu)
		diag("cost: get_user_ns %llu", (unsigned long long)gu);
	gu = cost_uaccess(200, UT_UACCESS_LOCKS);
	if (gu)
		diag("cost: lock_pair_ns %llu", (unsigned long long)gu);
}

static void cost_base_figures(void)
{
	uint64_t fresh = cost_syscall_fresh(20000);

	if (fresh)
		diag("cost: syscall_never_requested_ns %llu",
		     (unsigned long long)fresh);
	cost_get_user_figure();
}

static void cost_figures(void)
{
	uint64_t id, sys, fresh, t1, d1, t32, n1, null_task, null_nmi, twa_task, twa_nmi;
	uint64_t model_task, model_nmi;

	if (need_tracers(1, &id))
		return;
	/* one request first: the task's unwind state exists, then idles */
	t1 = cost_request(1ULL << id, UT_CTX_TASK, 1, 1, COST_BATCHES);
	CHECK(t1 != 0, "a task-context request failed");
	if (case_failed)
		return;
	CHECK(cost_syscall_pair(5000, &sys, &fresh), "the syscall figures' child did not run");
	if (case_failed)
		return;
	diag("cost: syscall_never_requested_ns %llu", (unsigned long long)fresh);
	cost_get_user_figure();
	if (!cost_pair(1ULL << id, UT_CTX_TASK, 100, &null_task, &t1, &twa_task, &model_task))
		null_task = 0;
	if (!cost_depths(1ULL << id, 100, &d1, &t32))
		d1 = t32 = 0;
	CHECK(null_task && t1 && d1 && t32, "a task-context request failed");
	if (case_failed)
		return;
	diag("cost: syscall_idle_ns %llu", (unsigned long long)sys);
	diag("cost: ioctl_null_ns %llu", (unsigned long long)null_task);
	diag("cost: request_task_ns %llu", (unsigned long long)t1);
	diag("cost_figures: requests from 1 and from %d frames: %llu and %llu ns",
	     COST_DEEP, (unsigned long long)d1, (unsigned long long)t32);
	diag("cost: walk_per_frame_ns %llu", (unsigned long long)
	     (t32 > d1 ? (t32 - d1) / (COST_DEEP - 1) : 0));
	if (twa_task)
		diag("cost: ioctl_twa_ns %llu", (unsigned long long)twa_task);
	if (model_task)
		diag("cost: ioctl_model_ns %llu", (unsigned long long)model_task);
	if (!info.have_nmi)
		return;
	if (!cost_pair(1ULL << id, UT_CTX_NMI, 50, &null_nmi, &n1, &twa_nmi, &model_nmi))
		null_nmi = n1 = 0;
	CHECK(null_nmi != 0 && n1 != 0, "an NMI request failed");
	if (null_nmi)
		diag("cost: nmi_null_ns %llu", (unsigned long long)null_nmi);
	if (n1)
		diag("cost: request_nmi_ns %llu", (unsigned long long)n1);
	if (n1 && twa_nmi)
		diag("cost: nmi_twa_ns %llu", (unsigned long long)twa_nmi);
	if (n1 && model_nmi)
		diag("cost: nmi_model_ns %llu", (unsigned long long)model_nmi);
	/* the frames a request's walk gives here (from its callback's record) */
	if (cost_batch(1ULL << id, UT_CTX_NMI, 1, 1)) {
		int i;

		for (i = 0; i < nrecs; i++)
			if (!(recs[i].flags & UT_REC_REQLOG)) {
				diag("cost_figures: a request's walk gives %llu frames",
				     (unsigned long long)recs[i].nr);
				break;
			}
	}
}

/*
 * The figures on one vCPU (the child of cost_syscall_pair inherits it):
 * each vCPU is a host thread that a loaded host may keep waiting more
 * than the other. The two syscall figures, taken by two processes that
 * the scheduler may put on different vCPUs, once differed by 1.65 times
 * on 7.2 while they agreed within 3% in three other runs.
 */
static void t_cost(void)
{
	cpu_set_t old, one;

	if (sched_getaffinity(0, sizeof(old), &old)) {
		cost_figures();
		return;
	}
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu() >= 0 ? sched_getcpu() : 0, &one);
	sched_setaffinity(0, sizeof(one), &one);
	cost_figures();
	sched_setaffinity(0, sizeof(old), &old);
}

/* ------------------------------------------------------------------ */
/* Suites                                                              */

struct tcase {
	const char *name;
	void (*fn)(void);
};

static const struct tcase unwind_cases[] = {
	{ "task_request", t_task_request },
	{ "nmi_request", t_nmi_request },
	{ "irq_request", t_irq_request },
	{ "cookie_same_within_entry", t_cookie_same_within_entry },
	{ "cookie_new_each_entry", t_cookie_new_each_entry },
	{ "return_values", t_return_values },
	{ "several_tracers_only_requesters", t_several_tracers },
	{ "completed_mask_once_per_entry", t_completed_mask },
	{ "cancel_pending_and_bit_reuse", t_cancel },
	{ "cancel_waits_for_running_callback", t_cancel_waits_for_callback },
	{ "bits_exhausted_ebusy", t_bits_exhausted },
	{ "kthread_refused", t_kthread_refused },
	{ "compat_task_refused", t_compat_refused },
	{ "exit_with_request_pending", t_exit_with_pending },
	{ "fork_child_starts_clean", t_fork_child_clean },
	{ "hostile_fp_cycle", t_hostile_cycle },
	{ "hostile_fp_kernel_address", t_hostile_kernel },
	{ "hostile_fp_unaligned", t_hostile_unaligned },
	{ "hostile_fp_unmapped", t_hostile_unmapped },
	{ "hostile_deep_chain", t_hostile_deep },
	{ "task_work_add_no_alloc", t_task_work_no_alloc },
	{ "reset_window_nmi_request", t_reset_window },
	{ "stress_nmi_syscalls", t_stress },
	{ "cost_figures", t_cost },
};
#define NCASES (sizeof(unwind_cases) / sizeof(unwind_cases[0]))

static const char *only_case;	/* unwind-selftest CASE: run one case */

static int load_module(char *why, size_t len)
{
	int fd = open(MODULE_PATH, O_RDONLY | O_CLOEXEC);

	if (fd < 0) {
		snprintf(why, len, "open %s: %s", MODULE_PATH, strerror(errno));
		return -1;
	}
	if (syscall(SYS_finit_module, fd, "", 0) && errno != EEXIST) {
		snprintf(why, len, "finit_module %s: %s (see the console log)",
			 MODULE_PATH, strerror(errno));
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* Returns 0 pass, 1 fail. Prints the suite as a nested KTAP subtest. */
static int suite_unwind(int num)
{
	char why[200] = "";
	unsigned int i, n = 0, failed = 0;
	struct timespec t0, t1;

	out_line(4, "KTAP version 1");
	out_line(4, "# Subtest: unwind_deferred");
	for (i = 0; i < NCASES; i++)
		if (!only_case || !strcmp(only_case, unwind_cases[i].name))
			n++;
	out_line(4, "1..%u", n);

	if (load_module(why, sizeof(why)) == 0) {
		dev_fd = open(DEV_PATH, O_RDWR | O_CLOEXEC);
		if (dev_fd < 0)
			snprintf(why, sizeof(why), "open %s: %s", DEV_PATH,
				 strerror(errno));
		else if (ioctl(dev_fd, UT_IOC_INFO, &info))
			snprintf(why, sizeof(why), "UT_IOC_INFO: %s",
				 strerror(errno));
		else if (info.version != UT_VERSION)
			snprintf(why, sizeof(why), "module version %llu, want %d",
				 (unsigned long long)info.version, UT_VERSION);
		else if (!info.api)
			snprintf(why, sizeof(why), "the kernel lacks the deferred "
				 "unwind API: %s", info.why);
	}
	if (!why[0])
		out_line(4, "# module: %llu CPUs, NMI %s, fork probe %s, do_exit %s",
			 (unsigned long long)info.nr_cpus,
			 info.have_nmi ? "yes" : "no",
			 info.have_fork_probe ? "yes" : "no",
			 info.have_exit ? "yes" : "no");

	n = 0;
	for (i = 0; i < NCASES; i++) {
		const struct tcase *c = &unwind_cases[i];
		long ms;

		if (only_case && strcmp(only_case, c->name))
			continue;
		n++;
		if (why[0]) {
			/* a kernel without the series: its own base figures */
			if (c->fn == t_cost)
				cost_base_figures();
			out_line(4, "ok %u %s # SKIP %s", n, c->name, why);
			continue;
		}
		case_failed = 0;
		case_skip[0] = 0;
		clock_gettime(CLOCK_MONOTONIC, &t0);
		c->fn();
		clock_gettime(CLOCK_MONOTONIC, &t1);
		ms = (t1.tv_sec - t0.tv_sec) * 1000 +
		     (t1.tv_nsec - t0.tv_nsec) / 1000000;
		out_line(IND, "# %s: %ld ms", c->name, ms);
		if (case_failed) {
			failed++;
			out_line(4, "not ok %u %s", n, c->name);
		} else if (case_skip[0]) {
			out_line(4, "ok %u %s # SKIP %s", n, c->name, case_skip);
		} else {
			out_line(4, "ok %u %s", n, c->name);
		}
	}
	if (dev_fd >= 0)
		reset_module();
	if (failed)
		out_line(0, "not ok %d unwind_deferred", num);
	else
		out_line(0, "ok %d unwind_deferred", num);
	return failed != 0;
}

/*
 * External suites: static programs in the initramfs that print a KTAP v1
 * document on stdout (contract in ../README.md). Their lines are re-emitted
 * indented as a subtest; lines that are not KTAP become diagnostics.
 */
struct ext_suite {
	const char *name;
	const char *path;
	int timeout_s;
	int cost;	/* prints cost figures: runs in cost mode too */
};

static const struct ext_suite ext_suites[] = {
	{ "perf", "/bin/perf-selftest", 120, 0 },
	{ "sframe", "/bin/sframe-selftest", 300, 0 },
	{ "perftool", "/bin/perf-tool-selftest", 480, 1 },
};

/*
 * Cost mode ("cost" on the kernel command line, kcheck bench --icount):
 * only the cases that print cost figures run, cost_figures here and the
 * perftool suite's defer_overhead (told by KDEFER_COST_ONLY); the other
 * suites report SKIP.
 */
static int cost_mode;
#define NEXT (sizeof(ext_suites) / sizeof(ext_suites[0]))

static int is_ktap_line(const char *s)
{
	return !strncmp(s, "KTAP version", 12) || !strncmp(s, "ok ", 3) ||
	       !strncmp(s, "not ok ", 7) || !strncmp(s, "1..", 3) ||
	       s[0] == '#' || s[0] == ' ' || s[0] == '\0';
}

static int suite_external(int num, const struct ext_suite *e)
{
	char buf[4096], line[1024], skipwhy[200] = "";
	int pfd[2], status = 0, len = 0, timed_out = 0, saw_plan = 0;
	struct timespec t0, t1;
	pid_t pid;

	if (access(e->path, X_OK)) {
		out_line(0, "ok %d %s # SKIP %s not in the initramfs", num,
			 e->name, e->path);
		return 0;
	}
	if (cost_mode && !e->cost) {
		out_line(0, "ok %d %s # SKIP cost figures only", num, e->name);
		return 0;
	}
	if (pipe(pfd)) {
		out_line(0, "not ok %d %s # pipe: %s", num, e->name,
			 strerror(errno));
		return 1;
	}
	pid = fork();
	if (pid == 0) {
		dup2(pfd[1], 1);
		dup2(pfd[1], 2);
		close(pfd[0]);
		close(pfd[1]);
		execl(e->path, e->path, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	fcntl(pfd[0], F_SETFL, O_NONBLOCK);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		ssize_t r = read(pfd[0], buf, sizeof(buf));
		int i;

		if (r == 0)
			break;
		if (r < 0) {
			if (errno != EAGAIN && errno != EINTR)
				break;
			clock_gettime(CLOCK_MONOTONIC, &t1);
			if (t1.tv_sec - t0.tv_sec > e->timeout_s) {
				kill(pid, SIGKILL);
				timed_out = 1;
				break;
			}
			usleep(20 * 1000);
			continue;
		}
		for (i = 0; i < r; i++) {
			if (buf[i] != '\n' && len < (int)sizeof(line) - 1) {
				line[len++] = buf[i];
				continue;
			}
			if (buf[i] != '\n')
				continue;
			line[len] = 0;
			len = 0;
			if (!strncmp(line, "1..", 3))
				saw_plan = 1;
			if (!strncmp(line, "# SKIP", 6))
				snprintf(skipwhy, sizeof(skipwhy), "%.190s", line + 6);
			if (is_ktap_line(line))
				out_line(4, "%s", line);
			else
				out_line(4, "# %s", line);
		}
	}
	close(pfd[0]);
	waitpid(pid, &status, 0);
	if (timed_out) {
		out_line(0, "not ok %d %s # timeout after %d s", num, e->name,
			 e->timeout_s);
		return 1;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77) {
		out_line(0, "ok %d %s # SKIP%s", num, e->name,
			 skipwhy[0] ? skipwhy : " the suite skipped itself");
		return 0;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && saw_plan) {
		out_line(0, "ok %d %s", num, e->name);
		return 0;
	}
	out_line(4, "# %s: exit status %#x%s", e->path, status,
		 saw_plan ? "" : ", no KTAP plan printed");
	out_line(0, "not ok %d %s", num, e->name);
	return 1;
}

/* ------------------------------------------------------------------ */

static void setup_init(void)
{
	mkdir("/dev", 0755);
	mkdir("/proc", 0555);
	mkdir("/sys", 0555);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	mount("proc", "/proc", "proc", 0, NULL);
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	if (fcntl(1, F_GETFD) < 0) {
		int fd = open("/dev/console", O_RDWR);

		if (fd >= 0) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
			if (fd > 2)
				close(fd);
		}
	}
}

int main(int argc, char **argv)
{
	int pid1 = getpid() == 1, failed = 0, num = 1;
	unsigned int i;
	struct timespec t0, t1;
	const char *s;

	if (pid1)
		setup_init();
	if (argc > 1)
		only_case = argv[1];
	if (only_case && !strcmp(only_case, "cost")) {
		cost_mode = 1;
		only_case = "cost_figures";
		setenv("KDEFER_COST_ONLY", "1", 1);
	}
	s = getenv("UNWIND_STRESS_SECONDS");
	if (s && atoi(s) > 0)
		stress_seconds = atoi(s);
	clock_gettime(CLOCK_MONOTONIC, &t0);

	out_line(0, "KTAP version 1");
	out_line(0, "1..%u", (unsigned int)(1 + NEXT));
	failed |= suite_unwind(num++);
	for (i = 0; i < NEXT; i++)
		failed |= suite_external(num++, &ext_suites[i]);

	clock_gettime(CLOCK_MONOTONIC, &t1);
	out_line(0, "# kdefer-selftest: %s in %ld ms", failed ? "FAIL" : "PASS",
		 (long)((t1.tv_sec - t0.tv_sec) * 1000 +
			(t1.tv_nsec - t0.tv_nsec) / 1000000));
	if (pid1) {
		sync();
		/*
		 * Power off needs ACPI on x86; without it, restart: the harness
		 * runs QEMU with -no-reboot, so a restart ends QEMU as well.
		 */
		if (access("/sys/firmware/acpi", F_OK) == 0)
			reboot(RB_POWER_OFF);
		reboot(RB_AUTOBOOT);
		for (;;)
			pause();
	}
	return failed;
}
