// SPDX-License-Identifier: GPL-2.0
/*
 * perf-workload: the profiled program of the perftool suite. It spins in a
 * known user call chain main -> wl_a -> wl_b -> wl_c -> wl_leaf for the
 * given number of milliseconds (default 1500). wl_leaf alternates a busy
 * loop with read(2) of 2 MiB from /dev/zero issued from its own inline
 * `syscall`, so the user IP of a sample taken inside the syscall is in
 * wl_leaf and several samples of one syscall share one deferred cookie.
 *
 * With --deep DEPTH CALLS BATCHES OUT it is the workload of the suite's
 * defer_overhead case instead: from DEPTH frames of wl_deep, BATCHES
 * batches of CALLS read(2)s of DEEP_READ bytes from /dev/urandom (the
 * kernel generates them: CPU time in one syscall, tens of ms under TCG),
 * pinned to the CPU it starts on; it writes the per-call time of its
 * fastest batch, in ns, to OUT. A sample inside such a read is taken with
 * the whole deep user stack below it, and many samples fall in one read
 * (the kcheck kernel has no high-resolution timers: cpu-clock samples at
 * most once a tick, 4 ms): the deferred walk runs once per read, the
 * in-interrupt one once per sample.
 *
 * Built with a frame in every function, leaf included (-O0
 * -fno-omit-frame-pointer, noinline, no sibling calls: GCC at -O1 and
 * above drops the frame of a function that calls nothing); the Go side
 * (internal/perftool.CheckFramePointers) checks that each chain function
 * starts with push %rbp; mov %rsp,%rbp.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define NOINLINE __attribute__((noinline, noclone))

static char buf[2 << 20];
static int zero_fd = -1;
volatile unsigned long sink;

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

NOINLINE void wl_leaf(long until)
{
	unsigned long i, x = sink;

	while (now_ms() < until) {
		for (i = 0; i < 200000; i++)
			x = x * 6364136223846793005UL + 1442695040888963407UL;
		sink = x;
		if (zero_fd >= 0) {
			long ret;
			register long fd asm("rdi") = zero_fd;
			register long p asm("rsi") = (long)buf;
			register long n asm("rdx") = sizeof(buf);

			asm volatile("syscall"
				     : "=a"(ret)
				     : "0"((long)SYS_read), "r"(fd), "r"(p), "r"(n)
				     : "rcx", "r11", "memory");
			(void)ret;
		}
	}
	asm volatile("" ::: "memory");
}

NOINLINE void wl_c(long until)
{
	wl_leaf(until);
	asm volatile("" ::: "memory");
}

NOINLINE void wl_b(long until)
{
	wl_c(until);
	asm volatile("" ::: "memory");
}

NOINLINE void wl_a(long until)
{
	wl_b(until);
	asm volatile("" ::: "memory");
}

#define DEEP_READ (1 << 20)

static char *deep_buf;
static int random_fd = -1;

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/*
 * The per-call time of the fastest of BATCHES batches of calls reads,
 * each from an inline syscall (as in wl_leaf: the user IP of a sample
 * inside the read is here, and the frame-pointer walk starts from here).
 */
NOINLINE unsigned long long wl_deep_reads(int calls, int batches)
{
	unsigned long long best = ~0ULL, t0, d;
	int b, i;

	for (b = 0; b < batches; b++) {
		t0 = now_ns();
		for (i = 0; i < calls; i++) {
			long ret;
			register long fd asm("rdi") = random_fd;
			register long p asm("rsi") = (long)deep_buf;
			register long n asm("rdx") = DEEP_READ;

			asm volatile("syscall"
				     : "=a"(ret)
				     : "0"((long)SYS_read), "r"(fd), "r"(p), "r"(n)
				     : "rcx", "r11", "memory");
			if (ret != DEEP_READ)
				return 0;
		}
		d = (now_ns() - t0) / calls;
		if (d < best)
			best = d;
	}
	return best;
}

/* depth frames of this function, then the reads */
NOINLINE unsigned long long wl_deep(int depth, int calls, int batches)
{
	unsigned long long r;

	if (depth <= 1)
		r = wl_deep_reads(calls, batches);
	else
		r = wl_deep(depth - 1, calls, batches);
	asm volatile("" ::: "memory");
	return r;
}

static int deep_main(char **argv)
{
	int depth = atoi(argv[2]), calls = atoi(argv[3]), batches = atoi(argv[4]);
	unsigned long long ns;
	cpu_set_t one;
	FILE *out;
	int cpu = sched_getcpu();

	CPU_ZERO(&one);
	CPU_SET(cpu >= 0 ? cpu : 0, &one);
	sched_setaffinity(0, sizeof(one), &one);
	deep_buf = malloc(DEEP_READ);
	random_fd = open("/dev/urandom", O_RDONLY);
	if (!deep_buf || random_fd < 0 || depth < 1 || calls < 1 || batches < 1)
		return 2;
	memset(deep_buf, 1, DEEP_READ);	/* fault it in before the clock runs */
	ns = wl_deep(depth, calls, batches);
	out = fopen(argv[5], "w");
	if (!ns || !out)
		return 1;
	fprintf(out, "%llu\n", ns);
	return fclose(out) ? 1 : 0;
}

int main(int argc, char **argv)
{
	long ms = argc > 1 ? atol(argv[1]) : 1500;

	if (argc == 6 && !strcmp(argv[1], "--deep"))
		return deep_main(argv);

	zero_fd = open("/dev/zero", O_RDONLY);
	wl_a(now_ms() + ms);
	asm volatile("" ::: "memory");
	return 0;
}
