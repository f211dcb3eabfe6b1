// SPDX-License-Identifier: GPL-2.0
/*
 * splat_trigger: a test module for kcheck's splat detector. Loaded with
 * what=<kind>, it makes the kernel print one real report of that kind on
 * the console. It exists only to produce the logs in ../ and for the
 * kcheck boot end-to-end tests; never load it on a machine you care about.
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/delay.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/sched/debug.h>
#include <linux/sched/signal.h>
#include <linux/debug_locks.h>
#include <linux/utsname.h>
#include <linux/slab.h>
#include <linux/ktime.h>
#include <linux/timekeeping.h>
#include <linux/rwsem.h>
#include <linux/timer.h>
#include <linux/kthread.h>
#include <linux/nmi.h>
#include <linux/list.h>
#include <linux/refcount.h>
#include <linux/uaccess.h>
#include <linux/fs.h>
#include <linux/mount.h>
#include <linux/dcache.h>
#include <linux/netdevice.h>
#include <linux/etherdevice.h>
#include <linux/workqueue.h>
#include <linux/io.h>
#include <linux/mm.h>

static char *what = "none";
module_param(what, charp, 0444);
MODULE_PARM_DESC(what, "warn|bug|null|gpf|lockdep|rcu-usage|atomic-sleep|rcu-stall|lockup|hung|panic|"
		 "divide|kasan-uaf|kasan-oob|double-free|bad-unlock|held-freed|lock-return|"
		 "non-static|recursive|inconsistent|still-held|sched-atomic|"
		 "kmemleak|list-del|ubsan-shift|ubsan-bounds|usercopy|stack-protector|double-fault|"
		 "vfs-busy|hard-lockup|gpf-kasan|refcount|warn-panic|hung-io|netdev-wait|kcsan|bus|cant-die");

static DEFINE_MUTEX(lock_a);
static DEFINE_MUTEX(lock_b);
static int __rcu *rcu_ptr;
static struct rcu_head stall_head;
static DECLARE_RWSEM(sem_r);
static DEFINE_SPINLOCK(lock_c);
static struct timer_list soft_timer;

struct locked {
	struct mutex m;
	spinlock_t s;
	char pad[32];
};

static void soft_timer_fn(struct timer_list *t)
{
	spin_lock(&lock_c);	/* in softirq: lock_c was taken with softirqs on */
	spin_unlock(&lock_c);
}

static int exit_locked(void *arg)
{
	mutex_lock(&lock_b);	/* and exit with it held */
	return 0;
}

static noinline void unbalanced_unlock(void)
{
	mutex_unlock(&lock_a);
}

static noinline void keep_locked(void)
{
	mutex_lock(&lock_b);
}

static void stall_cb(struct rcu_head *h)
{
}

/* Busy-wait on the clock: mdelay() is loop-calibrated and runs short under TCG. */
static noinline void spin_for(unsigned int secs)
{
	u64 end = ktime_get_ns() + (u64)secs * NSEC_PER_SEC;

	while (ktime_get_ns() < end)
		cpu_relax();
}

static noinline void take_ab(void)
{
	mutex_lock(&lock_a);
	mutex_lock(&lock_b);
	mutex_unlock(&lock_b);
	mutex_unlock(&lock_a);
}

static noinline void take_ba(void)
{
	mutex_lock(&lock_b);
	mutex_lock(&lock_a);
	mutex_unlock(&lock_a);
	mutex_unlock(&lock_b);
}

/*
 * The triggers of the debug kernel (kmemleak, DEBUG_LIST, UBSAN,
 * HARDENED_USERCOPY, STACKPROTECTOR, the buddy hard lockup detector:
 * see debugConfig in internal/boot). Each is its own function so that
 * the report names it.
 */
static noinline void *leak_buffer(void)
{
	char *p = kmalloc(96, GFP_KERNEL);

	if (p)
		memset(p, 0x5a, 96);	/* no pointer in it: nothing refers to it */
	return p;
}

static noinline void delete_twice(void)
{
	LIST_HEAD(head);
	struct list_head entry;

	list_add(&entry, &head);
	list_del(&entry);
	list_del(&entry);	/* entry->next is LIST_POISON1 now */
}

static noinline int shift_too_far(void)
{
	volatile int shift = 40;

	return 1 << shift;
}

static struct {
	int slot[4];
	int next;
} bounds;

static noinline void index_too_far(void)
{
	volatile int i = 4;

	bounds.slot[i] = 1;	/* lands in bounds.next: only UBSAN sees it */
}

static noinline void copy_too_much(void)
{
	char *p = kzalloc(32, GFP_KERNEL);
	volatile size_t n = 64;

	OPTIMIZER_HIDE_VAR(p);	/* no compile-time object size: the run-time check */
	if (copy_to_user((void __user *)NULL, p, n))
		pr_info("splat_trigger: copy failed\n");
	kfree(p);
}

static noinline __no_sanitize_address void smash_stack(void)
{
	char buf[8];
	volatile char *p = buf;
	volatile int n = 16;
	int i;

	OPTIMIZER_HIDE_VAR(p);
	for (i = 0; i < n; i++)
		p[i] = 'A';	/* over the canary */
}

/*
 * A read of a physical address that no device decodes: QEMU's arm virt
 * machine answers it with a synchronous external abort, which 32-bit ARM
 * reports as "Unhandled fault: external abort on non-linefetch" and
 * arm64 as "Internal error: synchronous external abort". 0x0b000000 lies
 * between virt's virtio-mmio transports and its platform bus.
 */
static noinline void read_undecoded(void)
{
#if defined(CONFIG_ARM) || defined(CONFIG_ARM64)
	void __iomem *p = ioremap(0x0b000000, PAGE_SIZE);

	if (p) {
		pr_info("splat_trigger: %x\n", readl(p));
		iounmap(p);
	}
#else
	pr_info("splat_trigger: bus is arm and arm64 only (QEMU virt)\n");
#endif
}

static noinline void fault_twice(void)
{
#ifdef CONFIG_X86_64
	/*
	 * A stack pointer on an unmapped page: the push faults, and so
	 * does pushing the page fault's frame on that stack.
	 */
	asm volatile("movq %%rsp, %%rax\n\t"
		     "movq $0x1000, %%rsp\n\t"
		     "pushq $0\n\t"
		     "movq %%rax, %%rsp" ::: "rax", "memory");
#else
	pr_info("splat_trigger: double-fault is x86_64 only\n");
#endif
}

/* always inlined: the divide error names trigger_init (guest/divide.log) */
static __always_inline void divide_by_zero(void)
{
#ifdef CONFIG_X86
	unsigned int lo = 1, hi = 0, zero = 0;

	/* C lets the compiler fold 1 / 0; the instruction cannot be */
	asm volatile("divl %2" : "+a" (lo), "+d" (hi) : "rm" (zero));
	pr_info("splat_trigger: %u\n", lo);
#else
	pr_info("splat_trigger: divide traps on x86 only\n");
#endif
}

static noinline void busy_unmount(void)
{
	struct file_system_type *type = get_fs_type("ramfs");
	struct vfsmount *mnt;

	if (!type)
		return;
	mnt = kern_mount(type);
	if (IS_ERR(mnt))
		return;
	ihold(d_inode(mnt->mnt_root));	/* never put: the inode stays busy */
	kern_unmount(mnt);
}

static noinline void spin_irqs_off(unsigned int secs)
{
	local_irq_disable();
	spin_for(secs);
	touch_softlockup_watchdog();	/* one report: the hard lockup */
	local_irq_enable();
}

struct counted {
	refcount_t ref;
	char pad[8];
};

static noinline void read_through_null(struct counted *c)
{
	pr_info("splat_trigger: %d\n", c->pad[5]);
}

static noinline void get_dead_ref(struct counted *c)
{
	refcount_inc(&c->ref);	/* from 0: a use after free */
}

#ifdef CONFIG_NET
/*
 * netdev-wait: a net device unregistered while a reference to it is
 * held. unregister_netdev() waits for the reference and says so every
 * netdev_unregister_timeout_secs (10 s); a work item drops it after 25 s.
 */
static struct net_device *held_dev;

static void put_held_dev(struct work_struct *work)
{
	dev_put(held_dev);
}

static DECLARE_DELAYED_WORK(put_work, put_held_dev);

static const struct net_device_ops held_ops = {};

static void held_setup(struct net_device *dev)
{
	ether_setup(dev);
	dev->netdev_ops = &held_ops;
}

static noinline void unregister_held(void)
{
	struct net_device *dev;

	dev = alloc_netdev(0, "splat%d", NET_NAME_ENUM, held_setup);
	if (!dev)
		return;
	if (register_netdev(dev)) {
		free_netdev(dev);
		return;
	}
	dev_hold(dev);
	held_dev = dev;
	schedule_delayed_work(&put_work, 25 * HZ);
	unregister_netdev(dev);
	free_netdev(dev);
}
#else
static void unregister_held(void)
{
	pr_info("splat_trigger: netdev-wait needs CONFIG_NET\n");
}
#endif

/*
 * kcsan: two threads increment one plain int with no lock, each from
 * its own function, for 4 s; KCSAN names both functions.
 */
static int racy_count;

static noinline void racy_inc_a(void)
{
	racy_count++;
}

static noinline void racy_add_b(void)
{
	racy_count += 2;
}

static int race_thread(void *arg)
{
	void (*step)(void) = arg;
	u64 end = ktime_get_ns() + 4 * NSEC_PER_SEC;

	while (ktime_get_ns() < end) {
		step();
		cond_resched();
	}
	return 0;
}

static noinline void race_two_threads(void)
{
	kthread_run(race_thread, racy_inc_a, "splat_race_a");
	kthread_run(race_thread, racy_add_b, "splat_race_b");
	msleep(5000);
}

/*
 * cant-die: the loading task (kinit's child) sleeps uninterruptibly for
 * CANT_DIE_SLEEP seconds and kinit sends it SIGKILL there, which cannot
 * wake it. kernel/hung_task.c reports such a task only as any blocked
 * one, after hung_task_timeout_secs (120 s by default); syzbot's kernels
 * carry a debugging patch that reports a killed task stuck in D state as
 * "can't die". The detector below does that from a delayed work: once
 * the task has been in TASK_UNINTERRUPTIBLE with a fatal signal pending
 * and not switched out for CANT_DIE_SECS, it prints the report in the
 * form of check_hung_task()'s, with the task's real stack.
 */
#define CANT_DIE_SECS	10
#define CANT_DIE_SLEEP	30

static struct task_struct *stuck_task;
static unsigned long stuck_switches;
static unsigned long stuck_since;
static bool stuck_seen;

/* print_tainted() is not exported: the same string from test_taint() */
static const char *taint_string(void)
{
	static const char letters[] = "PFSRMBUDAWCIOELKXTNJ";
	static char buf[sizeof("Tainted: ") + TAINT_FLAGS_COUNT];
	char *p = buf + strlen("Tainted: ");
	bool any = false;
	int i;

	strscpy(buf, "Tainted: ", sizeof(buf));
	for (i = 0; i < TAINT_FLAGS_COUNT; i++) {
		char c = i < sizeof(letters) - 1 ? letters[i] : '?';

		if (test_taint(i))
			any = true;
		else
			c = i ? ' ' : 'G';
		*p++ = c;
	}
	*p = 0;
	return any ? buf : "Not tainted";
}

static void report_cant_die(struct task_struct *t)
{
	pr_err("INFO: task %s:%d can't die for more than %lu seconds.\n",
	       t->comm, t->pid, (jiffies - stuck_since) / HZ);
	/* LINUX_PACKAGE_ID, the last field there, is "" but in official builds */
	pr_err("      %s %s %.*s\n", taint_string(), init_utsname()->release,
	       (int)strcspn(init_utsname()->version, " "), init_utsname()->version);
	pr_err("\"echo 0 > /proc/sys/kernel/hung_task_timeout_secs\" disables this message.\n");
	sched_show_task(t);
	debug_show_all_locks();
}

static void watch_stuck(struct work_struct *work);
static DECLARE_DELAYED_WORK(watch_work, watch_stuck);

static void watch_stuck(struct work_struct *work)
{
	struct task_struct *t = stuck_task;
	unsigned int state = READ_ONCE(t->__state);
	unsigned long switches = t->nvcsw + t->nivcsw;

	if (!(state & TASK_UNINTERRUPTIBLE) || (state & (TASK_WAKEKILL | TASK_NOLOAD)) ||
	    !fatal_signal_pending(t)) {
		stuck_seen = false;
	} else if (!stuck_seen || switches != stuck_switches) {
		stuck_seen = true;
		stuck_since = jiffies;
		stuck_switches = switches;
	} else if (time_after_eq(jiffies, stuck_since + CANT_DIE_SECS * HZ)) {
		report_cant_die(t);
		return;
	}
	schedule_delayed_work(&watch_work, HZ);
}

/* no argument: an IPA clone (.constprop) would rename it in the stack */
static noinline void sleep_unkillable(void)
{
	unsigned long end = jiffies + CANT_DIE_SLEEP * HZ;

	while (time_before(jiffies, end))
		schedule_timeout_uninterruptible(end - jiffies);
}

static int __init trigger_init(void)
{
	pr_info("splat_trigger: what=%s\n", what);
	if (!strcmp(what, "warn") || !strcmp(what, "warn-panic")) {
		WARN_ON(what[0] == 'w');
	} else if (!strcmp(what, "bug")) {
		BUG_ON(what[0] == 'b');
	} else if (!strcmp(what, "null")) {
		volatile int *p = NULL;
		*p = 1;
	} else if (!strcmp(what, "gpf")) {
#if BITS_PER_LONG == 64
		unsigned long addr = 0xdead000000000100UL;
#else
		/* the guard hole above the linear map: nothing maps it */
		unsigned long addr = (unsigned long)high_memory + 0x100;
#endif
		WRITE_ONCE(*(unsigned long *)addr, 1);
	} else if (!strcmp(what, "lockdep")) {
		take_ab();
		take_ba();
	} else if (!strcmp(what, "rcu-usage")) {
		int *p = rcu_dereference(rcu_ptr);	/* no rcu_read_lock() */
		pr_info("splat_trigger: %p\n", p);
	} else if (!strcmp(what, "atomic-sleep")) {
		preempt_disable();
		might_sleep();
		preempt_enable();
	} else if (!strcmp(what, "rcu-stall") || !strcmp(what, "lockup")) {
		/*
		 * Start a grace period (an idle system has none to stall),
		 * then spin with preemption off: this CPU reports no quiescent
		 * state and the watchdog thread cannot run.
		 */
		call_rcu(&stall_head, stall_cb);
		preempt_disable();
		spin_for(12);
		preempt_enable();
	} else if (!strcmp(what, "hung")) {
		schedule_timeout_uninterruptible(8 * HZ);
	} else if (!strcmp(what, "hung-io")) {
		/* counted as I/O wait: 6.19 on says "blocked in I/O wait" */
		set_current_state(TASK_UNINTERRUPTIBLE);
		io_schedule_timeout(8 * HZ);
	} else if (!strcmp(what, "panic")) {
		panic("splat_trigger: panic on request");
	} else if (!strcmp(what, "divide")) {
		divide_by_zero();
	} else if (!strcmp(what, "kasan-uaf") || !strcmp(what, "kasan-oob") ||
		   !strcmp(what, "double-free")) {
		volatile char *p = kmalloc(32, GFP_KERNEL);

		if (!strcmp(what, "kasan-oob")) {
			p[32] = 1;
		} else {
			kfree((void *)p);
			if (!strcmp(what, "kasan-uaf"))
				pr_info("splat_trigger: %d\n", p[0]);
			else
				kfree((void *)p);
		}
		if (!strcmp(what, "kasan-oob"))
			kfree((void *)p);
	} else if (!strcmp(what, "bad-unlock")) {
		unbalanced_unlock();
	} else if (!strcmp(what, "held-freed")) {
		struct locked *l = kmalloc(sizeof(*l), GFP_KERNEL);

		mutex_init(&l->m);
		mutex_lock(&l->m);
		kfree(l);
	} else if (!strcmp(what, "lock-return")) {
		keep_locked();	/* init_module returns to user space holding it */
	} else if (!strcmp(what, "non-static")) {
		struct locked *l = kzalloc(sizeof(*l), GFP_KERNEL);

		spin_lock(&l->s);	/* never spin_lock_init()ed */
		spin_unlock(&l->s);
		kfree(l);
	} else if (!strcmp(what, "recursive")) {
		down_read(&sem_r);
		down_read(&sem_r);
		up_read(&sem_r);
		up_read(&sem_r);
	} else if (!strcmp(what, "inconsistent")) {
		spin_lock(&lock_c);
		spin_unlock(&lock_c);
		timer_setup(&soft_timer, soft_timer_fn, 0);
		mod_timer(&soft_timer, jiffies + 1);
		msleep(200);
		timer_delete_sync(&soft_timer);
	} else if (!strcmp(what, "still-held")) {
		kthread_run(exit_locked, NULL, "splat_exit");
		msleep(200);
	} else if (!strcmp(what, "sched-atomic")) {
		preempt_disable();
		schedule_timeout_uninterruptible(1);
		preempt_enable();
	} else if (!strcmp(what, "kmemleak")) {
		leak_buffer();	/* kinit asks kmemleak to scan */
	} else if (!strcmp(what, "list-del")) {
		delete_twice();
	} else if (!strcmp(what, "ubsan-shift")) {
		pr_info("splat_trigger: %d\n", shift_too_far());
	} else if (!strcmp(what, "ubsan-bounds")) {
		index_too_far();
	} else if (!strcmp(what, "usercopy")) {
		copy_too_much();
	} else if (!strcmp(what, "stack-protector")) {
		smash_stack();
	} else if (!strcmp(what, "double-fault")) {
		fault_twice();
	} else if (!strcmp(what, "vfs-busy")) {
		busy_unmount();
	} else if (!strcmp(what, "hard-lockup")) {
		spin_irqs_off(8);
	} else if (!strcmp(what, "gpf-kasan")) {
		struct counted *c = NULL;

		OPTIMIZER_HIDE_VAR(c);
		read_through_null(c);
	} else if (!strcmp(what, "refcount")) {
		struct counted c = { .ref = REFCOUNT_INIT(0) };

		get_dead_ref(&c);
	} else if (!strcmp(what, "netdev-wait")) {
		unregister_held();
	} else if (!strcmp(what, "kcsan")) {
		race_two_threads();
	} else if (!strcmp(what, "bus")) {
		read_undecoded();
	} else if (!strcmp(what, "cant-die")) {
		/* the work is cancelled before this task can go away */
		stuck_task = current;
		schedule_delayed_work(&watch_work, HZ);
		sleep_unkillable();
		cancel_delayed_work_sync(&watch_work);
	}
	pr_info("splat_trigger: done\n");
	return 0;
}

static void __exit trigger_exit(void)
{
	rcu_barrier();
}

module_init(trigger_init);
module_exit(trigger_exit);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("make the kernel print a splat of a chosen kind");
