// SPDX-License-Identifier: GPL-2.0
/*
 * unwind_test: exercise the deferred user-space unwinding API from task,
 * hard-irq and NMI context, on behalf of a user-space driver talking to
 * /dev/unwind_test (see unwind_test_uapi.h and ../README.md).
 *
 * The module is built out of tree against the kernel under test. The
 * unwind_deferred_* functions are not exported, so they (and do_exit) are
 * resolved at load time through kallsyms_lookup_name(), whose address is
 * taken from a kprobe placed on it.
 */
#define pr_fmt(fmt) "unwind_test: " fmt

#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/miscdevice.h>
#include <linux/fs.h>
#include <linux/uaccess.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/mutex.h>
#include <linux/spinlock.h>
#include <linux/sched.h>
#include <linux/kthread.h>
#include <linux/completion.h>
#include <linux/kprobes.h>
#include <linux/irq_work.h>
#include <linux/task_work.h>
#include <linux/srcu.h>
#include <linux/hrtimer.h>
#include <linux/hw_breakpoint.h>
#include <linux/delay.h>
#include <linux/ktime.h>
#include <linux/percpu.h>
#include <linux/atomic.h>
#include <linux/cpumask.h>
#include <linux/compat.h>
#include <asm/apic.h>
#include <asm/nmi.h>

#include "kdefer_probes.h"	/* KDEFER_HAVE_*: written by kcheck */
#include "unwind_test_uapi.h"

#if __has_include("linux/unwind_deferred.h")
#include <linux/unwind_deferred.h>
#if IS_ENABLED(CONFIG_UNWIND_USER)
#define UT_HAVE_API 1
#endif
#endif
#ifndef UT_HAVE_API
#define UT_HAVE_API 0
#endif

static unsigned long (*ut_lookup)(const char *name);
static void (*ut_do_exit)(long code);
static bool ut_nmi_registered;
static bool ut_fork_registered;
static char ut_why[128];

static DEFINE_MUTEX(ut_mutex);		/* tracer table, stress setup */

/* ------------------------------------------------------------------ */
/* Callback records                                                    */

#define UT_RING 512
static struct ut_record ut_ring[UT_RING];
static unsigned int ut_head, ut_count;
static u64 ut_seq, ut_dropped;
static DEFINE_RAW_SPINLOCK(ut_ring_lock);

static struct ut_record *ut_ring_reserve(unsigned long *flags)
{
	struct ut_record *r;

	raw_spin_lock_irqsave(&ut_ring_lock, *flags);
	if (ut_count == UT_RING) {
		ut_dropped++;
		raw_spin_unlock_irqrestore(&ut_ring_lock, *flags);
		return NULL;
	}
	r = &ut_ring[(ut_head + ut_count) % UT_RING];
	ut_count++;
	memset(r, 0, sizeof(*r));
	r->seq = ++ut_seq;
	r->pid = current->pid;
	return r;
}

static void ut_ring_commit(unsigned long flags)
{
	raw_spin_unlock_irqrestore(&ut_ring_lock, flags);
}

static void ut_ring_clear(void)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&ut_ring_lock, flags);
	ut_head = 0;
	ut_count = 0;
	ut_dropped = 0;
	raw_spin_unlock_irqrestore(&ut_ring_lock, flags);
}

static long ut_ring_read(struct ut_read __user *uarg)
{
	struct ut_record *tmp;
	struct ut_read rd;
	unsigned long flags;
	u64 n = 0;
	long ret = 0;

	if (copy_from_user(&rd, uarg, sizeof(rd)))
		return -EFAULT;
	tmp = kmalloc(sizeof(*tmp), GFP_KERNEL);
	if (!tmp)
		return -ENOMEM;
	while (n < rd.max) {
		raw_spin_lock_irqsave(&ut_ring_lock, flags);
		if (!ut_count) {
			raw_spin_unlock_irqrestore(&ut_ring_lock, flags);
			break;
		}
		*tmp = ut_ring[ut_head];
		ut_head = (ut_head + 1) % UT_RING;
		ut_count--;
		raw_spin_unlock_irqrestore(&ut_ring_lock, flags);
		if (copy_to_user(u64_to_user_ptr(rd.buf) + n * sizeof(*tmp),
				 tmp, sizeof(*tmp))) {
			ret = -EFAULT;
			break;
		}
		n++;
	}
	kfree(tmp);
	rd.count = n;
	raw_spin_lock_irqsave(&ut_ring_lock, flags);
	rd.dropped = ut_dropped;
	raw_spin_unlock_irqrestore(&ut_ring_lock, flags);
	if (!ret && copy_to_user(uarg, &rd, sizeof(rd)))
		ret = -EFAULT;
	return ret;
}

/*
 * The locks of UT_UACCESS_LOCKS and of the twa 2 model; the lock pair
 * figure uses them without the API too.
 */
DEFINE_STATIC_SRCU(ut_cost_srcu);
static DEFINE_RAW_SPINLOCK(ut_cost_lock);

#if UT_HAVE_API
static typeof(unwind_deferred_init) *ut_init;
static typeof(unwind_deferred_request) *ut_request;
static typeof(unwind_deferred_cancel) *ut_cancel;

/* ------------------------------------------------------------------ */
/* Tracers                                                             */

struct ut_tracer {
	struct unwind_work work;
	int id;
	bool live;
	u64 on_cb_request;
	u64 delay_ms;
	atomic_t inflight;
};

static struct ut_tracer ut_tracers[UT_MAX_TRACERS];

/* Stress accounting: one slot per enrolled thread. */
struct ut_slot {
	pid_t pid;
	atomic64_t pending[UT_SUB];	/* cookie of the queued request, or 0 */
	int pending_ctx[UT_SUB];	/* where it was queued (diagnostics) */
};

#define UT_SLOTS 64
static struct ut_slot ut_slots[UT_SLOTS];
static int ut_nslots;
static bool ut_stress_on;
static u64 ut_stress_mask;
static struct hrtimer ut_stress_timer;
static ktime_t ut_stress_period;
static atomic64_t st_queued, st_callbacks, st_already, st_refused, st_double,
	st_unmatched, st_nmis_sent, st_nmis_handled, st_nmi_req, st_irq_req,
	st_task_req;

static struct ut_slot *ut_slot_find(pid_t pid)
{
	/* Pairs with the release in ut_stress_enroll(): the slot is filled */
	int i, n = smp_load_acquire(&ut_nslots);

	for (i = 0; i < n; i++)
		if (READ_ONCE(ut_slots[i].pid) == pid)
			return &ut_slots[i];
	return NULL;
}

static bool ut_stress_tracer(int id)
{
	return READ_ONCE(ut_stress_on) && id < UT_SUB &&
	       (READ_ONCE(ut_stress_mask) & BIT_ULL(id));
}

static void ut_stress_callback(int id, u64 cookie)
{
	struct ut_slot *s = ut_slot_find(current->pid);

	u64 old = 0;

	if (s && cookie)
		old = atomic64_cmpxchg(&s->pending[id], cookie, 0);
	if (!s || !cookie || old != cookie) {
		atomic64_inc(&st_unmatched);
		if (atomic64_read(&st_unmatched) <= 4)
			pr_err("stress: unmatched callback: tracer %d pid %d cookie %llx, queued cookie %llx from %s\n",
			       id, current->pid, cookie, s ? old : 0,
			       !s ? "-" : s->pending_ctx[id] == UT_CTX_NMI ? "NMI" :
			       s->pending_ctx[id] == UT_CTX_IRQ ? "irq" : "task");
		return;
	}
	atomic64_inc(&st_callbacks);
}

static void ut_callback(struct unwind_work *work,
			struct unwind_stacktrace *trace, u64 cookie)
{
	struct ut_tracer *t = container_of(work, struct ut_tracer, work);
	s64 sub_ret[UT_SUB];
	u64 sub_cookie[UT_SUB];
	/* one-shot: a buggy kernel that calls back again must not loop */
	u64 sub = xchg(&t->on_cb_request, 0);
	struct ut_record *r;
	unsigned long flags;
	unsigned int i, n;

	atomic_inc(&t->inflight);
	if (ut_stress_tracer(t->id)) {
		ut_stress_callback(t->id, cookie);
		goto out;
	}

	for (i = 0; i < UT_SUB; i++) {
		sub_ret[i] = 0;
		sub_cookie[i] = 0;
		if (!(sub & BIT_ULL(i)) || !READ_ONCE(ut_tracers[i].live))
			continue;
		sub_ret[i] = ut_request(&ut_tracers[i].work, &sub_cookie[i]);
	}

	r = ut_ring_reserve(&flags);
	if (r) {
		r->tracer = t->id;
		r->cookie = cookie;
		r->nr = trace->nr;
		if (in_task())
			r->flags |= UT_REC_TASK;
		if (current->flags & PF_EXITING)
			r->flags |= UT_REC_EXITING;
		if (current->flags & PF_KTHREAD)
			r->flags |= UT_REC_KTHREAD;
		n = min_t(unsigned int, trace->nr, UT_NR_COPY);
		for (i = 0; i < n && trace->entries; i++)
			r->entries[i] = trace->entries[i];
		if (trace->nr && trace->entries)
			r->last = trace->entries[trace->nr - 1];
		r->sub_mask = sub;
		for (i = 0; i < UT_SUB; i++) {
			r->sub_ret[i] = sub_ret[i];
			r->sub_cookie[i] = sub_cookie[i];
		}
		ut_ring_commit(flags);
	}

	if (t->delay_ms)
		mdelay(t->delay_ms);
out:
	atomic_dec(&t->inflight);
}

/* Log a request made right before do_exit(), which cannot report back. */
static void ut_log_request(int id, s64 ret, u64 cookie)
{
	struct ut_record *r;
	unsigned long flags;

	r = ut_ring_reserve(&flags);
	if (!r)
		return;
	r->tracer = id;
	r->cookie = cookie;
	r->flags = UT_REC_REQLOG;
	r->sub_ret[0] = ret;
	ut_ring_commit(flags);
}

static long ut_register(struct ut_register __user *uarg)
{
	struct ut_register *reg;
	unsigned int i, id;
	long ret = 0;

	reg = memdup_user(uarg, sizeof(*reg));
	if (IS_ERR(reg))
		return PTR_ERR(reg);
	mutex_lock(&ut_mutex);
	reg->nr = 0;
	for (i = 0; i < reg->count && i < UT_MAX_TRACERS; i++) {
		for (id = 0; id < UT_MAX_TRACERS; id++)
			if (!ut_tracers[id].live)
				break;
		if (id == UT_MAX_TRACERS) {
			reg->ret[i] = -ENOSPC;
			reg->nr++;
			break;
		}
		reg->ret[i] = ut_init(&ut_tracers[id].work, ut_callback);
		reg->bit[i] = ut_tracers[id].work.bit;
		reg->id[i] = id;
		reg->nr++;
		if (reg->ret[i])
			break;
		ut_tracers[id].id = id;
		ut_tracers[id].on_cb_request = 0;
		ut_tracers[id].delay_ms = 0;
		WRITE_ONCE(ut_tracers[id].live, true);
	}
	mutex_unlock(&ut_mutex);
	if (copy_to_user(uarg, reg, sizeof(*reg)))
		ret = -EFAULT;
	kfree(reg);
	return ret;
}

static u64 ut_cancel_mask(u64 mask)
{
	unsigned int id;
	u64 inflight = 0;

	mutex_lock(&ut_mutex);
	for (id = 0; id < UT_MAX_TRACERS; id++) {
		if (!(mask & BIT_ULL(id)) || !ut_tracers[id].live)
			continue;
		ut_cancel(&ut_tracers[id].work);
		WRITE_ONCE(ut_tracers[id].live, false);
		inflight += atomic_read(&ut_tracers[id].inflight);
	}
	mutex_unlock(&ut_mutex);
	return inflight;
}

static long ut_tracer_cfg(struct ut_tracer_cfg __user *uarg)
{
	struct ut_tracer_cfg cfg;

	if (copy_from_user(&cfg, uarg, sizeof(cfg)))
		return -EFAULT;
	if (cfg.id >= UT_MAX_TRACERS || !ut_tracers[cfg.id].live)
		return -ENOENT;
	WRITE_ONCE(ut_tracers[cfg.id].on_cb_request, cfg.on_cb_request);
	WRITE_ONCE(ut_tracers[cfg.id].delay_ms, min_t(u64, cfg.delay_ms, 2000));
	return 0;
}

/* ------------------------------------------------------------------ */
/* Requests from task, irq and NMI context                             */

static u64 ut_observe(void)
{
	u64 obs = 0;

	if (in_nmi())
		obs |= UT_OBS_NMI;
	if (in_hardirq())
		obs |= UT_OBS_HARDIRQ;
	if (in_task())
		obs |= UT_OBS_TASK;
	return obs;
}


/*
 * The base kernel's part of a request: task_work_add() of an empty work
 * for current with the notify mode unwind_deferred_request() uses in this
 * context (from NMI, TWA_NMI_CURRENT: the flag, then an irq_work to
 * raise the return-to-user path). The work runs on the way back to user
 * space, as the unwind task_work does. One at a time: 1 while queued.
 */
static atomic_t ut_twa_busy;
static struct callback_head ut_twa_head;

static void ut_twa_fn(struct callback_head *head)
{
	atomic_set_release(&ut_twa_busy, 0);
}

/*
 * twa 2: the task_work does, with this module's code, the work of a
 * request's way out: a frame-pointer walk of the user stack with
 * get_user() (the same checks as the series' and 7.2's walker), into a
 * buffer; the SRCU read side; and, inside it, what the test callback
 * does with a trace (a ring record, reserved, filled and given back), so
 * that a request can be set against the same work on the same kernel.
 */
#define UT_MODEL_MAX	64

static void ut_model_fn(struct callback_head *head)
{
	struct pt_regs *regs = task_pt_regs(current);
	unsigned long sp = regs->sp, fp = regs->bp, cfa, ra, next;
	unsigned long entries[UT_MODEL_MAX];
	struct ut_record *r;
	unsigned long flags;
	unsigned int n = 0, i;
	int idx;

	entries[n++] = regs->ip;
	while (n < UT_MODEL_MAX) {
		if (fp < sp)
			break;
		cfa = fp + 2 * sizeof(long);
		if (cfa <= sp || !IS_ALIGNED(cfa, sizeof(long)))
			break;
		if (get_user(ra, (unsigned long __user *)(cfa - sizeof(long))) ||
		    get_user(next, (unsigned long __user *)(cfa - 2 * sizeof(long))))
			break;
		entries[n++] = ra;
		sp = cfa;
		fp = next;
	}
	idx = srcu_read_lock(&ut_cost_srcu);
	r = ut_ring_reserve(&flags);
	if (r) {
		r->nr = n;
		for (i = 0; i < n && i < UT_NR_COPY; i++)
			r->entries[i] = entries[i];
		r->last = entries[n - 1];
		/* given back: the model leaves no record */
		ut_count--;
		ut_seq--;
		ut_ring_commit(flags);
	}
	srcu_read_unlock(&ut_cost_srcu, idx);
	atomic_set_release(&ut_twa_busy, 0);
}

static long ut_twa(u64 how)
{
#ifdef KDEFER_HAVE_TWA_NMI_CURRENT
#ifdef KDEFER_HAVE_TWAF_NO_ALLOC
	int mode = TWA_RESUME | TWAF_NO_ALLOC;	/* as the series' request */
#else
	int mode = TWA_RESUME;
#endif

	if (in_nmi())
		mode = TWA_NMI_CURRENT;
	if (atomic_cmpxchg(&ut_twa_busy, 0, 1))
		return 1;
	init_task_work(&ut_twa_head, how == 2 ? ut_model_fn : ut_twa_fn);
	if (task_work_add(current, &ut_twa_head, mode)) {
		atomic_set(&ut_twa_busy, 0);
		return -ESRCH;
	}
	return 0;
#else
	return -EOPNOTSUPP;
#endif
}

static void ut_do_step(struct ut_step *st)
{
	unsigned int id;

	st->observed |= ut_observe();
	if (st->twa) {
		st->ret[0] = ut_twa(st->twa);
		return;
	}
	for (id = 0; id < UT_MAX_TRACERS; id++) {
		if (!(st->mask & BIT_ULL(id)))
			continue;
		if (!READ_ONCE(ut_tracers[id].live)) {
			st->ret[id] = -ENOENT;
			continue;
		}
		st->ret[id] = ut_request(&ut_tracers[id].work, &st->cookie[id]);
	}
}

static void ut_stress_request(u64 ctx)
{
	struct ut_slot *s = ut_slot_find(current->pid);
	u64 mask = READ_ONCE(ut_stress_mask);
	unsigned int id;
	u64 cookie;
	int ret;

	if (!s || !READ_ONCE(ut_stress_on))
		return;
	if (ctx == UT_CTX_NMI)
		atomic64_inc(&st_nmi_req);
	else if (ctx == UT_CTX_IRQ)
		atomic64_inc(&st_irq_req);
	else
		atomic64_inc(&st_task_req);
	for (id = 0; id < UT_SUB; id++) {
		if (!(mask & BIT_ULL(id)))
			continue;
		ret = ut_request(&ut_tracers[id].work, &cookie);
		if (ret == 0) {
			atomic64_inc(&st_queued);
			/*
			 * Take the slot even if it is not free, so that one
			 * error is counted once and does not cascade.
			 */
			u64 prev = atomic64_xchg(&s->pending[id], cookie);

			s->pending_ctx[id] = ctx;
			if (prev) {
				atomic64_inc(&st_double);
				if (atomic64_read(&st_double) <= 4)
					pr_err("stress: tracer %d pid %d queued again (%llx from ctx %d) while %llx is pending\n",
					       id, current->pid, cookie, (int)ctx,
					       prev);
			}
		} else if (ret == 1) {
			atomic64_inc(&st_already);
		} else {
			atomic64_inc(&st_refused);
		}
	}
}

/* Self-NMI */
static DEFINE_PER_CPU(atomic_t, ut_nmi_armed);

struct ut_nmi_work {
	struct task_struct *task;
	struct ut_step *st;	/* NULL: stress request */
	int done;
};

static DEFINE_PER_CPU(struct ut_nmi_work *, ut_nmi_work);

static int ut_nmi_handler(unsigned int cmd, struct pt_regs *regs)
{
	struct ut_nmi_work *w;

	if (atomic_dec_if_positive(this_cpu_ptr(&ut_nmi_armed)) < 0)
		return NMI_DONE;
	atomic64_inc(&st_nmis_handled);
	w = this_cpu_read(ut_nmi_work);
	if (w && !w->done && w->task == current) {
		if (w->st)
			ut_do_step(w->st);
		else
			ut_stress_request(UT_CTX_NMI);
		/* Pairs with the acquire in ut_wait_done(): the step is done */
		smp_store_release(&w->done, 1);
	} else if (READ_ONCE(ut_stress_on)) {
		ut_stress_request(UT_CTX_NMI);
	}
	return NMI_HANDLED;
}

/*
 * Wait for the NMI or irq_work handler to finish a step. The bound is
 * generous: a guest's clock runs on while the host keeps its vCPU off
 * the CPU, so a loaded host can make a prompt NMI look seconds late.
 */
static bool ut_wait_done(int *done)
{
	ktime_t end = ktime_add_ms(ktime_get(), 10000);

	/* Pairs with the release in the NMI or irq_work handler */
	while (!smp_load_acquire(done)) {
		if (ktime_after(ktime_get(), end))
			return false;
		cpu_relax();
	}
	return true;
}

static void ut_step_nmi(struct ut_step *st)
{
	struct ut_nmi_work w = { .task = current, .st = st };

	if (!ut_nmi_registered) {
		st->observed |= UT_OBS_TIMEOUT;
		return;
	}
	preempt_disable();
	this_cpu_write(ut_nmi_work, &w);
	atomic_inc(this_cpu_ptr(&ut_nmi_armed));
	apic->send_IPI(smp_processor_id(), NMI_VECTOR);
	if (!ut_wait_done(&w.done))
		st->observed |= UT_OBS_TIMEOUT;
	this_cpu_write(ut_nmi_work, NULL);
	preempt_enable();
}

/* Hard irq_work */
struct ut_irq_work {
	struct irq_work iw;
	struct task_struct *task;
	struct ut_step *st;
	int done;
};

static void ut_irq_fn(struct irq_work *iw)
{
	struct ut_irq_work *w = container_of(iw, struct ut_irq_work, iw);

	if (w->task == current) {
		if (w->st)
			ut_do_step(w->st);
		else
			ut_stress_request(UT_CTX_IRQ);
	}
	/* Pairs with the acquire in ut_wait_done(): the step is done */
	smp_store_release(&w->done, 1);
}

static void ut_step_irq(struct ut_step *st)
{
	struct ut_irq_work w = {
		.iw = IRQ_WORK_INIT_HARD(ut_irq_fn),
		.task = current,
		.st = st,
	};

	preempt_disable();
	irq_work_queue(&w.iw);
	if (!ut_wait_done(&w.done) && st)
		st->observed |= UT_OBS_TIMEOUT;
	preempt_enable();
	irq_work_sync(&w.iw);
}

static long ut_request_ioctl(struct ut_request __user *uarg)
{
	struct ut_request *rq;
	unsigned int i, id;
	long ret = 0;

	rq = memdup_user(uarg, sizeof(*rq));
	if (IS_ERR(rq))
		return PTR_ERR(rq);
	if (rq->nsteps > UT_STEPS) {
		ret = -EINVAL;
		goto out;
	}
	for (i = 0; i < rq->nsteps; i++) {
		struct ut_step *st = &rq->step[i];

		st->observed = 0;
		memset(st->ret, 0, sizeof(st->ret));
		memset(st->cookie, 0, sizeof(st->cookie));
		switch (st->ctx) {
		case UT_CTX_TASK:
			ut_do_step(st);
			break;
		case UT_CTX_NMI:
			ut_step_nmi(st);
			break;
		case UT_CTX_IRQ:
			ut_step_irq(st);
			break;
		default:
			ret = -EINVAL;
			goto out;
		}
	}
	if (rq->flags & UT_REQ_CANCEL)
		rq->cancel_mask = ut_cancel_mask(rq->cancel_mask);
	if (rq->flags & UT_REQ_EXIT) {
		long code = (rq->exit_code & 0xff) << 8;

		if (!ut_do_exit) {
			ret = -EOPNOTSUPP;
			goto out;
		}
		for (i = 0; i < rq->nsteps; i++)
			for (id = 0; id < UT_MAX_TRACERS; id++)
				if (rq->step[i].mask & BIT_ULL(id))
					ut_log_request(id, rq->step[i].ret[id],
						       rq->step[i].cookie[id]);
		kfree(rq);
		ut_do_exit(code);
		/* not reached */
	}
	if (copy_to_user(uarg, rq, sizeof(*rq)))
		ret = -EFAULT;
out:
	kfree(rq);
	return ret;
}

/* ------------------------------------------------------------------ */
/* Kthread                                                             */

struct ut_kthread_ctx {
	int id;
	int ret;
	u64 cookie;
	struct completion done;
};

static int ut_kthread_fn(void *data)
{
	struct ut_kthread_ctx *c = data;

	c->ret = ut_request(&ut_tracers[c->id].work, &c->cookie);
	complete(&c->done);
	return 0;
}

static long ut_kthread(struct ut_kthread __user *uarg)
{
	struct ut_kthread k;
	struct ut_kthread_ctx c = { };
	struct task_struct *t;

	if (copy_from_user(&k, uarg, sizeof(k)))
		return -EFAULT;
	if (k.id >= UT_MAX_TRACERS || !ut_tracers[k.id].live)
		return -ENOENT;
	c.id = k.id;
	init_completion(&c.done);
	t = kthread_run(ut_kthread_fn, &c, "unwind_test_kt");
	if (IS_ERR(t))
		return PTR_ERR(t);
	wait_for_completion(&c.done);
	k.ret = c.ret;
	k.cookie = c.cookie;
	if (copy_to_user(uarg, &k, sizeof(k)))
		return -EFAULT;
	return 0;
}

/* ------------------------------------------------------------------ */
/* Fork: request from kernel_clone() of an armed parent                 */

static pid_t ut_fork_pid = -1;
static struct ut_fork ut_fork_res;
static u64 ut_fork_mask;

static int ut_fork_pre(struct kprobe *p, struct pt_regs *regs)
{
	unsigned int id;

	if (current->pid != READ_ONCE(ut_fork_pid))
		return 0;
	WRITE_ONCE(ut_fork_pid, -1);
	ut_fork_res.hit = 1;
	ut_fork_res.pid = current->pid;
	for (id = 0; id < UT_SUB; id++) {
		if (!(ut_fork_mask & BIT_ULL(id)) || !ut_tracers[id].live)
			continue;
		ut_fork_res.ret[id] = ut_request(&ut_tracers[id].work,
						 &ut_fork_res.cookie[id]);
	}
	return 0;
}

static struct kprobe ut_fork_kp = {
	.symbol_name = "kernel_clone",
	.pre_handler = ut_fork_pre,
};

static long ut_fork_arm(struct ut_fork __user *uarg)
{
	struct ut_fork f;

	if (!ut_fork_registered)
		return -EOPNOTSUPP;
	if (copy_from_user(&f, uarg, sizeof(f)))
		return -EFAULT;
	memset(&ut_fork_res, 0, sizeof(ut_fork_res));
	ut_fork_mask = f.mask;
	/*
	 * Only this task acts on the armed pid, in its own fork, so program
	 * order publishes the mask and the cleared result; other tasks only
	 * compare the pid with theirs.
	 */
	WRITE_ONCE(ut_fork_pid, current->pid);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Stress                                                              */

static enum hrtimer_restart ut_stress_tick(struct hrtimer *t)
{
	int cpu;

	for_each_online_cpu(cpu)
		atomic_inc(per_cpu_ptr(&ut_nmi_armed, cpu));
	atomic64_add(num_online_cpus(), &st_nmis_sent);
	apic->send_IPI_mask(cpu_online_mask, NMI_VECTOR);
	hrtimer_forward_now(t, ut_stress_period);
	return HRTIMER_RESTART;
}

static long ut_stress_start(struct ut_stress __user *uarg)
{
	struct ut_stress s;
	unsigned int i, j;

	if (copy_from_user(&s, uarg, sizeof(s)))
		return -EFAULT;
	mutex_lock(&ut_mutex);
	if (ut_stress_on) {
		mutex_unlock(&ut_mutex);
		return -EBUSY;
	}
	for (i = 0; i < UT_SLOTS; i++) {
		ut_slots[i].pid = 0;
		for (j = 0; j < UT_SUB; j++)
			atomic64_set(&ut_slots[i].pending[j], 0);
	}
	/* Pairs with the acquire in ut_slot_find(): the slots are cleared */
	smp_store_release(&ut_nslots, 0);
	atomic64_set(&st_queued, 0);
	atomic64_set(&st_callbacks, 0);
	atomic64_set(&st_already, 0);
	atomic64_set(&st_refused, 0);
	atomic64_set(&st_double, 0);
	atomic64_set(&st_unmatched, 0);
	atomic64_set(&st_nmis_sent, 0);
	atomic64_set(&st_nmis_handled, 0);
	atomic64_set(&st_nmi_req, 0);
	atomic64_set(&st_irq_req, 0);
	atomic64_set(&st_task_req, 0);
	WRITE_ONCE(ut_stress_mask, s.mask & (BIT_ULL(UT_SUB) - 1));
	WRITE_ONCE(ut_stress_on, true);
	if (s.period_us && ut_nmi_registered) {
		ut_stress_period = ns_to_ktime(max_t(u64, s.period_us, 100) * NSEC_PER_USEC);
		hrtimer_start(&ut_stress_timer, ut_stress_period,
			      HRTIMER_MODE_REL);
	}
	mutex_unlock(&ut_mutex);
	return 0;
}

static long ut_stress_enroll(void)
{
	long ret = 0;

	mutex_lock(&ut_mutex);
	if (ut_nslots == UT_SLOTS) {
		ret = -ENOSPC;
	} else {
		ut_slots[ut_nslots].pid = current->pid;
		/* Pairs with the acquire in ut_slot_find(): pid is set */
		smp_store_release(&ut_nslots, ut_nslots + 1);
	}
	mutex_unlock(&ut_mutex);
	return ret;
}

static long ut_stress_stop(struct ut_stress __user *uarg)
{
	struct ut_stress s = { };
	int i, j, cpu;

	hrtimer_cancel(&ut_stress_timer);
	msleep(20);	/* let NMIs in flight land */
	mutex_lock(&ut_mutex);
	WRITE_ONCE(ut_stress_on, false);
	for_each_possible_cpu(cpu)
		atomic_set(per_cpu_ptr(&ut_nmi_armed, cpu), 0);
	s.mask = ut_stress_mask;
	for (i = 0; i < ut_nslots; i++)
		for (j = 0; j < UT_SUB; j++)
			if (atomic64_read(&ut_slots[i].pending[j])) {
				if (++s.lost <= 4)
					pr_err("stress: pid %d tracer %d never called back\n",
				       ut_slots[i].pid, j);
			}
	s.enrolled = ut_nslots;
	mutex_unlock(&ut_mutex);
	s.queued = atomic64_read(&st_queued);
	s.callbacks = atomic64_read(&st_callbacks);
	s.already = atomic64_read(&st_already);
	s.refused = atomic64_read(&st_refused);
	s.double_queue = atomic64_read(&st_double);
	s.unmatched = atomic64_read(&st_unmatched);
	s.nmis_sent = atomic64_read(&st_nmis_sent);
	s.nmis_handled = atomic64_read(&st_nmis_handled);
	s.nmi_requests = atomic64_read(&st_nmi_req);
	s.irq_requests = atomic64_read(&st_irq_req);
	s.task_requests = atomic64_read(&st_task_req);
	if (copy_to_user(uarg, &s, sizeof(s)))
		return -EFAULT;
	return 0;
}

static long ut_stress_req(unsigned long ctx)
{
	switch (ctx) {
	case UT_CTX_TASK:
		ut_stress_request(UT_CTX_TASK);
		return 0;
	case UT_CTX_IRQ:
		ut_step_irq(NULL);
		return 0;
	case UT_CTX_NMI: {
		struct ut_nmi_work w = { .task = current };

		if (!ut_nmi_registered)
			return -EOPNOTSUPP;
		preempt_disable();
		this_cpu_write(ut_nmi_work, &w);
		atomic_inc(this_cpu_ptr(&ut_nmi_armed));
		apic->send_IPI(smp_processor_id(), NMI_VECTOR);
		ut_wait_done(&w.done);
		this_cpu_write(ut_nmi_work, NULL);
		preempt_enable();
		return 0;
	}
	}
	return -EINVAL;
}

/* ------------------------------------------------------------------ */
/* The reset window                                                    */

static struct perf_event *ut_window_bp;
static struct task_struct *ut_window_task;
static int ut_window_tracer;
static struct ut_window ut_window_res;

/*
 * A write to current's unwind_mask (a #DB trap after the write, handled
 * as an NMI). The reset on the way to user space clears the mask before
 * it clears the cookie: a request made right there belongs to the next
 * entry context and must not get the ending context's cookie.
 */
static void ut_window_hit(struct perf_event *bp, struct perf_sample_data *data,
			  struct pt_regs *regs)
{
	struct unwind_task_info *info = &current->unwind_info;
	u64 cookie = 0;

	if (current != READ_ONCE(ut_window_task) || ut_window_res.fired)
		return;
	ut_window_res.hits++;
	if (atomic_long_read(&info->unwind_mask) || !info->id.id)
		return;
	ut_window_res.fired = 1;
	ut_window_res.in_nmi = in_nmi();
	ut_window_res.stale = info->id.id;
	ut_window_res.ret_b = ut_request(&ut_tracers[ut_window_tracer].work,
					 &cookie);
	ut_window_res.cookie_b = cookie;
}

static bool ut_tracer_live(u64 id)
{
	return id < UT_MAX_TRACERS && ut_tracers[id].live;
}

static long ut_window_arm(struct ut_window __user *uarg)
{
	struct perf_event_attr attr;
	struct perf_event *bp;
	struct ut_window w;
	u64 cookie = 0;

	if (copy_from_user(&w, uarg, sizeof(w)))
		return -EFAULT;
	if (!ut_tracer_live(w.tracer_a) || !ut_tracer_live(w.tracer_b))
		return -EINVAL;
	guard(mutex)(&ut_mutex);
	if (ut_window_bp)
		return -EBUSY;
	memset(&ut_window_res, 0, sizeof(ut_window_res));
	ut_window_tracer = w.tracer_b;
	hw_breakpoint_init(&attr);
	attr.bp_addr = (unsigned long)&current->unwind_info.unwind_mask;
	attr.bp_len = HW_BREAKPOINT_LEN_8;
	attr.bp_type = HW_BREAKPOINT_W;
	bp = register_user_hw_breakpoint(&attr, ut_window_hit, NULL, current);
	if (IS_ERR(bp))
		return PTR_ERR(bp);
	ut_window_bp = bp;
	WRITE_ONCE(ut_window_task, current);
	w.ret_a = ut_request(&ut_tracers[w.tracer_a].work, &cookie);
	w.cookie_a = cookie;
	ut_window_res.ret_a = w.ret_a;
	ut_window_res.cookie_a = w.cookie_a;
	return copy_to_user(uarg, &w, sizeof(w)) ? -EFAULT : 0;
}

static long ut_window_result(struct ut_window __user *uarg)
{
	struct ut_window w;

	scoped_guard(mutex, &ut_mutex) {
		if (!ut_window_bp)
			return -ENOENT;
		unregister_hw_breakpoint(ut_window_bp);
		ut_window_bp = NULL;
		WRITE_ONCE(ut_window_task, NULL);
		w = ut_window_res;
	}
	return copy_to_user(uarg, &w, sizeof(w)) ? -EFAULT : 0;
}

/* ------------------------------------------------------------------ */
/* KASAN's aux stack of the deferred task_work                         */

#if defined(KDEFER_HAVE_TWAF_NO_ALLOC) && IS_ENABLED(CONFIG_KASAN_GENERIC)
static atomic64_t ut_aux_alloc, ut_aux_noalloc;

static bool ut_is_unwind_work(struct pt_regs *regs)
{
	return (void *)regs_get_kernel_argument(regs, 0) ==
		&current->unwind_info.work;
}

static int ut_aux_alloc_pre(struct kprobe *p, struct pt_regs *regs)
{
	if (ut_is_unwind_work(regs))
		atomic64_inc(&ut_aux_alloc);
	return 0;
}

static int ut_aux_noalloc_pre(struct kprobe *p, struct pt_regs *regs)
{
	if (ut_is_unwind_work(regs))
		atomic64_inc(&ut_aux_noalloc);
	return 0;
}

/* Set up again on every ARM: a kprobe cannot be registered twice as is */
static struct kprobe ut_aux_kp[2];
static struct kprobe *ut_aux_kps[] = { &ut_aux_kp[0], &ut_aux_kp[1] };
static bool ut_aux_armed;

static long ut_auxstack_arm(void)
{
	int ret;

	guard(mutex)(&ut_mutex);
	if (ut_aux_armed)
		return -EBUSY;
	atomic64_set(&ut_aux_alloc, 0);
	atomic64_set(&ut_aux_noalloc, 0);
	memset(ut_aux_kp, 0, sizeof(ut_aux_kp));
	ut_aux_kp[0].symbol_name = "kasan_record_aux_stack";
	ut_aux_kp[0].pre_handler = ut_aux_alloc_pre;
	ut_aux_kp[1].symbol_name = "kasan_record_aux_stack_noalloc";
	ut_aux_kp[1].pre_handler = ut_aux_noalloc_pre;
	ret = register_kprobes(ut_aux_kps, ARRAY_SIZE(ut_aux_kps));
	if (!ret)
		ut_aux_armed = true;
	return ret;
}

static long ut_auxstack_result(struct ut_auxstack __user *uarg)
{
	struct ut_auxstack a;

	scoped_guard(mutex, &ut_mutex) {
		if (!ut_aux_armed)
			return -ENOENT;
		unregister_kprobes(ut_aux_kps, ARRAY_SIZE(ut_aux_kps));
		ut_aux_armed = false;
	}
	a.alloc = atomic64_read(&ut_aux_alloc);
	a.noalloc = atomic64_read(&ut_aux_noalloc);
	return copy_to_user(uarg, &a, sizeof(a)) ? -EFAULT : 0;
}
#else
static long ut_auxstack_arm(void)
{
	return -EOPNOTSUPP;
}

static long ut_auxstack_result(struct ut_auxstack __user *uarg)
{
	return -EOPNOTSUPP;
}
#endif

static void ut_reset(void)
{
	ut_cancel_mask(~0ULL);
	ut_ring_clear();
}
#endif /* UT_HAVE_API */

/* ------------------------------------------------------------------ */

static long ut_info(struct ut_info __user *uarg)
{
	struct ut_info info = { };

	info.version = UT_VERSION;
	info.api = UT_HAVE_API && !ut_why[0];
	info.nr_cpus = num_online_cpus();
	info.have_nmi = ut_nmi_registered;
	info.have_fork_probe = ut_fork_registered;
	info.have_exit = !!ut_do_exit;
	strscpy(info.why, ut_why, sizeof(info.why));
	return copy_to_user(uarg, &info, sizeof(info)) ? -EFAULT : 0;
}

/* get_user() of each word in turn, as the frame-pointer walk reads */
static long ut_uaccess(struct ut_uaccess __user *uarg)
{
	unsigned long __user *p;
	struct ut_uaccess u;
	unsigned long w;
	u64 i;

	if (copy_from_user(&u, uarg, sizeof(u)))
		return -EFAULT;
	if (u.nwords > UT_UACCESS_MAX)
		return -EINVAL;
	p = (unsigned long __user *)(unsigned long)u.addr;
	u.sum = 0;
	if (u.op == UT_UACCESS_LOCKS) {
		for (i = 0; i < u.nwords; i++) {
			unsigned long flags;
			int idx = srcu_read_lock(&ut_cost_srcu);

			raw_spin_lock_irqsave(&ut_cost_lock, flags);
			u.sum++;
			raw_spin_unlock_irqrestore(&ut_cost_lock, flags);
			srcu_read_unlock(&ut_cost_srcu, idx);
		}
		return copy_to_user(uarg, &u, sizeof(u)) ? -EFAULT : 0;
	}
	for (i = 0; i < u.nwords; i++) {
		if (get_user(w, p + i))
			return -EFAULT;
		u.sum += w;
	}
	return copy_to_user(uarg, &u, sizeof(u)) ? -EFAULT : 0;
}

static long ut_ioctl(struct file *file, unsigned int cmd, unsigned long arg)
{
	void __user *uarg = (void __user *)arg;

	if (cmd == UT_IOC_INFO)
		return ut_info(uarg);
	if (cmd == UT_IOC_READ)
		return ut_ring_read(uarg);
	if (cmd == UT_IOC_UACCESS)
		return ut_uaccess(uarg);
#if UT_HAVE_API
	if (ut_why[0])
		return -EOPNOTSUPP;
	switch (cmd) {
	case UT_IOC_REGISTER:
		return ut_register(uarg);
	case UT_IOC_UNREGISTER: {
		struct ut_unregister u;

		if (copy_from_user(&u, uarg, sizeof(u)))
			return -EFAULT;
		u.inflight = ut_cancel_mask(u.mask);
		return copy_to_user(uarg, &u, sizeof(u)) ? -EFAULT : 0;
	}
	case UT_IOC_TRACER_CFG:
		return ut_tracer_cfg(uarg);
	case UT_IOC_REQUEST:
		return ut_request_ioctl(uarg);
	case UT_IOC_KTHREAD:
		return ut_kthread(uarg);
	case UT_IOC_FORK_ARM:
		return ut_fork_arm(uarg);
	case UT_IOC_FORK_RESULT:
		WRITE_ONCE(ut_fork_pid, -1);
		return copy_to_user(uarg, &ut_fork_res, sizeof(ut_fork_res)) ?
			-EFAULT : 0;
	case UT_IOC_STRESS_START:
		return ut_stress_start(uarg);
	case UT_IOC_STRESS_ENROLL:
		return ut_stress_enroll();
	case UT_IOC_STRESS_REQ:
		return ut_stress_req(arg);
	case UT_IOC_STRESS_STOP:
		return ut_stress_stop(uarg);
	case UT_IOC_RESET:
		ut_reset();
		return 0;
	case UT_IOC_WINDOW_ARM:
		return ut_window_arm(uarg);
	case UT_IOC_WINDOW_RESULT:
		return ut_window_result(uarg);
	case UT_IOC_AUXSTACK_ARM:
		return ut_auxstack_arm();
	case UT_IOC_AUXSTACK_RESULT:
		return ut_auxstack_result(uarg);
	}
#endif
	return -ENOTTY;
}

static const struct file_operations ut_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = ut_ioctl,
	.compat_ioctl = compat_ptr_ioctl,
};

static struct miscdevice ut_misc = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "unwind_test",
	.fops = &ut_fops,
	.mode = 0666,
};

static int ut_resolve_lookup(void)
{
	struct kprobe kp = { .symbol_name = "kallsyms_lookup_name" };
	int ret = register_kprobe(&kp);

	if (ret)
		return ret;
	ut_lookup = (void *)kp.addr;
	unregister_kprobe(&kp);
	return 0;
}

static int __init ut_module_init(void)
{
	int ret;

	ret = ut_resolve_lookup();
	if (ret) {
		pr_err("cannot find kallsyms_lookup_name via kprobe: %d\n", ret);
		return ret;
	}
	ut_do_exit = (void *)ut_lookup("do_exit");

#if UT_HAVE_API
	ut_init = (void *)ut_lookup("unwind_deferred_init");
	ut_request = (void *)ut_lookup("unwind_deferred_request");
	ut_cancel = (void *)ut_lookup("unwind_deferred_cancel");
	if (!ut_init || !ut_request || !ut_cancel)
		snprintf(ut_why, sizeof(ut_why),
			 "unwind_deferred_{init,request,cancel} not in kallsyms");

#ifdef KDEFER_HAVE_HRTIMER_SETUP
	hrtimer_setup(&ut_stress_timer, ut_stress_tick, CLOCK_MONOTONIC,
		      HRTIMER_MODE_REL);
#else
	hrtimer_init(&ut_stress_timer, CLOCK_MONOTONIC, HRTIMER_MODE_REL);
	ut_stress_timer.function = ut_stress_tick;
#endif

	ret = register_nmi_handler(NMI_LOCAL, ut_nmi_handler, 0, "unwind_test");
	if (ret)
		pr_warn("register_nmi_handler: %d (NMI tests skipped)\n", ret);
	else
		ut_nmi_registered = true;

	ret = register_kprobe(&ut_fork_kp);
	if (ret)
		pr_warn("kprobe on kernel_clone: %d (fork test skipped)\n", ret);
	else
		ut_fork_registered = true;
#else
	snprintf(ut_why, sizeof(ut_why),
		 "kernel has no <linux/unwind_deferred.h> with CONFIG_UNWIND_USER");
#endif

	ret = misc_register(&ut_misc);
	if (ret) {
#if UT_HAVE_API
		if (ut_fork_registered)
			unregister_kprobe(&ut_fork_kp);
		if (ut_nmi_registered)
			unregister_nmi_handler(NMI_LOCAL, "unwind_test");
#endif
		return ret;
	}
	pr_info("ready (api %s)\n", ut_why[0] ? ut_why : "found");
	return 0;
}

static void __exit ut_module_exit(void)
{
	misc_deregister(&ut_misc);
#if UT_HAVE_API
	hrtimer_cancel(&ut_stress_timer);
	WRITE_ONCE(ut_stress_on, false);
	if (ut_fork_registered)
		unregister_kprobe(&ut_fork_kp);
	if (ut_nmi_registered)
		unregister_nmi_handler(NMI_LOCAL, "unwind_test");
	if (!ut_why[0])
		ut_cancel_mask(~0ULL);
#endif
}

module_init(ut_module_init);
module_exit(ut_module_exit);
MODULE_DESCRIPTION("Self-tests for deferred user-space unwinding");
MODULE_LICENSE("GPL");
