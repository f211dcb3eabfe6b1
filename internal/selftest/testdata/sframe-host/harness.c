// SPDX-License-Identifier: GPL-2.0
/*
 * Host check of kernel/unwind/sframe.c (as rendered by the templates):
 * compiled in user space with shims for the kernel API (shim/kshim.h;
 * copy_from_user is process_vm_readv on ourselves, so a bad address is an
 * -EFAULT, not a crash) and with AddressSanitizer and UBSan, by a
 * toolchain that writes SFrame v2 (internal/toolchain).
 *
 * 1. The program registers its own PT_GNU_SFRAME section and walks its
 *    own live stack from inside chains of known depth with the rules of
 *    sframe_find(), applied as unwind_user_next_common() in
 *    kernel/unwind/user.c applies them: every return address must match.
 * 2. It throws mutated copies of its section (rebased so that they
 *    describe its own code) at sframe_add_section() and walks with the
 *    ones accepted after mutating them again (a section that lies).
 *
 * Usage: harness [ITERATIONS]; exit 0 when every walk matched.
 */
#include "shim/kshim.h"
#include <stdio.h>
#include <sys/auxv.h>
#include <elf.h>
#include <sys/mman.h>
#include <linux/sframe.h>
#include <linux/unwind_user_types.h>
#include "chain.h"

/* The root has no /proc, which the leak checker needs */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "detect_leaks=0";
}

struct task_struct *current;
unsigned long shim_reads;
static struct mm_struct mm;
static struct task_struct task = { .mm = &mm };

static void *volatile expect[64];
static unsigned long got[64];
static int ngot;
extern char h_label[];

/*
 * One step of the walk: kernel/unwind/user.c's unwind_user_next_sframe()
 * and unwind_user_next_common(), with get_user() for the two reads (the
 * series reads them in one user access section, which user space has
 * no form of).
 */
static int step(struct unwind_user_state *st)
{
	struct unwind_user_frame f;
	unsigned long ip = st->ip, cfa, ra, fp = 0;

	if (ip != task.regs.ip || st->sp != task.regs.sp)
		ip--;
	if (sframe_find(ip, &f))
		return -EINVAL;
	cfa = (f.use_fp ? st->fp : st->sp) + f.cfa_off;
	if (cfa <= st->sp || (cfa & (sizeof(long) - 1)))
		return -EINVAL;
	if (get_user(ra, (unsigned long *)(cfa + f.ra_off)))
		return -EFAULT;
	if (f.fp_off && get_user(fp, (unsigned long *)(cfa + f.fp_off)))
		return -EFAULT;
	st->ip = ra;
	st->sp = cfa;
	if (f.fp_off)
		st->fp = fp;
	return 0;
}

static NOINLINE void capture(void)
{
	unsigned long sp, bp;
	struct unwind_user_state st;
	int i;

	expect[1] = __builtin_return_address(0);
	asm volatile("lea h_label(%%rip), %%rax\n\t"
		     "mov %%rsp, %0\n\t"
		     "mov %%rbp, %1\n"
		     ".globl h_label\nh_label:\n\t"
		     : "=r"(sp), "=r"(bp) :: "rax", "memory");
	memset(&st, 0, sizeof(st));
	st.ip = (unsigned long)h_label;
	st.sp = sp;
	st.fp = bp;
	task.regs.ip = st.ip;
	task.regs.sp = sp;
	task.regs.bp = bp;
	ngot = 0;
	got[ngot++] = st.ip;
	for (i = 0; i < 40; i++) {
		if (step(&st))
			break;
		got[ngot++] = st.ip;
	}
}

static NOINLINE long lvl(int n, int slot);

/* A frame with a big local array: the CFA is far from the stack pointer */
DEFINE_CHAIN_BIG_FRAME(big, int, lvl, expect, 900)

static NOINLINE long vla(int n, int slot)
{
	volatile char v[8 + (n & 7)];
	long r;

	v[0] = 1;
	expect[slot] = __builtin_return_address(0);
	r = lvl(n, slot + 1);
	BARRIER();
	return r + v[0];
}
static int nexp;
static NOINLINE long lvl(int n, int slot)
{
	long r;

	expect[slot] = __builtin_return_address(0);
	if (!n) {
		nexp = slot + 1;
		capture();
		return 0;
	}
	r = (n & 1) ? big(n - 1, slot + 1) : vla(n - 1, slot + 1);
	BARRIER();
	return r;
}


static uint64_t rng = 88172645463325252ULL;
static uint64_t rnd(void) { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng; }

static void fuzz(unsigned long s, unsigned long e, int iters)
{
	size_t len = e - s;
	unsigned char *buf = mmap((void *)((s + (64UL << 20)) & ~0xfffffUL), 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	const unsigned char *orig = (const unsigned char *)s;
	unsigned int auxlen = orig[7], fdes_off, nf, it;
	unsigned int stride = orig[2] == 2 ? 20 : 16;
	long delta = (long)s - (long)buf, acc = 0, ref = 0, walks = 0, maxwalk = 0;
	unsigned long reads0;

	memcpy(&nf, orig + 8, 4);
	memcpy(&fdes_off, orig + 20, 4);
	sframe_remove_section(s);
	for (it = 0; it < (unsigned)iters; it++) {
		unsigned int k = rnd() % 4, n = 1 + rnd() % 6, j;
		long r;

		memcpy(buf, orig, len);
		sframe_rebase_starts(buf + 28 + auxlen + fdes_off, nf, stride, orig[2], delta);
		for (j = 0; j < n; j++) {
			size_t at = k == 0 ? rnd() % len : k == 1 ? rnd() % 28 :
				    k == 2 ? 28 + auxlen + fdes_off + rnd() % (stride * nf) : rnd() % len;
			if (at >= len)
				at = len - 1;
			buf[at] = rnd() % 3 ? rnd() : (rnd() % 2 ? 0 : 0xff);
		}
		r = sframe_add_section((unsigned long)buf, (unsigned long)buf + len, 0, 0);
		if (r) {
			ref++;
			continue;
		}
		acc++;
		/* mutate again after registration: a lying section */
		for (j = 0; j < n; j++)
			buf[rnd() % len] ^= 1 << (rnd() % 8);
		reads0 = shim_reads;
		lvl(1 + rnd() % 10, 2);
		walks++;
		if ((long)(shim_reads - reads0) > maxwalk)
			maxwalk = shim_reads - reads0;
		if (sframe_remove_section((unsigned long)buf))
			printf("remove failed\n");
	}
	printf("fuzz: %d sections, %ld refused, %ld accepted and walked, at most %ld user reads per walk\n",
	       iters, ref, acc, maxwalk);
	sframe_add_section(s, e, 0, 0);
	munmap(buf, 1 << 20);
	(void)walks;
}

int main(int argc, char **argv)
{
	const Elf64_Phdr *ph = (const Elf64_Phdr *)getauxval(AT_PHDR);
	unsigned long n = getauxval(AT_PHNUM), bias = 0, s = 0, e = 0, i;
	int ok = 1, k;
	long r;

	current = &task;
	sframe_init_mm(&mm);
	for (i = 0; i < n; i++)
		if (ph[i].p_type == PT_PHDR)
			bias = (unsigned long)ph - ph[i].p_vaddr;
	for (i = 0; i < n; i++)
		if (ph[i].p_type == PT_LOOS + 0x474e554) {
			s = bias + ph[i].p_vaddr;
			e = s + ph[i].p_memsz;
		}
	r = sframe_add_section(s, e, 0, 0);
	printf("add_section(%#lx-%#lx) = %ld, %lu reads\n", s, e, r, shim_reads);
	if (r)
		return 1;
	for (k = 1; k < 20; k += 6) {
		long exp[64];
		int m = 0, j;

		lvl(k, 2);
		exp[m++] = (long)h_label;
		exp[m++] = (long)expect[1];
		for (j = nexp - 1; j >= 2; j--)
			exp[m++] = (long)expect[j];
		for (j = 0; j < m && j < ngot; j++)
			if ((long)got[j] != exp[j])
				break;
		printf("depth %d: %d of %d match (walk %d)\n", k, j, m, ngot);
		if (j != m) {
			ok = 0;
			for (j = 0; j < m || j < ngot; j++)
				printf("  [%d] %#lx %#lx\n", j, j < m ? exp[j] : 0, j < ngot ? got[j] : 0);
		}
	}
	fuzz(s, e, argc > 1 ? atoi(argv[1]) : 100000);
	(void)argv;
	return ok ? 0 : 1;
}
