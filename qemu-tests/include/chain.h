/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Pieces shared by the user-space self-tests (user/unwind-selftest.c,
 * sframe/sframe-selftest.c) and the host check of the SFrame reader
 * (internal/selftest/testdata/sframe-host/harness.c): the leaf of a
 * known call chain, a level with a big frame, and the rebasing of an
 * SFrame section's function starts that lets a copy of the section
 * describe the program's code.
 */
#ifndef KDEFER_SELFTEST_CHAIN_H
#define KDEFER_SELFTEST_CHAIN_H

#include <stdint.h>
#include <string.h>

/* A level of a chain must be a frame of its own, and stay one */
#define NOINLINE __attribute__((noinline, noclone))
#define ALWAYS_INLINE __attribute__((always_inline))

/*
 * A compiler barrier: memory accesses do not move across it, and a call
 * just before it is not turned into a tail call (the caller keeps its
 * frame).
 */
static inline ALWAYS_INLINE void compiler_barrier(void)
{
	asm volatile("" ::: "memory");
}

#define BARRIER() compiler_barrier()

/*
 * DEFINE_CHAIN_SYSCALL(name, label, ra) defines the leaf of a chain,
 * long name(long nr, long a, long b, long c): it stores its own return
 * address in ra and makes the system call nr(a, b, c) from inline
 * assembly. The global symbol label marks the instruction after the
 * syscall, the first user address the kernel records.
 */
#define DEFINE_CHAIN_SYSCALL(name, label, ra)				\
static NOINLINE long name(long nr, long a, long b, long c)		\
{									\
	register long rax asm("rax") = nr;				\
									\
	ra = __builtin_return_address(0);				\
	asm volatile("syscall\n\t"					\
		     ".globl " #label "\n"				\
		     #label ":\n\t"					\
		     : "+r"(rax)					\
		     : "D"(a), "S"(b), "d"(c)				\
		     : "rcx", "r11", "memory");				\
	return rax;							\
}

/*
 * DEFINE_CHAIN_BIG_FRAME(name, type, next, ra, size) defines a level of
 * a chain with a big local array, long name(type arg, int slot), whose
 * CFA is more than size bytes from its stack pointer. It stores its own
 * return address in ra[slot] and calls next(arg, slot + 1), keeping its
 * frame (not a tail call).
 */
#define DEFINE_CHAIN_BIG_FRAME(name, type, next, ra, size)		\
static NOINLINE long name(type arg, int slot)				\
{									\
	volatile char pad[size];					\
	long r;								\
									\
	pad[0] = 0;							\
	ra[slot] = __builtin_return_address(0);				\
	r = next(arg, slot + 1);					\
	BARRIER();							\
	return r + pad[0];						\
}

/*
 * sframe_rebase_starts() adds delta to the function start of each of
 * the nf FDEs at fdes, stride bytes apart: a signed 32-bit field in
 * SFrame version 2, a signed 64-bit one in version 3. A copy of a
 * section moved by delta bytes then describes the same code.
 */
static inline void sframe_rebase_starts(unsigned char *fdes, unsigned int nf,
					size_t stride, int version, long delta)
{
	unsigned int i;

	for (i = 0; i < nf; i++) {
		unsigned char *st = fdes + stride * i;

		if (version == 2) {
			int32_t v;

			memcpy(&v, st, 4);
			v += delta;
			memcpy(st, &v, 4);
		} else {
			int64_t v;

			memcpy(&v, st, 8);
			v += delta;
			memcpy(st, &v, 8);
		}
	}
}

#endif
