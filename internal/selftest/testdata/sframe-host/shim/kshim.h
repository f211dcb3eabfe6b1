/* Userspace shims so that kernel/unwind/sframe.c compiles and runs here */
#ifndef KSHIM_H
#define KSHIM_H
#define _GNU_SOURCE
#include <stdint.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <limits.h>
#include <sys/uio.h>
#include <unistd.h>
typedef uint8_t u8; typedef uint16_t u16; typedef uint32_t u32; typedef uint64_t u64;
typedef int8_t s8; typedef int16_t s16; typedef int32_t s32; typedef int64_t s64;
#define __packed __attribute__((packed))
#define __user
#define BIT(n) (1UL << (n))
#define U16_MAX 0xffff
#define SZ_256M (256UL << 20)
#define CONFIG_X86_64 1
#define CONFIG_UNWIND_USER_SFRAME 1
#define min_t(t, a, b) ((t)(a) < (t)(b) ? (t)(a) : (t)(b))
#define IS_ALIGNED(x, a) (((x) & ((a) - 1)) == 0)
#define container_of(p, t, m) ((t *)((char *)(p) - offsetof(t, m)))
#define GFP_KERNEL 0
#define kzalloc(n, f) calloc(1, n)
#define kzalloc_obj(p, ...) calloc(1, sizeof(p))
#define kfree free
#define kfree_rcu(p, f) free(p)
struct list_head { struct list_head *next, *prev; };
static inline void INIT_LIST_HEAD(struct list_head *l) { l->next = l->prev = l; }
static inline int list_empty(const struct list_head *l) { return l->next == l; }
static inline int list_empty_careful(struct list_head *l) { return l->next == l; }
static inline void list_add_tail_rcu(struct list_head *n, struct list_head *h)
{ n->prev = h->prev; n->next = h; h->prev->next = n; h->prev = n; }
static inline void list_del_rcu(struct list_head *e)
{ e->prev->next = e->next; e->next->prev = e->prev; }
#define list_entry(p, t, m) container_of(p, t, m)
#define list_for_each_entry(pos, head, m) \
	for (pos = list_entry((head)->next, __typeof__(*pos), m); &pos->m != (head); \
	     pos = list_entry(pos->m.next, __typeof__(*pos), m))
#define list_for_each_entry_rcu list_for_each_entry
#define list_for_each_entry_safe(pos, n, head, m) \
	for (pos = list_entry((head)->next, __typeof__(*pos), m), \
	     n = list_entry(pos->m.next, __typeof__(*pos), m); &pos->m != (head); \
	     pos = n, n = list_entry(n->m.next, __typeof__(*n), m))
struct rcu_head { void *p; };
typedef int spinlock_t;
#define spin_lock(l) ((void)(l))
#define spin_unlock(l) ((void)(l))
#define spin_lock_init(l) (*(l) = 0)
#define lockdep_assert_held(l) ((void)(l))
#define rcu_read_lock() do { } while (0)
#define rcu_read_unlock() do { } while (0)
struct mm_struct { struct list_head sframe_sections; spinlock_t sframe_lock; unsigned int sframe_nr; };
struct pt_regs { unsigned long ip, sp, bp; };
struct task_struct { struct mm_struct *mm; struct pt_regs regs; };
extern struct task_struct *current;
#define task_pt_regs(t) (&(t)->regs)
#define instruction_pointer(r) ((r)->ip)
#define user_stack_pointer(r) ((r)->sp)
#define in_nmi() 0
#define fatal_signal_pending(t) 0
#define cond_resched() do { } while (0)
#define access_ok(p, n) ((unsigned long)(p) + (n) >= (unsigned long)(p))
extern unsigned long shim_reads;
static inline unsigned long copy_from_user(void *dst, const void *src, size_t n)
{
	struct iovec l = { dst, n }, r = { (void *)src, n };
	shim_reads++;
	return process_vm_readv(getpid(), &l, 1, &r, 1, 0) == (ssize_t)n ? 0 : n;
}
#define get_user(x, p) ({ __typeof__(*(p)) __v; int __r = copy_from_user(&__v, p, sizeof(__v)) ? -EFAULT : 0; (x) = __v; __r; })
static inline u16 get_unaligned_le16(const void *p) { u16 v; memcpy(&v, p, 2); return v; }
static inline u32 get_unaligned_le32(const void *p) { u32 v; memcpy(&v, p, 4); return v; }
#endif
