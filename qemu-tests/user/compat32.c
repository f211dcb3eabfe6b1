// SPDX-License-Identifier: GPL-2.0
/*
 * unwind-compat32: a freestanding 32-bit (i386) program, so that the
 * compat case needs no 32-bit C library on the build machine. It asks the
 * test module for a deferred unwind of tracer 0 from a compat task, through
 * int $0x80 and the module's compat ioctl.
 *
 * Exit status: 0 the request was refused (negative return, as the series
 * wants for compat tasks), 1 it was accepted, 2 open failed, 3 ioctl failed.
 */
#include "unwind_test_uapi.h"

#define NR_exit		1
#define NR_open		5
#define NR_ioctl	54
#define O_RDWR		2

static long sys3(long nr, long a, long b, long c)
{
	long ret;

	asm volatile("int $0x80"
		     : "=a"(ret)
		     : "0"(nr), "b"(a), "c"(b), "d"(c)
		     : "memory");
	return ret;
}

static __attribute__((noreturn)) void sys_exit(int code)
{
	for (;;)
		sys3(NR_exit, code, 0, 0);
}

void *memset(void *s, int c, unsigned int n)
{
	unsigned char *p = s;

	while (n--)
		*p++ = (unsigned char)c;
	return s;
}

static struct ut_request rq;

void compat_main(void)
{
	long fd, r;

	fd = sys3(NR_open, (long)"/dev/unwind_test", O_RDWR, 0);
	if (fd < 0)
		sys_exit(2);
	rq.nsteps = 1;
	rq.step[0].mask = 1;
	rq.step[0].ctx = UT_CTX_TASK;
	r = sys3(NR_ioctl, fd, (long)UT_IOC_REQUEST, (long)&rq);
	if (r < 0)
		sys_exit(3);
	sys_exit(rq.step[0].ret[0] < 0 ? 0 : 1);
}

asm(".globl _start\n"
    "_start:\n\t"
    "xor %ebp, %ebp\n\t"
    "and $-16, %esp\n\t"
    "call compat_main\n\t"
    "hlt\n");
