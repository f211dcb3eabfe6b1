// SPDX-License-Identifier: GPL-2.0
/*
 * sframe-selftest: user stacks of a program built without frame pointers,
 * walked by the kernel with the program's SFrame section, checked through
 * the unwind_deferred test module (/dev/unwind_test).
 *
 * Build (a binutils that writes SFrame version 2, see internal/toolchain):
 *   gcc -O2 -fomit-frame-pointer -Wa,--gsframe -static -pthread
 *       -I qemu-tests/module -o sframe-selftest sframe-selftest.c
 *
 * Prints one KTAP v1 document; exit 0 when every case passed, 77 when the
 * kernel has no SFrame support (the whole suite is skipped).
 *
 * The known chains store their return addresses (__builtin_return_address
 * works without frame pointers) and end in a syscall made from inline
 * assembly followed by a global label, so the expected user trace is exact.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <elf.h>
#include <time.h>
#include <unistd.h>

#include "chain.h"
#include "perf_defer.h"
#include "unwind_test_uapi.h"

#ifndef PR_ADD_SFRAME
#define PR_ADD_SFRAME		0x53460001
#define PR_REMOVE_SFRAME	0x53460002
#endif
#ifndef PT_GNU_SFRAME
#define PT_GNU_SFRAME		(PT_LOOS + 0x474e554)
#endif


static int failures, test_no;
static int dev_fd = -1;
static uint64_t tracer;

static void ktap(int ok, const char *name, const char *skip)
{
	test_no++;
	if (!ok)
		failures++;
	if (skip)
		printf("ok %d %s # SKIP %s\n", test_no, name, skip);
	else
		printf("%s %d %s\n", ok ? "ok" : "not ok", test_no, name);
	fflush(stdout);
}

static void diag(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	printf("# %s\n", buf);
	fflush(stdout);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/* The program's own SFrame section, from its program headers */
static unsigned long sf_start, sf_end;

static int find_own_sframe(void)
{
	const Elf64_Phdr *ph = (const Elf64_Phdr *)getauxval(AT_PHDR);
	unsigned long n = getauxval(AT_PHNUM), bias = 0, i;

	if (!ph)
		return -1;
	for (i = 0; i < n; i++)
		if (ph[i].p_type == PT_PHDR)
			bias = (unsigned long)ph - ph[i].p_vaddr;
	for (i = 0; i < n; i++) {
		if (ph[i].p_type == PT_GNU_SFRAME) {
			sf_start = bias + ph[i].p_vaddr;
			sf_end = sf_start + ph[i].p_memsz;
			return 0;
		}
	}
	return -1;
}

static long add_sframe(unsigned long s, unsigned long e, unsigned long ts,
		       unsigned long te)
{
	return prctl(PR_ADD_SFRAME, s, e, ts, te) ? -errno : 0;
}

static long remove_sframe(unsigned long s)
{
	return prctl(PR_REMOVE_SFRAME, s, 0, 0, 0) ? -errno : 0;
}

/* ---- the known chains ---- */

#define MAXCHAIN 60
extern char sf_after_syscall[];
static void *volatile expect[MAXCHAIN];
static volatile int nexpect;

/* The leaf: no call, a syscall from inline assembly. */
DEFINE_CHAIN_SYSCALL(sf_syscall, sf_after_syscall, expect[1])

struct call {
	long nr, a, b, c;
	int depth;	/* levels of recursion left */
};

static long sf_level(struct call *k, int slot);

/*
 * At the end of a chain (its depth used up, or expect[] full) the level
 * makes the syscall itself, not as a tail call, so that it keeps its
 * frame: the result goes to *r and chain_end() returns 1. Inlined, so
 * that the syscall is made from the level's own frame.
 */
static inline ALWAYS_INLINE int chain_end(struct call *k, int slot, long *r)
{
	if (slot < MAXCHAIN - 4 && k->depth--)
		return 0;
	nexpect = slot + 1;
	*r = sf_syscall(k->nr, k->a, k->b, k->c);
	BARRIER();
	return 1;
}

/* A frame with a big local array: the CFA is far from the stack pointer */
DEFINE_CHAIN_BIG_FRAME(sf_big_frame, struct call *, sf_level, expect, 700)

/* A frame that keeps many values live across the call: pushes callee-saved registers */
static NOINLINE long sf_many_regs(struct call *k, int slot)
{
	long a = k->a * 3, b = k->b ^ 5, c = k->c + 7, d = a * b, e = b - c, f = c | a;
	long r;

	expect[slot] = __builtin_return_address(0);
	r = sf_level(k, slot + 1);
	BARRIER();
	return r + ((a + b + c + d + e + f) & 0);
}

/* A variable-length array: gcc sets up %rbp and the CFA follows it */
static NOINLINE long sf_vla(struct call *k, int slot)
{
	volatile char v[16 + (k->depth & 7)];
	long r;

	v[0] = 1;
	expect[slot] = __builtin_return_address(0);
	r = sf_level(k, slot + 1);
	BARRIER();
	return r + v[0] - 1;
}

/*
 * A function in assembly without CFI, so without an FDE: SFrame cannot
 * describe it. It keeps a frame pointer frame, so the walk goes on with
 * frame pointers for this frame (mixed).
 */
long sf_fp_frame(struct call *k, int slot, long (*next)(struct call *, int));
extern char sf_fp_frame_ret[];
void *volatile sf_fp_ra;
asm(".text\n"
    ".globl sf_fp_frame\n"
    ".type sf_fp_frame, @function\n"
    "sf_fp_frame:\n\t"
    "mov (%rsp), %rax\n\t"
    "mov %rax, sf_fp_ra(%rip)\n\t"
    "push %rbp\n\t"
    "mov %rsp, %rbp\n\t"
    "call *%rdx\n"
    ".globl sf_fp_frame_ret\n"
    "sf_fp_frame_ret:\n\t"
    "pop %rbp\n\t"
    "ret\n"
    ".size sf_fp_frame, .-sf_fp_frame\n");

static NOINLINE long sf_after_fp(struct call *k, int slot)
{
	long r;

	/* the return address of sf_fp_frame is known only inside it */
	expect[slot - 1] = sf_fp_ra;
	expect[slot] = __builtin_return_address(0);
	r = sf_level(k, slot + 1);
	BARRIER();
	return r;
}

static int use_fp_frame;

/* The same kind of chain built with frame pointers (for the cost figure) */
__attribute__((noinline, noclone, optimize("no-omit-frame-pointer")))
static long fp_rec(struct call *k, int slot)
{
	long r;

	expect[slot] = __builtin_return_address(0);
	if (chain_end(k, slot, &r))
		return r;
	r = fp_rec(k, slot + 1);
	BARRIER();
	return r;
}

static int use_fp_chain;

static NOINLINE long sf_level(struct call *k, int slot)
{
	long r;

	expect[slot] = __builtin_return_address(0);
	if (chain_end(k, slot, &r))
		return r;
	switch (k->depth % 4) {
	case 0:
		r = sf_big_frame(k, slot + 1);
		break;
	case 1:
		r = sf_many_regs(k, slot + 1);
		break;
	case 2:
		if (use_fp_frame) {
			/* the assembly frame takes slot + 1 */
			r = sf_fp_frame(k, slot + 2, sf_after_fp);
			break;
		}
		r = sf_vla(k, slot + 1);
		break;
	default:
		r = sf_vla(k, slot + 1);
		break;
	}
	BARRIER();
	return r;
}

/*
 * The syscall goes through @depth levels. expect[0] is the user IP at the
 * syscall, expect[1] the return address of the leaf, and so on; the
 * chain's return addresses end at the return into this function's caller.
 */
static NOINLINE long chain_syscall(int depth, long nr, long a, long b, long c)
{
	struct call k = { nr, a, b, c, depth };
	long r;

	memset((void *)expect, 0, sizeof(expect));
	expect[0] = sf_after_syscall;
	r = use_fp_chain ? fp_rec(&k, 2) : sf_level(&k, 2);
	BARRIER();
	return r;
}

/*
 * Every level of the chain above stores its return address, from
 * expect[2] (the outermost) inwards; the leaf stores expect[1]. Put them
 * in trace order: expect[0], expect[1], then expect[nexpect-1] ...
 * expect[2].
 */
static int expected_trace(unsigned long *out)
{
	int n = 0, i;

	out[n++] = (unsigned long)expect[0];
	out[n++] = (unsigned long)expect[1];
	for (i = nexpect - 1; i >= 2; i--)
		out[n++] = (unsigned long)expect[i];
	return n;
}

/* ---- the module ---- */

static struct ut_record rec;

static int reg_tracer(void)
{
	struct ut_register r = { .count = 1 };

	if (ioctl(dev_fd, UT_IOC_REGISTER, &r) || r.nr != 1 || r.ret[0])
		return -1;
	tracer = r.id[0];
	return 0;
}

/*
 * One request from task context through a chain of @depth levels; the
 * callback's record is read back into rec. Returns 0 when exactly one
 * callback came.
 */
static int request_chain(int depth, unsigned long *exp, int *nexp)
{
	struct ut_request rq;
	struct ut_read rd;
	static struct ut_record recs[8];
	long r;
	int i, found = 0;

	memset(&rq, 0, sizeof(rq));
	rq.nsteps = 1;
	rq.step[0].mask = 1ULL << tracer;
	rq.step[0].ctx = UT_CTX_TASK;
	r = chain_syscall(depth, SYS_ioctl, dev_fd, UT_IOC_REQUEST, (long)&rq);
	if (exp)
		*nexp = expected_trace(exp);
	if (r || rq.step[0].ret[tracer])
		return -1;
	memset(&rd, 0, sizeof(rd));
	rd.buf = (uintptr_t)recs;
	rd.max = 8;
	if (ioctl(dev_fd, UT_IOC_READ, &rd))
		return -1;
	for (i = 0; i < (int)rd.count; i++) {
		if (recs[i].flags & UT_REC_REQLOG || recs[i].tracer != tracer)
			continue;
		rec = recs[i];
		found++;
	}
	return found == 1 ? 0 : -1;
}

/* How many leading entries of the record match the expected trace */
static int matching(const unsigned long *exp, int n)
{
	int i;

	for (i = 0; i < n && i < (int)rec.nr && i < UT_NR_COPY; i++)
		if (rec.entries[i] != exp[i])
			break;
	return i;
}

/* Set while walks are expected to differ (fuzz, frame pointers only, timing) */
static int quiet;

static void dump_mismatch(const unsigned long *exp, int n)
{
	int i;

	if (quiet)
		return;
	for (i = 0; i < n || i < (int)rec.nr; i++) {
		if (i >= UT_NR_COPY || i > n + 2)
			break;
		diag("  [%d] expected %#lx found %#llx", i, i < n ? exp[i] : 0,
		     i < (int)rec.nr ? (unsigned long long)rec.entries[i] : 0ULL);
	}
}

/* ---- cases ---- */

static int whole_chain(int depth, int *got, int *want)
{
	unsigned long exp[MAXCHAIN];
	int n;

	if (request_chain(depth, exp, &n))
		return -1;
	*got = matching(exp, n);
	*want = n;
	if (*got != n)
		dump_mismatch(exp, n);
	return *got == n ? 0 : 1;
}

static void t_registered_at_exec(void)
{
	long r = add_sframe(sf_start, sf_end, 0, 0);

	if (r != -EEXIST)
		diag("PR_ADD_SFRAME of the program's own section: %ld, expected -EEXIST (registered at exec)", r);
	ktap(r == -EEXIST, "registered_at_exec", NULL);
}

static void t_deep_chain(void)
{
	int got = 0, want = 0, ok = 1, depth;

	use_fp_frame = 0;
	for (depth = 1; depth <= 30 && ok; depth += 7) {
		if (whole_chain(depth, &got, &want)) {
			diag("depth %d: %d of %d entries match", depth, got, want);
			ok = 0;
		}
	}
	if (ok)
		diag("chains of 1 to 29 levels (big frames, saved registers, VLAs) walked whole");
	ktap(ok, "deep_chain_sframe", NULL);
}

static void t_fp_only(void)
{
	int got_fp = 0, got_sf = 0, want = 0, r1, r2;
	long rm, add;

	use_fp_frame = 0;
	rm = remove_sframe(sf_start);
	quiet = 1;
	r1 = whole_chain(12, &got_fp, &want);
	quiet = 0;
	add = add_sframe(sf_start, sf_end, 0, 0);
	r2 = whole_chain(12, &got_sf, &want);
	diag("same chain of %d entries: frame pointers only %d, with SFrame %d",
	     want, got_fp, got_sf);
	ktap(!rm && !add && r1 > 0 && !r2 && got_fp < got_sf,
	     "fp_only_side_by_side", NULL);
}

static void t_mixed(void)
{
	int got = 0, want = 0, r;

	use_fp_frame = 1;
	r = whole_chain(14, &got, &want);
	use_fp_frame = 0;
	diag("chain through an assembly frame without FDE: %d of %d entries", got, want);
	ktap(!r, "mixed_sframe_and_fp", NULL);
}

static volatile int sig_ok, sig_got, sig_want;

static void on_signal(int sig)
{
	int got = 0, want = 0;

	(void)sig;
	sig_ok = whole_chain(5, &got, &want) == 0;
	sig_got = got;
	sig_want = want;
}

static void t_signal(void)
{
	struct sigaction sa = { .sa_handler = on_signal };

	sigaction(SIGUSR1, &sa, NULL);
	sig_ok = 0;
	raise(SIGUSR1);
	diag("request in a signal handler: %d of %d entries up to the handler", sig_got, sig_want);
	ktap(sig_ok, "signal_handler_chain", NULL);
}

/* Register/unregister racing with munmap of the section from another thread */
static volatile int race_stop;
static unsigned char *race_buf;
static size_t race_len;

static void *race_unmapper(void *arg)
{
	(void)arg;
	while (!race_stop) {
		unsigned char *p = mmap(race_buf, race_len, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		if (p != MAP_FAILED) {
			memcpy(p, (void *)sf_start, sf_end - sf_start);
			munmap(p, race_len);
		}
	}
	return NULL;
}

static void t_race_munmap(void)
{
	long counts[4] = { 0 }, bad = 0, r;
	uint64_t end = now_ns() + 2000000000ULL;
	pthread_t th;
	int got, want, walks = 0, it = 0;

	race_len = (sf_end - sf_start + 4095) & ~4095UL;
	race_buf = mmap(NULL, race_len, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	race_stop = 0;
	quiet = 1;
	pthread_create(&th, NULL, race_unmapper, NULL);
	while (now_ns() < end) {
		r = add_sframe((unsigned long)race_buf,
			       (unsigned long)race_buf + (sf_end - sf_start), 0, 0);
		if (!r)
			counts[0]++;
		else if (r == -EFAULT || r == -EINVAL)
			counts[1]++;
		else
			bad++;
		r = remove_sframe((unsigned long)race_buf);
		if (!r)
			counts[2]++;
		else if (r == -ENOENT)
			counts[3]++;
		else
			bad++;
		if (!(++it % 8) && whole_chain(6, &got, &want) >= 0)
			walks++;
	}
	race_stop = 1;
	pthread_join(th, NULL);
	quiet = 0;
	/* Without the race: a registered copy is dropped by its munmap */
	{
		unsigned char *p = mmap(race_buf, race_len, PROT_READ | PROT_WRITE,
					MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
		long add = -1, rm = 0;

		if (p != MAP_FAILED) {
			memcpy(p, (void *)sf_start, sf_end - sf_start);
			add = add_sframe((unsigned long)p, (unsigned long)p + (sf_end - sf_start), 0, 0);
			munmap(p, race_len);
			rm = remove_sframe((unsigned long)p);
		}
		diag("add: %ld ok, %ld refused; remove: %ld ok, %ld not there; %d walks; %ld unexpected errors; after munmap of a registered copy, remove gives %ld (add %ld)",
		     counts[0], counts[1], counts[2], counts[3], walks, bad, rm, add);
		r = !add && rm == -ENOENT;
	}
	ktap(!bad && r && walks > 0, "register_unregister_racing_munmap", NULL);
}

/*
 * exec with requests pending: NMIs (the module's stress mode, every
 * 500 us on every CPU) request an unwind for a child that execs itself
 * again and again, so that requests land inside execve and are served on
 * the way out of it, with the new mm and its new sections. Every request
 * must be called back once, none lost or matched to the wrong cookie.
 */
static void t_exec_pending(char *self)
{
	struct ut_stress st = { .mask = 1ULL << tracer, .period_us = 500 };
	int status = 0, ok;
	pid_t pid;

	if (tracer >= UT_SUB || ioctl(dev_fd, UT_IOC_STRESS_START, &st)) {
		diag("UT_IOC_STRESS_START: %s (tracer %llu)", strerror(errno),
		     (unsigned long long)tracer);
		ktap(0, "exec_with_request_pending", NULL);
		return;
	}
	pid = fork();
	if (!pid) {
		char *argv[] = { self, "--exec-child", "40", NULL };

		if (ioctl(dev_fd, UT_IOC_STRESS_ENROLL, 0))
			_exit(98);
		execv(self, argv);
		_exit(99);
	}
	waitpid(pid, &status, 0);
	memset(&st, 0, sizeof(st));
	ioctl(dev_fd, UT_IOC_STRESS_STOP, &st);
	diag("exec x40 under NMIs: %llu requests from NMI, %llu queued, %llu callbacks, %llu lost, %llu unmatched, %llu double; child status %#x",
	     (unsigned long long)st.nmi_requests, (unsigned long long)st.queued,
	     (unsigned long long)st.callbacks, (unsigned long long)st.lost,
	     (unsigned long long)st.unmatched, (unsigned long long)st.double_queue,
	     status);
	ok = WIFEXITED(status) && !WEXITSTATUS(status) && st.queued > 0 &&
	     st.queued == st.callbacks && !st.lost && !st.unmatched &&
	     !st.double_queue;
	ktap(ok, "exec_with_request_pending", NULL);
}

/* The child: exec again until @left is 0; a little work in between */
static int exec_child(char *self, int left)
{
	char n[16];
	char *argv[] = { self, "--exec-child", n, NULL };
	volatile unsigned long spin;

	for (spin = 0; spin < 20000; spin++)
		;
	if (left <= 0)
		return 0;
	snprintf(n, sizeof(n), "%d", left - 1);
	execv(self, argv);
	return 3;
}

/* ---- fuzz ---- */

static uint64_t rng = 88172645463325252ULL;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

struct sf_hdr {
	uint16_t magic;
	uint8_t version, flags, abi;
	int8_t fp, ra;
	uint8_t auxlen;
	uint32_t num_fdes, num_fres, fre_len, fdes_off, fres_off;
} __attribute__((packed));

struct sf_fde {
	int32_t start;
	uint32_t size, fres_off, fres_num;
	uint8_t info, rep;
	uint16_t pad;
} __attribute__((packed));

/*
 * A copy of the section placed near the code, with each function start
 * rebased so that the copy describes the program's own code.
 */
static unsigned char *fz;
static size_t fz_len, fz_map;
/* the layout of the pristine section: mutations never write outside it */
static size_t fz_fdes, fz_fres, fz_stride;
static unsigned int fz_nf, fz_v2;

static int fz_fill(void)
{
	struct sf_hdr *h = (struct sf_hdr *)fz;
	long delta;

	memcpy(fz, (void *)sf_start, fz_len);
	delta = (long)sf_start - (long)fz;
	sframe_rebase_starts(fz + fz_fdes, fz_nf, fz_stride, h->version, delta);
	return 0;
}

static void fz_mutate(void)
{
	struct sf_hdr *h = (struct sf_hdr *)fz;
	struct sf_fde *f = (struct sf_fde *)(fz + fz_fdes);
	unsigned int nf = fz_nf, k = rnd() % 10, i, n;
	static const uint32_t extreme[] = { 0, 1, 2, 0x7f, 0x80, 0xff, 0x100, 0xffff,
		0x10000, 0x7fffffff, 0x80000000, 0xfffffff0, 0xffffffff };
	uint32_t x = rnd() % 2 ? extreme[rnd() % 13] : (uint32_t)rnd();

	switch (k) {
	case 0: /* random bytes anywhere */
		n = 1 + rnd() % 8;
		for (i = 0; i < n; i++)
			fz[rnd() % fz_len] ^= 1 << (rnd() % 8);
		break;
	case 1: /* a header field */
		switch (rnd() % 9) {
		case 0: h->num_fdes = x; break;
		case 1: h->num_fres = x; break;
		case 2: h->fre_len = x; break;
		case 3: h->fdes_off = x; break;
		case 4: h->fres_off = x; break;
		case 5: h->auxlen = x; break;
		case 6: h->version = x; break;
		case 7: h->flags = x; break;
		default: h->ra = x; break;
		}
		break;
	case 2: /* an FDE field */
		if (!fz_v2) {
			fz[fz_fdes + rnd() % (nf * fz_stride)] = x;
			break;
		}
		i = rnd() % nf;
		switch (rnd() % 6) {
		case 0: f[i].start += (int32_t)(rnd() % 64) - 32; break;
		case 1: f[i].size = x; break;
		case 2: f[i].fres_off = x; break;
		case 3: f[i].fres_num = x; break;
		case 4: f[i].info = x; break;
		default: f[i].rep = x; break;
		}
		break;
	case 3: /* unsorted or overlapping FDEs */
		if (nf > 1 && fz_v2) {
			struct sf_fde t;

			i = rnd() % (nf - 1);
			t = f[i];
			if (rnd() % 2) {
				f[i] = f[i + 1];
				f[i + 1] = t;
			} else {
				f[i + 1].start = f[i].start + (int32_t)sizeof(*f);
			}
		}
		break;
	case 4: /* FRE bytes: info, offsets (a CFA that does not move, huge, negative) */
	case 5: {
		unsigned char *fre = fz + fz_fres;
		size_t frelen = fz_len - fz_fres;

		if (fz_fres < fz_len)
			fre[rnd() % frelen] = rnd() % 2 ? (uint8_t)x : 0;
		break;
	}
	case 6: /* all FDEs point at the same FREs */
		for (i = 0; fz_v2 && i < nf; i++)
			f[i].fres_off = f[0].fres_off;
		break;
	case 7: /* the same function everywhere */
		for (i = 1; fz_v2 && i < nf; i++)
			f[i].start = f[0].start;
		break;
	default: /* several at once */
		fz_mutate();
		fz_mutate();
		break;
	}
}

static void t_fuzz(void)
{
	long accepted = 0, refused = 0, bad = 0, walks = 0, maxnr = 0, nocb = 0;
	long errs[64] = { 0 };
	unsigned long text = (unsigned long)sf_level;
	uint64_t t0 = now_ns(), shown = t0;
	int iter, nr_iter = 12000;
	long r;

	fz_len = sf_end - sf_start;
	fz_map = (fz_len + 4095) & ~4095UL;
	/* near the code, so that the rebased starts fit in 32 bits */
	fz = mmap((void *)((text + (64UL << 20)) & ~0xfffffUL), fz_map,
		  PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (fz == MAP_FAILED || labs((long)fz - (long)text) > (1L << 30)) {
		ktap(0, "fuzz_sections", NULL);
		diag("no mapping near the code for the section copies");
		return;
	}
	{
		const struct sf_hdr *h = (const struct sf_hdr *)sf_start;

		fz_fdes = sizeof(*h) + h->auxlen + h->fdes_off;
		fz_fres = sizeof(*h) + h->auxlen + h->fres_off;
		fz_nf = h->num_fdes;
		fz_v2 = h->version == 2;
		fz_stride = fz_v2 ? sizeof(struct sf_fde) : 16;
		if (fz_fdes + (size_t)fz_nf * fz_stride > fz_len || !fz_nf) {
			ktap(0, "fuzz_sections", NULL);
			diag("the program's own section does not parse");
			return;
		}
	}
	/* the copies describe the program's code: its own section must go */
	remove_sframe(sf_start);
	quiet = 1;
	for (iter = 0; iter < nr_iter; iter++) {
		int after = iter % 3 == 2, got, want;

		/*
		 * A line every 10 s: on a loaded host this loop takes minutes,
		 * and kcheck ends a guest that prints nothing for its limit.
		 */
		if (now_ns() - shown >= 10000000000ULL) {
			shown = now_ns();
			diag("fuzz: %d of %d sections after %llu ms", iter, nr_iter,
			     (unsigned long long)(shown - t0) / 1000000);
		}
		fz_fill();
		if (!after)
			fz_mutate();
		r = add_sframe((unsigned long)fz, (unsigned long)fz + fz_len, 0, 0);
		if (r) {
			refused++;
			if (-r < 64)
				errs[-r]++;
			if (r != -EINVAL && r != -EFAULT)
				bad++;
			continue;
		}
		accepted++;
		if (after) /* a section that lies after it was checked */
			fz_mutate();
		r = whole_chain(1 + iter % 20, &got, &want);
		if (r < 0)
			nocb++;
		else
			walks++;
		if ((long)rec.nr > maxnr)
			maxnr = rec.nr;
		if (remove_sframe((unsigned long)fz))
			bad++;
	}
	quiet = 0;
	add_sframe(sf_start, sf_end, 0, 0);
	diag("fuzz: %d mutated sections in %llu ms: %ld refused (EINVAL %ld, EFAULT %ld), %ld accepted and walked (%ld callbacks missing), longest trace %ld, %ld unexpected",
	     nr_iter, (unsigned long long)(now_ns() - t0) / 1000000, refused,
	     errs[EINVAL], errs[EFAULT], accepted, nocb, maxnr, bad);
	ktap(!bad && !nocb && walks == accepted && nr_iter >= 10000, "fuzz_sections", NULL);
}

/* ---- cost per frame ---- */

/*
 * Time of a request through a chain of @depth levels, in ns: the mean of
 * the fastest of 10 batches of @n / 10 requests, so that the host's load
 * (TCG shares it) disturbs the figure less.
 */
static uint64_t time_requests(int depth, int n)
{
	uint64_t best = UINT64_MAX, t0, t;
	int got, want, i, b;

	for (b = 0; b < 10; b++) {
		t0 = now_ns();
		for (i = 0; i < n / 10; i++)
			whole_chain(depth, &got, &want);
		t = (now_ns() - t0) / (n / 10);
		if (t < best)
			best = t;
	}
	return best;
}

/*
 * A chain built with frame pointers, walked with SFrame (the section is
 * registered and covers it) and then with frame pointers alone (the
 * section removed): the difference between 33 and 1 levels, per level.
 */
static void t_cost(void)
{
	uint64_t sf1, sf33, fp1, fp33;
	int n = 300, got = 0, want = 0, ok;

	use_fp_frame = 0;
	use_fp_chain = 1;
	ok = !whole_chain(33, &got, &want);
	quiet = 1;
	sf1 = time_requests(1, n);
	sf33 = time_requests(33, n);
	remove_sframe(sf_start);
	fp1 = time_requests(1, n);
	fp33 = time_requests(33, n);
	add_sframe(sf_start, sf_end, 0, 0);
	use_fp_chain = 0;
	quiet = 0;
	diag("cost per frame (fastest of 10 batches of %d requests, TCG): SFrame %lld ns, frame pointers %lld ns (request with 1 level: %llu / %llu ns, with 33: %llu / %llu ns)",
	     n / 10, ((long long)sf33 - (long long)sf1) / 32,
	     ((long long)fp33 - (long long)fp1) / 32,
	     (unsigned long long)sf1, (unsigned long long)fp1,
	     (unsigned long long)sf33, (unsigned long long)fp33);
	ktap(ok, "cost_per_frame", NULL);
}

/* ---- perf: whole chains in deferred callchains ---- */

#define RING_PAGES			128
#define WL_DEPTH			12

/* The workload's code has a section of its own, to tell its samples */
#define WL_TEXT __attribute__((section("wl_text")))
#define WL_LEAF_TEXT __attribute__((section("wl_leaf_text")))
extern char __start_wl_text[], __stop_wl_text[];
extern char __start_wl_leaf_text[], __stop_wl_leaf_text[];
static void *volatile wl_ra[WL_DEPTH + 1];
static volatile unsigned long wl_sink;
static unsigned long wl_spins = 2000000;

static NOINLINE WL_TEXT unsigned long wl_level(int level);

static NOINLINE WL_LEAF_TEXT unsigned long wl_leaf(void)
{
	unsigned long i, x = 1;

	wl_ra[WL_DEPTH] = __builtin_return_address(0);
	for (i = 0; i < wl_spins; i++)
		x = x * 6364136223846793005UL + i;
	return x;
}

/* Levels with a big frame and no frame pointer */
static NOINLINE WL_TEXT unsigned long wl_level(int level)
{
	volatile char pad[232];	/* fixed size: a VLA would set up %rbp */
	unsigned long r;

	pad[0] = level;
	wl_ra[level] = __builtin_return_address(0);
	if (level + 1 == WL_DEPTH)
		r = wl_leaf();
	else
		r = wl_level(level + 1);
	BARRIER();
	return r + pad[0];
}

struct ring {
	int fd;
	struct perf_event_mmap_page *meta;
	unsigned char *data, *copy;
	size_t size, len, cap;
};

static void ring_drain(struct ring *r)
{
	uint64_t head = __atomic_load_n(&r->meta->data_head, __ATOMIC_ACQUIRE);
	uint64_t tail = r->meta->data_tail, n = head - tail, i;

	if (r->len + n > r->cap) {
		r->cap = (r->len + n) * 2;
		r->copy = realloc(r->copy, r->cap);
		if (!r->copy)
			exit(2);
	}
	for (i = 0; i < n; i++)
		r->copy[r->len + i] = r->data[(tail + i) % r->size];
	r->len += n;
	__atomic_store_n(&r->meta->data_tail, head, __ATOMIC_RELEASE);
}

static int in_leaf(uint64_t ip)
{
	return ip >= (uint64_t)(uintptr_t)__start_wl_leaf_text &&
	       ip < (uint64_t)(uintptr_t)__stop_wl_leaf_text;
}

/*
 * Is ips[] the workload's whole chain, from wherever it was sampled? A
 * sample in the leaf must have all WL_DEPTH return addresses (the leaf's
 * own first: a frame pointer walk loses it); one in a level, the return
 * addresses of that level and those above it.
 */
static int wl_whole(const uint64_t *ips, uint64_t nr)
{
	uint64_t k, i;

	for (k = 1; k < nr; k++)
		if (ips[k] == (uint64_t)(uintptr_t)wl_ra[1])
			break;
	if (k >= nr || (in_leaf(ips[0]) && k != WL_DEPTH))
		return 0;
	for (i = 1; i <= k; i++)
		if (k + 1 - i > WL_DEPTH ||
		    ips[i] != (uint64_t)(uintptr_t)wl_ra[k + 1 - i])
			return 0;
	return 1;
}

/* Count the samples that ring_drain() added since the last call */
static void ring_count(struct ring *r, uint64_t *scanned, long *samples)
{
	while (*scanned + sizeof(struct perf_event_header) <= r->len) {
		struct perf_event_header *h = (void *)(r->copy + *scanned);

		if (h->size < sizeof(*h) || *scanned + h->size > r->len)
			break;
		*samples += h->type == PERF_RECORD_SAMPLE;
		*scanned += h->size;
	}
}

/*
 * Sample the workload with task-clock, deferred user callchains, for at
 * least @ms and until @want samples are in; count the samples whose
 * deferred record carries the whole chain. The count, not the span, ends
 * the window: on a loaded host the guest's clock runs on while its vCPU
 * waits, so a second of it (of wall or of CPU time alike) holds fewer
 * samples. A cap of twenty times @ms ends a guest starved for good.
 */
static int perf_whole_chains(unsigned int ms, long want, long *whole,
			     long *total, long *nodefer, long *other, char *why,
			     size_t whylen)
{
	struct perf_event_attr attr;
	long pg = sysconf(_SC_PAGESIZE);
	struct ring r = { .fd = -1 };
	uint64_t start, end, cap, off = 0, scanned = 0;
	long samples = 0;
	void *p;

	perf_sampling_attr(&attr, PERF_COUNT_SW_TASK_CLOCK, 1000000,
			   PERF_SAMPLE_IP | PERF_SAMPLE_TID | PERF_SAMPLE_TIME |
			   PERF_SAMPLE_CPU | PERF_SAMPLE_CALLCHAIN);
	attr.sample_id_all = 1;
	attr.exclude_kernel = 1;
	*perf_attr_flags(&attr) |= (1ULL << ATTR_BIT_DEFER_CALLCHAIN) | (1ULL << ATTR_BIT_DEFER_OUTPUT);
	r.fd = perf_open(&attr, 0, -1);
	if (r.fd < 0) {
		snprintf(why, whylen, "perf_event_open with defer_callchain: %s", strerror(errno));
		return -1;
	}
	r.size = RING_PAGES * pg;
	p = mmap(NULL, r.size + pg, PROT_READ | PROT_WRITE, MAP_SHARED, r.fd, 0);
	if (p == MAP_FAILED) {
		snprintf(why, whylen, "mmap of the ring: %s", strerror(errno));
		close(r.fd);
		return -1;
	}
	r.meta = p;
	r.data = (unsigned char *)p + pg;

	ioctl(r.fd, PERF_EVENT_IOC_ENABLE, 0);
	start = now_ns();
	end = start + ms * 1000000ULL;
	cap = start + 20 * ms * 1000000ULL;
	do {
		wl_sink += wl_level(1);
		ring_drain(&r);
		ring_count(&r, &scanned, &samples);
	} while (now_ns() < cap && (now_ns() < end || samples < want));
	ioctl(r.fd, PERF_EVENT_IOC_DISABLE, 0);
	ring_drain(&r);

	*whole = *total = *nodefer = *other = 0;
	/* samples: ip, pid/tid, time, cpu, nr, ips[nr]; a deferred record:
	 * cookie, nr, ips[nr], pid/tid, time, cpu */
	while (off + sizeof(struct perf_event_header) <= r.len) {
		struct perf_event_header *h = (void *)(r.copy + off);
		const uint64_t *w = (const uint64_t *)(h + 1);
		uint64_t words = (h->size - sizeof(*h)) / 8, nr, i, cookie = 0;

		if (h->size < sizeof(*h) || off + h->size > r.len)
			break;
		if (h->type == PERF_RECORD_SAMPLE && words >= 5 && words >= 5 + w[4]) {
			nr = w[4];
			for (i = 0; i + 1 < nr; i++)
				if (w[5 + i] == CONTEXT_USER_DEFERRED)
					cookie = w[6 + i];
			/* only the samples taken in the workload's code */
			if (!in_leaf(w[0]) &&
			    (w[0] < (uint64_t)(uintptr_t)__start_wl_text ||
			     w[0] >= (uint64_t)(uintptr_t)__stop_wl_text)) {
				(*other)++;
				goto next;
			}
			(*total)++;
			if (!cookie) {
				(*nodefer)++;
			} else {
				/* the deferred record comes after the sample */
				uint64_t o2 = off + h->size;

				while (o2 + sizeof(*h) <= r.len) {
					struct perf_event_header *h2 = (void *)(r.copy + o2);
					const uint64_t *w2 = (const uint64_t *)(h2 + 1);

					if (h2->size < sizeof(*h2))
						break;
					if (h2->type == RECORD_CALLCHAIN_DEFERRED &&
					    w2[0] == cookie) {
						if (h2->size >= sizeof(*h2) + 16 + 8 * w2[1] &&
						    wl_whole(&w2[2], w2[1]))
							(*whole)++;
						break;
					}
					o2 += h2->size;
				}
			}
		}
next:
		off += h->size;
	}
	munmap(p, r.size + pg);
	close(r.fd);
	free(r.copy);
	return 0;
}

static void t_perf(void)
{
	long w_sf = 0, t_sf = 0, n_sf = 0, w_fp = 0, t_fp = 0, n_fp = 0, o_sf = 0, o_fp = 0;
	char why[200] = "";
	int ok;

	if (perf_whole_chains(3000, 300, &w_sf, &t_sf, &n_sf, &o_sf, why, sizeof(why))) {
		ktap(1, "perf_whole_chains", why);
		return;
	}
	remove_sframe(sf_start);
	perf_whole_chains(1500, 100, &w_fp, &t_fp, &n_fp, &o_fp, why, sizeof(why));
	add_sframe(sf_start, sf_end, 0, 0);
	diag("perf task-clock samples with the workload's whole chain (%d levels): SFrame %ld of %ld (%.2f%%), frame pointers only %ld of %ld (%.2f%%); samples without a deferred marker: %ld / %ld; samples outside the workload's code (not counted): %ld / %ld",
	     WL_DEPTH, w_sf, t_sf, t_sf ? 100.0 * w_sf / t_sf : 0.0,
	     w_fp, t_fp, t_fp ? 100.0 * w_fp / t_fp : 0.0, n_sf, n_fp, o_sf, o_fp);
	ok = t_sf >= 100 && w_sf * 100 >= t_sf * 99;
	ktap(ok, "perf_whole_chains", NULL);
}

int main(int argc, char **argv)
{
	struct ut_info info;

	if (argc == 3 && !strcmp(argv[1], "--exec-child"))
		return exec_child(argv[0], atoi(argv[2]));

	printf("KTAP version 1\n");
	if (find_own_sframe()) {
		printf("1..0 # SKIP this program has no PT_GNU_SFRAME segment\n");
		return 77;
	}
	dev_fd = open("/dev/unwind_test", O_RDWR);
	if (dev_fd < 0 || ioctl(dev_fd, UT_IOC_INFO, &info) || !info.api) {
		printf("1..0 # SKIP no unwind_test module with the deferred API\n");
		return 77;
	}
	if (prctl(PR_REMOVE_SFRAME, 0, 0, 0, 0) &&
	    (errno == EINVAL || errno == EOPNOTSUPP)) {
		printf("1..0 # SKIP the kernel has no SFrame support (%s: %s)\n",
		       errno == EINVAL ? "no PR_REMOVE_SFRAME" : "CONFIG_UNWIND_USER_SFRAME is off",
		       strerror(errno));
		return 77;
	}
	ioctl(dev_fd, UT_IOC_RESET, 0);
	if (reg_tracer()) {
		printf("1..0 # SKIP could not register a tracer\n");
		return 77;
	}
	printf("1..10\n");
	t_registered_at_exec();
	t_deep_chain();
	t_fp_only();
	t_mixed();
	t_signal();
	t_race_munmap();
	t_exec_pending(argv[0]);
	t_fuzz();
	t_cost();
	t_perf();
	return failures ? 1 : 0;
}
