// SPDX-License-Identifier: GPL-2.0
/*
 * perf-workload: the profiled program of the perftool suite. It spins in a
 * known user call chain main -> wl_a -> wl_b -> wl_c -> wl_leaf for the
 * given number of milliseconds (default 1500). wl_leaf alternates a busy
 * loop with read(2) of 2 MiB from /dev/zero issued from its own inline
 * `syscall`, so the user IP of a sample taken inside the syscall is in
 * wl_leaf and several samples of one syscall share one deferred cookie.
 *
 * Built with a frame in every function, leaf included (-O0
 * -fno-omit-frame-pointer, noinline, no sibling calls: GCC at -O1 and
 * above drops the frame of a function that calls nothing); the Go side
 * (internal/perftool.CheckFramePointers) checks that each chain function
 * starts with push %rbp; mov %rsp,%rbp.
 */
#include <fcntl.h>
#include <stdlib.h>
#include <sys/syscall.h>
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

int main(int argc, char **argv)
{
	long ms = argc > 1 ? atol(argv[1]) : 1500;

	zero_fd = open("/dev/zero", O_RDONLY);
	wl_a(now_ms() + ms);
	asm volatile("" ::: "memory");
	return 0;
}
