// SPDX-License-Identifier: GPL-2.0
/*
 * perf-selftest: deferred user callchains through the real perf syscall and
 * ring buffer (perf_event_attr.defer_callchain / defer_output,
 * PERF_RECORD_CALLCHAIN_DEFERRED, PERF_CONTEXT_USER_DEFERRED).
 *
 * Build: gcc -static -O1 -fno-omit-frame-pointer -pthread
 *        -o perf-selftest perf-selftest.c
 *
 * Prints KTAP on stdout, one subtest per check; exit status 0 when all pass.
 * When run as PID 1 it mounts /proc itself and reboots at the end (QEMU
 * -no-reboot then exits), so it can be booted directly as an initramfs's /init.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/perf_event.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/*
 * The ABI of upstream Linux 7.x, spelled out here so that the program builds
 * against any installed uapi header. internal/uapicheck checks these values
 * against the rendered series and against upstream.
 */
#define ATTR_BIT_DEFER_CALLCHAIN	38
#define ATTR_BIT_DEFER_OUTPUT		39
#define ATTR_FIRST_RESERVED_BIT		40
#define RECORD_CALLCHAIN_DEFERRED	22
#define CONTEXT_USER_DEFERRED		((uint64_t)-640)

#define MAX_CPUS	64
#define RING_PAGES	128		/* data pages per ring buffer */
#define PERIOD_NS	1000000ULL	/* sampling period: 1 ms */
#define SETTLE_NS	20000000ULL	/* in-flight window at the end: 20 ms */

static int nr_cpus;
static int no_defer;	/* PERF_SELFTEST_NODEFER=1: host dry run */
static int failures, test_no;

static void ktap(int ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	test_no++;
	if (!ok)
		failures++;
	printf("%s %d %s", ok ? "ok" : "not ok", test_no, name);
	if (fmt) {
		printf(" # ");
		va_start(ap, fmt);
		vprintf(fmt, ap);
		va_end(ap);
	}
	printf("\n");
	fflush(stdout);
}

static void diag(const char *fmt, ...)
{
	va_list ap;

	printf("# ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void sleep_ms(unsigned int ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

/* ---- the workload: a known user call chain ---- */

/*
 * wl_spin() is written in assembly so that the sampled instruction pointer
 * is known to lie between wl_spin and wl_spin_end, with the frame pointer
 * set up. It records its own return address (into level2) in wl_ret.
 */
volatile int wl_stop;
static uint64_t wl_stop_time;	/* CLOCK_MONOTONIC, like the samples */
volatile uint64_t wl_ret;
void wl_spin(void);
extern char wl_spin_end[];
asm(".text\n"
    ".globl wl_spin\n"
    ".type wl_spin, @function\n"
    "wl_spin:\n"
    "	push %rbp\n"
    "	mov %rsp, %rbp\n"
    "	mov 8(%rbp), %rax\n"
    "	mov %rax, wl_ret(%rip)\n"
    "1:	pause\n"
    "	cmpl $0, wl_stop(%rip)\n"
    "	je 1b\n"
    "	pop %rbp\n"
    "	ret\n"
    ".globl wl_spin_end\n"
    "wl_spin_end:\n"
    ".size wl_spin, wl_spin_end - wl_spin\n");

static volatile uint64_t ret_l1, ret_l2;	/* return addresses of level1/2 */

struct worker {
	pthread_t thread;
	int cpu;		/* pinned to this CPU, -1: not pinned */
	volatile pid_t tid;
	volatile int spinning;
};

static __attribute__((noinline)) void level2(struct worker *w)
{
	ret_l2 = (uint64_t)__builtin_return_address(0);
	w->spinning = 1;
	wl_spin();
	asm volatile("" ::: "memory");	/* no tail call */
}

static __attribute__((noinline)) void level1(struct worker *w)
{
	ret_l1 = (uint64_t)__builtin_return_address(0);
	level2(w);
	asm volatile("" ::: "memory");
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;

	w->tid = syscall(SYS_gettid);
	if (w->cpu >= 0) {
		cpu_set_t set;

		CPU_ZERO(&set);
		CPU_SET(w->cpu, &set);
		sched_setaffinity(0, sizeof(set), &set);
	}
	level1(w);
	asm volatile("" ::: "memory");
	return NULL;
}

static void start_workers(struct worker *w, int n)
{
	int i;

	wl_stop = 0;
	for (i = 0; i < n; i++) {
		w[i].spinning = 0;
		w[i].tid = 0;
		pthread_create(&w[i].thread, NULL, worker_main, &w[i]);
	}
	for (i = 0; i < n; i++)
		while (!w[i].spinning)
			sleep_ms(1);
	sleep_ms(5);	/* well inside wl_spin now */
}

static void stop_workers(struct worker *w, int n)
{
	int i;

	wl_stop_time = now_ns();
	wl_stop = 1;
	for (i = 0; i < n; i++)
		pthread_join(w[i].thread, NULL);
}

/* The deferred trace of a workload thread, checked entry by entry. */
static int chain_ok(const uint64_t *ips, uint64_t nr)
{
	return nr >= 4 &&
	       ips[0] >= (uint64_t)wl_spin && ips[0] < (uint64_t)wl_spin_end &&
	       ips[1] == wl_ret && ips[2] == ret_l2 && ips[3] == ret_l1;
}

/* ---- perf events and ring buffers ---- */

struct ring {
	int fd;
	int cpu;		/* CPU of a per-CPU event, -1 for a task event */
	struct perf_event_mmap_page *meta;
	unsigned char *data;
	uint64_t size;
	unsigned char *copy;	/* everything read so far */
	uint64_t len, cap;
	uint64_t lost;
};

static int perf_open(struct perf_event_attr *attr, pid_t pid, int cpu)
{
	return syscall(SYS_perf_event_open, attr, pid, cpu, -1, 0);
}

static uint64_t *attr_flags(struct perf_event_attr *attr)
{
	/* the bitfield word follows read_format */
	return (uint64_t *)((char *)&attr->read_format + sizeof(attr->read_format));
}

static void init_attr(struct perf_event_attr *attr, uint64_t config, int defer)
{
	memset(attr, 0, sizeof(*attr));
	attr->size = sizeof(*attr);
	attr->type = PERF_TYPE_SOFTWARE;
	attr->config = config;
	attr->sample_period = PERIOD_NS;
	attr->sample_type = PERF_SAMPLE_IP | PERF_SAMPLE_TID |
			    PERF_SAMPLE_TIME | PERF_SAMPLE_CPU |
			    PERF_SAMPLE_CALLCHAIN;
	attr->sample_id_all = 1;
	attr->use_clockid = 1;
	attr->clockid = CLOCK_MONOTONIC;
	attr->disabled = 1;
	if (defer && !no_defer)
		*attr_flags(attr) |= (1ULL << ATTR_BIT_DEFER_CALLCHAIN) |
				     (1ULL << ATTR_BIT_DEFER_OUTPUT);
}

static int ring_open(struct ring *r, struct perf_event_attr *attr, pid_t pid,
		     int cpu)
{
	long pg = sysconf(_SC_PAGESIZE);
	void *p;

	memset(r, 0, sizeof(*r));
	r->cpu = cpu;
	r->fd = perf_open(attr, pid, cpu);
	if (r->fd < 0)
		return -errno;
	r->size = RING_PAGES * pg;
	p = mmap(NULL, r->size + pg, PROT_READ | PROT_WRITE, MAP_SHARED,
		 r->fd, 0);
	if (p == MAP_FAILED) {
		int err = -errno;

		close(r->fd);
		return err;
	}
	r->meta = p;
	r->data = (unsigned char *)p + pg;
	return 0;
}

static void ring_close(struct ring *r)
{
	if (r->meta)
		munmap(r->meta, r->size + sysconf(_SC_PAGESIZE));
	if (r->fd >= 0)
		close(r->fd);
	free(r->copy);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

/* Copy new data out of the ring (handles the wrap) and free the space. */
static void ring_drain(struct ring *r)
{
	uint64_t head = __atomic_load_n(&r->meta->data_head, __ATOMIC_ACQUIRE);
	uint64_t tail = r->meta->data_tail;
	uint64_t n = head - tail, i;

	if (!n)
		return;
	if (r->len + n > r->cap) {
		r->cap = (r->len + n) * 2;
		r->copy = realloc(r->copy, r->cap);
		if (!r->copy) {
			perror("realloc");
			exit(2);
		}
	}
	for (i = 0; i < n; i++)
		r->copy[r->len + i] = r->data[(tail + i) % r->size];
	r->len += n;
	__atomic_store_n(&r->meta->data_tail, head, __ATOMIC_RELEASE);
}

static void ioctl_all(struct ring *r, int n, unsigned long req)
{
	int i;

	for (i = 0; i < n; i++)
		ioctl(r[i].fd, req, 0);
}

/* ---- records ---- */

struct sample {
	uint32_t pid, tid, cpu;
	uint64_t time;
	uint64_t cookie;	/* 0: no deferred marker */
	int has_user;		/* PERF_CONTEXT_USER found */
	int user_chain_ok;	/* ... and the entries after it match */
	int ring;		/* index of the buffer it came from */
};

struct deferred {
	uint64_t cookie, nr;
	const uint64_t *ips;
	uint32_t pid, tid, cpu;
	uint64_t time;
	int ring;
	int seen;		/* how many samples matched it */
};

struct records {
	struct sample *s;
	size_t ns, cs;
	struct deferred *d;
	size_t nd, cd;
	uint64_t lost, max_time;
	int bad;		/* malformed records */
};

static void *grow(void *p, size_t *cap, size_t n, size_t sz)
{
	if (n < *cap)
		return p;
	*cap = *cap ? *cap * 2 : 256;
	p = realloc(p, *cap * sz);
	if (!p) {
		perror("realloc");
		exit(2);
	}
	return p;
}

/*
 * Parse a buffer. The attr has sample_type IP|TID|TIME|CPU|CALLCHAIN and
 * sample_id_all, so every non-sample record ends with pid, tid, time, cpu.
 */
static void parse_ring(struct ring *r, int idx, struct records *out)
{
	uint64_t off = 0;

	while (off + sizeof(struct perf_event_header) <= r->len) {
		struct perf_event_header *h = (void *)(r->copy + off);
		const uint64_t *w = (const uint64_t *)(h + 1);
		uint64_t words = (h->size - sizeof(*h)) / 8;

		if (h->size < sizeof(*h) || off + h->size > r->len) {
			out->bad++;
			break;
		}
		if (h->type == PERF_RECORD_SAMPLE) {
			struct sample *s;
			uint64_t nr, i;

			if (words < 5 || words < 5 + w[4]) {
				out->bad++;
				goto next;
			}
			out->s = grow(out->s, &out->cs, out->ns, sizeof(*s));
			s = &out->s[out->ns++];
			memset(s, 0, sizeof(*s));
			s->pid = (uint32_t)w[1];
			s->tid = (uint32_t)(w[1] >> 32);
			s->time = w[2];
			s->cpu = (uint32_t)w[3];
			s->ring = idx;
			nr = w[4];
			for (i = 0; i < nr; i++) {
				if (w[5 + i] == CONTEXT_USER_DEFERRED) {
					s->cookie = i + 1 < nr ? w[6 + i] : 0;
					if (!s->cookie)
						s->cookie = UINT64_MAX;	/* marker, no cookie */
				}
				if (w[5 + i] == PERF_CONTEXT_USER) {
					s->has_user = 1;
					s->user_chain_ok = chain_ok(&w[6 + i],
								    nr - i - 1);
				}
			}
			if (s->time > out->max_time)
				out->max_time = s->time;
		} else if (h->type == RECORD_CALLCHAIN_DEFERRED) {
			struct deferred *d;

			if (words < 2 || words != 2 + w[1] + 3) {
				out->bad++;
				goto next;
			}
			out->d = grow(out->d, &out->cd, out->nd, sizeof(*d));
			d = &out->d[out->nd++];
			d->cookie = w[0];
			d->nr = w[1];
			d->ips = &w[2];
			d->pid = (uint32_t)w[2 + d->nr];
			d->tid = (uint32_t)(w[2 + d->nr] >> 32);
			d->time = w[3 + d->nr];
			d->cpu = (uint32_t)w[4 + d->nr];
			d->ring = idx;
			d->seen = 0;
		} else if (h->type == PERF_RECORD_LOST) {
			out->lost += words >= 2 ? w[1] : 1;
		}
next:
		off += h->size;
	}
}

static void records_free(struct records *rec)
{
	free(rec->s);
	free(rec->d);
	memset(rec, 0, sizeof(*rec));
}

static int is_kthread_uncached(uint32_t pid)
{
	char path[64], buf[512], *p;
	unsigned long flags = 0;
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "/proc/%u/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;	/* gone: was a user process of this run */
	if (!fgets(buf, sizeof(buf), f)) {
		fclose(f);
		return 0;
	}
	fclose(f);
	p = strrchr(buf, ')');
	/* after ")": state ppid pgrp session tty_nr tpgid flags */
	for (i = 0; p && i < 7; i++)
		p = strchr(p + 1, ' ');
	if (p)
		flags = strtoul(p + 1, NULL, 10);
	return !!(flags & 0x00200000);	/* PF_KTHREAD */
}

static int is_kthread(uint32_t pid)
{
	static signed char cache[32768];	/* 0 unknown, 1 no, 2 yes */

	if (pid == 0)
		return 1;
	if (pid >= sizeof(cache))
		return is_kthread_uncached(pid);
	if (!cache[pid])
		cache[pid] = is_kthread_uncached(pid) ? 2 : 1;
	return cache[pid] == 2;
}

static struct deferred *find_deferred(struct records *rec, uint64_t cookie,
				      int *count)
{
	struct deferred *found = NULL;
	size_t i;

	*count = 0;
	for (i = 0; i < rec->nd; i++) {
		if (rec->d[i].cookie == cookie) {
			(*count)++;
			found = &rec->d[i];
		}
	}
	return found;
}

struct verdict {
	size_t samples, marked, matched, missing, dup, late;
	size_t wl_records, wl_chain_ok, wl_wrong_ring;
	size_t wrong_cpu, kthread_marked, kthread_samples, kthread_records;
	size_t no_cookie, foreign;
	size_t wl_immediate, wl_immediate_ok;
	char why[256];
};

static int is_worker(struct worker *w, int nw, uint32_t tid, int *cpu)
{
	int i;

	for (i = 0; i < nw; i++)
		if (w[i].tid == (pid_t)tid) {
			*cpu = w[i].cpu;
			return 1;
		}
	return 0;
}

/*
 * Cross-check samples and deferred records of one profiler (rings r[0..n)).
 * percpu: rings are per-CPU events, r[i].cpu is the CPU.
 */
static void check(struct records *rec, struct ring *r, int percpu,
		  struct worker *w, int nw, struct verdict *v)
{
	size_t i;

	memset(v, 0, sizeof(*v));
	v->samples = rec->ns;
	for (i = 0; i < rec->ns; i++) {
		struct sample *s = &rec->s[i];
		struct deferred *d;
		int count, wcpu;

		if (s->has_user && is_worker(w, nw, s->tid, &wcpu) &&
		    s->time < wl_stop_time) {
			v->wl_immediate++;
			v->wl_immediate_ok += s->user_chain_ok;
		}
		if (is_kthread(s->pid)) {
			v->kthread_samples++;
			if (s->cookie)
				v->kthread_marked++;
		}
		if (!s->cookie)
			continue;
		v->marked++;
		if (s->cookie == UINT64_MAX) {
			v->no_cookie++;
			continue;
		}
		d = find_deferred(rec, s->cookie, &count);
		if (count > 1)
			v->dup++;
		if (count == 1) {
			v->matched++;
			d->seen++;
			if (d->tid != s->tid)
				v->foreign++;
		} else if (!count) {
			/* disabled while in flight: allowed at the very end */
			if (s->time + SETTLE_NS >= rec->max_time)
				v->late++;
			else
				v->missing++;
		}
	}
	for (i = 0; i < rec->nd; i++) {
		struct deferred *d = &rec->d[i];
		int wcpu;

		if (is_kthread(d->pid))
			v->kthread_records++;
		if (percpu && d->cpu != (uint32_t)r[d->ring].cpu)
			v->wrong_cpu++;
		/* the workload's chain is known until it is told to stop */
		if (is_worker(w, nw, d->tid, &wcpu) && d->time < wl_stop_time) {
			v->wl_records++;
			if (chain_ok(d->ips, d->nr))
				v->wl_chain_ok++;
			if (percpu && wcpu >= 0 && r[d->ring].cpu != wcpu)
				v->wl_wrong_ring++;
		}
	}
}

static int collect(struct ring *r, int n, struct records *rec)
{
	int i;

	memset(rec, 0, sizeof(*rec));
	for (i = 0; i < n; i++) {
		ring_drain(&r[i]);
		parse_ring(&r[i], i, rec);
	}
	return 0;
}

static void run_sampling(struct ring *r, int n, unsigned int ms)
{
	uint64_t end = now_ns() + ms * 1000000ULL;
	int i;

	ioctl_all(r, n, PERF_EVENT_IOC_ENABLE);
	while (now_ns() < end) {
		sleep_ms(20);
		for (i = 0; i < n; i++)
			ring_drain(&r[i]);
	}
}

static void diag_verdict(const char *who, struct verdict *v,
			 struct records *rec)
{
	diag("%s: samples=%zu marked=%zu matched=%zu missing=%zu late=%zu dup=%zu no_cookie=%zu records=%zu wl_records=%zu wl_chain_ok=%zu wrong_cpu=%zu wl_wrong_ring=%zu kthread_samples=%zu kthread_marked=%zu kthread_records=%zu lost=%llu bad=%d",
	     who, v->samples, v->marked, v->matched, v->missing, v->late,
	     v->dup, v->no_cookie, rec->nd, v->wl_records, v->wl_chain_ok,
	     v->wrong_cpu, v->wl_wrong_ring, v->kthread_samples,
	     v->kthread_marked, v->kthread_records,
	     (unsigned long long)rec->lost, rec->bad);
	if (v->wl_immediate)
		diag("%s: immediate user chains of the workload: %zu of %zu as expected",
		     who, v->wl_immediate_ok, v->wl_immediate);
}

/* Every marked sample has exactly one record with its cookie. */
static int cookies_ok(struct verdict *v, struct records *rec, char *why,
		      size_t len)
{
	if (rec->bad)
		return snprintf(why, len, "%d malformed records", rec->bad), 0;
	if (!v->marked)
		return snprintf(why, len, "no sample carries PERF_CONTEXT_USER_DEFERRED"), 0;
	if (v->no_cookie)
		return snprintf(why, len, "%zu markers without a cookie", v->no_cookie), 0;
	if (v->dup)
		return snprintf(why, len, "%zu cookies with more than one record", v->dup), 0;
	if (v->foreign)
		return snprintf(why, len, "%zu cookies matched a record of another task", v->foreign), 0;
	if (v->missing && !rec->lost)
		return snprintf(why, len, "%zu marked samples without their record", v->missing), 0;
	if (v->matched == 0)
		return snprintf(why, len, "no cookie matched a record"), 0;
	return 1;
}

static int chains_ok(struct verdict *v, char *why, size_t len)
{
	if (!v->wl_records)
		return snprintf(why, len, "no deferred record of the workload"), 0;
	if (v->wl_chain_ok != v->wl_records)
		return snprintf(why, len, "%zu of %zu workload traces differ from the real call chain",
				v->wl_records - v->wl_chain_ok, v->wl_records), 0;
	return 1;
}

/* ---- the tests ---- */

static void test_attr_bits(void)
{
	struct perf_event_attr attr;
	int fd, ok;

	init_attr(&attr, PERF_COUNT_SW_TASK_CLOCK, 1);
	fd = perf_open(&attr, 0, -1);
	ok = fd >= 0;
	ktap(ok, "defer_callchain_accepted", ok ? NULL :
	     "perf_event_open with defer_callchain|defer_output: %s",
	     strerror(errno));
	if (fd >= 0)
		close(fd);

	init_attr(&attr, PERF_COUNT_SW_TASK_CLOCK, 1);
	*attr_flags(&attr) |= 1ULL << ATTR_FIRST_RESERVED_BIT;
	fd = perf_open(&attr, 0, -1);
	ok = fd < 0 && errno == EINVAL;
	ktap(ok, "reserved_bit_after_defer_output_rejected", ok ? NULL :
	     "expected EINVAL, got fd %d errno %d", fd, errno);
	if (fd >= 0)
		close(fd);
}

static void test_task_event(void)
{
	struct worker w[1] = { { .cpu = 0 } };
	struct perf_event_attr attr;
	struct records rec;
	struct verdict v;
	struct ring r;
	char why[256] = "";
	int err, ok;

	start_workers(w, 1);
	init_attr(&attr, PERF_COUNT_SW_TASK_CLOCK, 1);
	err = ring_open(&r, &attr, w[0].tid, -1);
	if (err) {
		stop_workers(w, 1);
		ktap(0, "task_event_cookies", "open: %s", strerror(-err));
		ktap(0, "task_event_user_chain", "open failed");
		return;
	}
	run_sampling(&r, 1, 600);
	stop_workers(w, 1);	/* every pending request has run now */
	ioctl(r.fd, PERF_EVENT_IOC_DISABLE, 0);
	collect(&r, 1, &rec);
	check(&rec, &r, 0, w, 1, &v);
	diag_verdict("task", &v, &rec);
	ok = cookies_ok(&v, &rec, why, sizeof(why));
	ktap(ok, "task_event_cookies", ok ? NULL : "%s", why);
	ok = chains_ok(&v, why, sizeof(why));
	ktap(ok, "task_event_user_chain", ok ? NULL : "%s", why);
	records_free(&rec);
	ring_close(&r);
}

static int open_percpu(struct ring *r, uint64_t config)
{
	struct perf_event_attr attr;
	int cpu, err;

	init_attr(&attr, config, 1);
	for (cpu = 0; cpu < nr_cpus; cpu++) {
		err = ring_open(&r[cpu], &attr, -1, cpu);
		if (err) {
			while (--cpu >= 0)
				ring_close(&r[cpu]);
			return err;
		}
	}
	return 0;
}

static void test_percpu(void)
{
	struct ring a[MAX_CPUS], b[MAX_CPUS];
	struct worker w[MAX_CPUS];
	struct records ra, rb;
	struct verdict va, vb;
	char why[256] = "";
	int i, err, ok, nw = nr_cpus;

	memset(w, 0, sizeof(w));
	for (i = 0; i < nw; i++)
		w[i].cpu = i;	/* one workload thread pinned to each CPU */

	err = open_percpu(a, PERF_COUNT_SW_CPU_CLOCK);
	if (!err) {
		err = open_percpu(b, PERF_COUNT_SW_CPU_CLOCK);
		if (err)
			for (i = 0; i < nr_cpus; i++)
				ring_close(&a[i]);
	}
	if (err) {
		const char *names[] = { "percpu_cookies_every_cpu",
			"percpu_user_chain", "percpu_record_on_return_cpu",
			"two_profilers_both_get_records",
			"no_deferred_for_kthreads" };

		for (i = 0; i < 5; i++)
			ktap(0, names[i], "open per-CPU events: %s",
			     strerror(-err));
		return;
	}
	start_workers(w, nw);
	/* both profilers run at once, on every CPU */
	ioctl_all(b, nr_cpus, PERF_EVENT_IOC_ENABLE);
	run_sampling(a, nr_cpus, 1000);
	stop_workers(w, nw);
	sleep_ms(30);
	ioctl_all(a, nr_cpus, PERF_EVENT_IOC_DISABLE);
	ioctl_all(b, nr_cpus, PERF_EVENT_IOC_DISABLE);
	collect(a, nr_cpus, &ra);
	collect(b, nr_cpus, &rb);
	check(&ra, a, 1, w, nw, &va);
	check(&rb, b, 1, w, nw, &vb);
	diag_verdict("percpu A", &va, &ra);
	diag_verdict("percpu B", &vb, &rb);

	ok = cookies_ok(&va, &ra, why, sizeof(why));
	ktap(ok, "percpu_cookies_every_cpu", ok ? NULL : "%s", why);

	ok = chains_ok(&va, why, sizeof(why));
	ktap(ok, "percpu_user_chain", ok ? NULL : "%s", why);

	ok = !va.wrong_cpu && !va.wl_wrong_ring && !vb.wrong_cpu &&
	     !vb.wl_wrong_ring && va.wl_records;
	ktap(ok, "percpu_record_on_return_cpu", ok ? NULL :
	     "records in another CPU's buffer: sample_id.cpu mismatch %zu/%zu, pinned workload %zu/%zu (of %zu)",
	     va.wrong_cpu, vb.wrong_cpu, va.wl_wrong_ring, vb.wl_wrong_ring,
	     va.wl_records);

	ok = cookies_ok(&vb, &rb, why, sizeof(why)) &&
	     chains_ok(&vb, why, sizeof(why));
	ktap(ok, "two_profilers_both_get_records", ok ? NULL :
	     "second profiler: %s", why);

	ok = va.kthread_samples && !va.kthread_marked && !va.kthread_records &&
	     !vb.kthread_marked && !vb.kthread_records;
	ktap(ok, "no_deferred_for_kthreads", ok ? NULL :
	     "kthread samples %zu, with marker %zu/%zu, records %zu/%zu",
	     va.kthread_samples, va.kthread_marked, vb.kthread_marked,
	     va.kthread_records, vb.kthread_records);

	records_free(&ra);
	records_free(&rb);
	for (i = 0; i < nr_cpus; i++) {
		ring_close(&a[i]);
		ring_close(&b[i]);
	}
}

/*
 * Close events (task and per-CPU) while the workload is being sampled, so
 * that deferred requests are still pending when the events go away. The
 * kernel must survive it (kcheck's splat detector reads the console).
 */
static void test_close_in_flight(void)
{
	struct worker w[MAX_CPUS];
	struct perf_event_attr attr;
	struct ring pc[MAX_CPUS], t;
	int i, round, err = 0, nw = nr_cpus;

	memset(w, 0, sizeof(w));
	for (i = 0; i < nw; i++)
		w[i].cpu = -1;
	start_workers(w, nw);
	for (round = 0; round < 40 && !err; round++) {
		err = open_percpu(pc, PERF_COUNT_SW_CPU_CLOCK);
		if (err)
			break;
		init_attr(&attr, PERF_COUNT_SW_TASK_CLOCK, 1);
		attr.sample_period = 100000;	/* 100 us */
		err = ring_open(&t, &attr, w[round % nw].tid, -1);
		if (err) {
			for (i = 0; i < nr_cpus; i++)
				ring_close(&pc[i]);
			break;
		}
		ioctl_all(pc, nr_cpus, PERF_EVENT_IOC_ENABLE);
		ioctl(t.fd, PERF_EVENT_IOC_ENABLE, 0);
		sleep_ms(5 + round % 7);
		/* no disable: close with requests in flight */
		ring_close(&t);
		for (i = 0; i < nr_cpus; i++)
			ring_close(&pc[i]);
	}
	stop_workers(w, nw);
	ktap(!err, "close_while_in_flight", err ? "round %d: %s" : NULL,
	     round, strerror(-err));
}

/*
 * A kernel without the series rejects defer_callchain (a reserved bit) with
 * EINVAL: skip the suite there. With the perf part of the series in the
 * kernel (its record writer, perf_callchain_deferred_output, in
 * /proc/kallsyms), EINVAL is a failure and the tests report it.
 */
static int kernel_has_defer(void)
{
	struct perf_event_attr attr;
	char line[256];
	int fd, found = 0;
	FILE *f;

	init_attr(&attr, PERF_COUNT_SW_TASK_CLOCK, 1);
	fd = perf_open(&attr, 0, -1);
	if (fd >= 0) {
		close(fd);
		return 1;
	}
	if (errno != EINVAL || no_defer)
		return 1;
	f = fopen("/proc/kallsyms", "r");
	if (!f)
		return 1;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, " perf_callchain_deferred_output\n") != NULL;
	fclose(f);
	return found;
}

static void pid1_setup(void)
{
	mkdir("/proc", 0555);
	mount("proc", "/proc", "proc", 0, NULL);
	mkdir("/dev", 0755);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
}

int main(void)
{
	int pid1 = getpid() == 1;

	if (pid1)
		pid1_setup();
	setvbuf(stdout, NULL, _IOLBF, 0);
	nr_cpus = sysconf(_SC_NPROCESSORS_ONLN);
	no_defer = getenv("PERF_SELFTEST_NODEFER") != NULL;
	if (nr_cpus > MAX_CPUS)
		nr_cpus = MAX_CPUS;

	printf("KTAP version 1\n");
	if (!kernel_has_defer()) {
		printf("1..0 # SKIP kernel without deferred user callchains\n");
		printf("# SKIP kernel without deferred user callchains (defer_callchain is EINVAL, no perf_callchain_deferred_output in /proc/kallsyms)\n");
		if (pid1) {
			reboot(RB_AUTOBOOT);
		}
		return 77;
	}
	printf("1..10\n");
	diag("perf-selftest: %d CPUs, wl_spin=%p", nr_cpus, (void *)wl_spin);
	test_attr_bits();
	test_task_event();
	test_percpu();
	test_close_in_flight();
	diag("perf-selftest: %d of %d failed", failures, test_no);

	if (pid1) {
		sync();
		/* RB_POWER_OFF halts without ACPI; QEMU -no-reboot exits on this */
		reboot(RB_AUTOBOOT);
	}
	return failures ? 1 : 0;
}
