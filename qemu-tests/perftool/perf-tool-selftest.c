// SPDX-License-Identifier: GPL-2.0
/*
 * perf-tool-selftest: the `perftool` suite of the in-guest self-tests. It
 * runs the real, upstream perf tool (/bin/perf, built statically from a
 * Linux 7.x tools/perf by internal/perftool) against the kernel under
 * test:
 *
 *   perf record -e cpu-clock --call-graph fp,defer [-a] -- perf-workload
 *   perf script --no-inline     (user chains, deferred parts merged by perf)
 *   perf report -D              (raw records: PERF_RECORD_CALLCHAIN_DEFERRED)
 *
 * and checks that the workload's samples carry its whole user call chain
 * (wl_leaf <- wl_c <- wl_b <- wl_a <- main) and that the chains really
 * came through deferred records: if the kernel refuses defer_callchain,
 * perf silently falls back to in-interrupt user stacks and the chains
 * alone would still look right.
 *
 * Output: one KTAP v1 document; exit 0 pass, 1 fail, 77 skipped (a kernel
 * without the deferred callchain ABI, or no perf binary:
 * /etc/perf-tool-selftest.why says why).
 *
 * `perf-tool-selftest --parse SCRIPT DUMP` runs only the parsers on saved
 * `perf script` and `perf report -D` outputs and prints the counts (the
 * host unit tests use it).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/perf_event.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "perf_defer.h"

#define PERF "/bin/perf"
#define WORKLOAD "/bin/perf-workload"
/* the same program built -O2 -fomit-frame-pointer with an SFrame section */
#define WORKLOAD_SFRAME "/bin/sframe/perf-workload"
#define WORKLOAD_COMM "perf-workload"
#ifndef PR_REMOVE_SFRAME
#define PR_REMOVE_SFRAME 0x53460002 /* the series' kernel/unwind/sframe.c */
#endif
#define WHY "/etc/perf-tool-selftest.why"
#define WORKLOAD_MS "3000"
#define WORKLOAD_MS_LONG "12000"
static const char *workload_ms = WORKLOAD_MS;

/* The workload's user chain, innermost first. */
static const char *const chain[] = { "wl_leaf", "wl_c", "wl_b", "wl_a", "main" };
#define CHAIN_LEN (int)(sizeof(chain) / sizeof(chain[0]))

/* Thresholds. */
#define MIN_WORKLOAD_SAMPLES 50
#define FULL_CHAIN_PERCENT 95
#define SFRAME_FULL_CHAIN_PERCENT 99

/* ------------------------------------------------------------------ */
/* perf script parser */

struct script_counts {
	long samples;	  /* every sample */
	long wl_samples;  /* samples of the workload's comm */
	long wl_in_chain; /* ... with a wl_* function anywhere in the chain */
	long wl_full;	  /* ... whose chain holds the whole chain, in order */
	long wl_unmerged; /* ... whose user part is a bare cookie ([unknown]) */
	long wl_in_caller; /* whole chains taken in wl_a, wl_b or wl_c */
};

/* a wl_* function (not main: main also runs the process's start-up) */
static int in_chain(char syms[][64], int n)
{
	int i, j;

	for (i = 0; i < n; i++)
		for (j = 0; j < CHAIN_LEN - 1; j++)
			if (!strcmp(syms[i], chain[j]))
				return 1;
	return 0;
}

/*
 * Whether a sample's chain is whole: from its innermost wl_* frame on,
 * every caller in order down to main. That frame is wl_leaf for nearly
 * every sample; a sample taken in wl_a, wl_b or wl_c itself (on the way
 * into wl_leaf or back out of it at the end) has its chain start there,
 * wl_c <- wl_b <- wl_a <- main, which is the whole chain of where it was
 * taken. Returns 0 when a frame is missing or the chain stops before
 * main, 1 for a whole chain from wl_leaf, 2 for a whole chain from a
 * caller of wl_leaf.
 */
static int sample_has_chain(char syms[][64], int n)
{
	int i, j, k;

	for (i = 0; i < n; i++) {
		for (j = 0; j < CHAIN_LEN - 1; j++)
			if (!strcmp(syms[i], chain[j]))
				break;
		if (j == CHAIN_LEN - 1)
			continue;
		for (k = j; k < CHAIN_LEN; k++)
			if (i + k - j >= n || strcmp(syms[i + k - j], chain[k]))
				return 0;
		return j ? 2 : 1;
	}
	return 0;
}

static void line_out(const char *fmt, ...);

/*
 * In the guest: how many samples without the full chain to print, those
 * outside the chain (exec, start-up, exit) and, counted apart so that
 * the many of the first kind never hide them, those in the chain.
 */
static int show_partial, show_in_chain;
static const char *show_mode = "";

static void print_partial(char syms[][64], int n, int inc)
{
	char buf[900];
	int i, len = 0;

	for (i = 0; i < n && len < (int)sizeof(buf) - 80; i++)
		len += snprintf(buf + len, sizeof(buf) - len, "%s%s",
				i ? " <- " : "", syms[i]);
	buf[len] = 0;
	line_out("# %s: no full chain%s: %s", show_mode, inc ? " (in the chain)" : "",
		 n ? buf : "(no frames)");
}

/*
 * perf script prints one header line per sample (the comm first, at the
 * start of the line), then one line per frame, indented:
 *	"\t          401658 wl_leaf+0x12 (/bin/perf-workload)"
 * and an empty line after the sample.
 */
int parse_script(FILE *f, const char *comm, struct script_counts *c)
{
	static char syms[512][64];
	static char kernel[512];
	char line[4096];
	int n = 0, in_sample = 0, is_wl = 0, whole;

	memset(c, 0, sizeof(*c));
	for (;;) {
		char *l = fgets(line, sizeof(line), f);

		if (l && (line[0] == ' ' || line[0] == '\t') && in_sample) {
			char sym[64] = "";

			if (sscanf(line, " %*s %63s", sym) == 1 && n < 512) {
				char *plus = strstr(sym, "+0x");

				if (plus)
					*plus = 0;
				kernel[n] = !!strstr(line, "([kernel.kallsyms])");
				snprintf(syms[n++], 64, "%s", sym);
			}
			continue;
		}
		/* a header, an empty line or the end: close the sample */
		if (in_sample) {
			c->samples++;
			if (is_wl) {
				int inc = in_chain(syms, n);

				c->wl_samples++;
				c->wl_in_chain += inc;
				/*
				 * Only kernel frames, then the cookie perf could
				 * not replace: a deferred sample whose record
				 * perf did not find after it.
				 */
				if (!inc && n > 0 && !strcmp(syms[n - 1], "[unknown]") &&
				    (n == 1 || kernel[n - 2]))
					c->wl_unmerged++;
				whole = sample_has_chain(syms, n);
				if (whole) {
					c->wl_full++;
					c->wl_in_caller += whole == 2;
				} else if (inc && show_in_chain > 0) {
					show_in_chain--;
					print_partial(syms, n, 1);
				} else if (!inc && show_partial > 0) {
					show_partial--;
					print_partial(syms, n, 0);
				}
			}
			in_sample = 0;
		}
		if (!l)
			break;
		if (line[0] == '\n' || line[0] == '\0')
			continue;
		{
			char first[64] = "";

			sscanf(line, "%63s", first);
			in_sample = 1;
			is_wl = !strcmp(first, comm);
			n = 0;
		}
	}
	return 0;
}

/* ------------------------------------------------------------------ */
/* perf report -D parser */

struct dsample {
	int tid;
	int deferred;
	unsigned long long cookie;
};

struct drecord {
	int tid;
	unsigned long long cookie;
};

struct dump_counts {
	long samples;		/* PERF_RECORD_SAMPLE */
	long wl_samples;	/* ... of the workload's threads */
	long wl_deferred;	/* ... carrying PERF_CONTEXT_USER_DEFERRED + cookie */
	long records;		/* PERF_RECORD_CALLCHAIN_DEFERRED */
	long wl_records;	/* ... of the workload's threads */
	long wl_unmatched;	/* deferred workload samples with no record */
	long dup_records;	/* a second record for one (tid, cookie) */
	long shared_cookies;	/* cookies carried by two or more samples */
	long max_per_cookie;	/* most samples sharing one cookie */
};

#define MAX_TIDS 64

struct dump_state {
	struct dsample *s;
	long ns, cs;
	struct drecord *r;
	long nr, cr;
	int tids[MAX_TIDS];
	int ntids;
};

static int is_wl_tid(const struct dump_state *st, int tid)
{
	int i;

	for (i = 0; i < st->ntids; i++)
		if (st->tids[i] == tid)
			return 1;
	return 0;
}

static void *grow(void *p, long *cap, long want, size_t sz)
{
	if (want <= *cap)
		return p;
	*cap = *cap ? *cap * 2 : 1024;
	if (*cap < want)
		*cap = want;
	p = realloc(p, *cap * sz);
	if (!p) {
		perror("realloc");
		exit(1);
	}
	return p;
}

/*
 * Lines of perf report -D used here:
 *   "... PERF_RECORD_COMM exec: perf-workload:123/123"
 *   "... PERF_RECORD_SAMPLE(IP, 0x2): 123/123: 0x401658 period: ..."
 *   "..... 12: fffffffffffffd80 (PERF_CONTEXT_USER_DEFERRED)"
 *   "..... 13: 0000000100000005"		(the cookie)
 *   "...... (deferred)"
 *   "... PERF_RECORD_CALLCHAIN_DEFERRED(IP, 0x2): 123/123: 0x100000005"
 */
int parse_dump(FILE *f, const char *comm, struct dump_counts *c)
{
	struct dump_state st = { 0 };
	char line[4096];
	struct dsample *cur = NULL;
	int want_cookie = 0;
	long i, j;

	memset(c, 0, sizeof(*c));
	while (fgets(line, sizeof(line), f)) {
		char *p;

		if ((p = strstr(line, "PERF_RECORD_COMM"))) {
			char *colon = strchr(p, ':');
			size_t n = strlen(comm);
			int pid, tid;

			cur = NULL;
			/* "PERF_RECORD_COMM exec: NAME:pid/tid" or "...COMM: NAME:pid/tid" */
			if (colon) {
				p = colon + 1;
				while (*p == ' ')
					p++;
				if (!strncmp(p, comm, n) && p[n] == ':' &&
				    sscanf(p + n + 1, "%d/%d", &pid, &tid) == 2 &&
				    !is_wl_tid(&st, tid) && st.ntids < MAX_TIDS)
					st.tids[st.ntids++] = tid;
			}
			continue;
		}
		if ((p = strstr(line, "PERF_RECORD_SAMPLE("))) {
			int pid, tid;

			p = strstr(p, "): ");
			st.s = grow(st.s, &st.cs, st.ns + 1, sizeof(*st.s));
			cur = &st.s[st.ns++];
			memset(cur, 0, sizeof(*cur));
			cur->tid = -1;
			if (p && sscanf(p + 3, "%d/%d", &pid, &tid) == 2)
				cur->tid = tid;
			want_cookie = 0;
			continue;
		}
		if ((p = strstr(line, "PERF_RECORD_CALLCHAIN_DEFERRED("))) {
			int pid, tid;
			unsigned long long ck;

			cur = NULL;
			p = strstr(p, "): ");
			if (p && sscanf(p + 3, "%d/%d: %llx", &pid, &tid, &ck) == 3) {
				st.r = grow(st.r, &st.cr, st.nr + 1, sizeof(*st.r));
				st.r[st.nr].tid = tid;
				st.r[st.nr].cookie = ck;
				st.nr++;
			}
			continue;
		}
		if (strstr(line, "PERF_RECORD_")) {
			cur = NULL;
			continue;
		}
		if (!cur)
			continue;
		if (!strncmp(line, "...... (deferred)", 17)) {
			cur->deferred = 1;
			continue;
		}
		if (!strncmp(line, "..... ", 6)) {
			if (want_cookie) {
				char *colon = strchr(line, ':');

				if (colon)
					cur->cookie = strtoull(colon + 1, NULL, 16);
				want_cookie = 0;
			} else if (strstr(line, "(PERF_CONTEXT_USER_DEFERRED)")) {
				want_cookie = 1;
			}
		}
	}

	c->samples = st.ns;
	c->records = st.nr;
	for (i = 0; i < st.nr; i++) {
		if (is_wl_tid(&st, st.r[i].tid))
			c->wl_records++;
		for (j = 0; j < i; j++)
			if (st.r[j].tid == st.r[i].tid &&
			    st.r[j].cookie == st.r[i].cookie) {
				c->dup_records++;
				break;
			}
	}
	for (i = 0; i < st.ns; i++) {
		struct dsample *s = &st.s[i];
		long same = 0, first = 1;

		if (!is_wl_tid(&st, s->tid))
			continue;
		c->wl_samples++;
		if (!s->deferred)
			continue;
		c->wl_deferred++;
		for (j = 0; j < st.nr; j++)
			if (st.r[j].tid == s->tid && st.r[j].cookie == s->cookie)
				break;
		if (j == st.nr)
			c->wl_unmatched++;
		for (j = 0; j < st.ns; j++) {
			if (st.s[j].deferred && st.s[j].tid == s->tid &&
			    st.s[j].cookie == s->cookie) {
				same++;
				if (j < i)
					first = 0;
			}
		}
		if (same > c->max_per_cookie)
			c->max_per_cookie = same;
		if (same > 1 && first)
			c->shared_cookies++;
	}
	free(st.s);
	free(st.r);
	return 0;
}

/* ------------------------------------------------------------------ */
/* KTAP and running commands */

static int test_num;
static int failed;

static void line_out(const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	/* one write per line: nothing interleaves inside a line */
	if (write(1, buf, n) < 0)
		return;
}

static void result(int ok, const char *name, const char *fmt, ...)
{
	char why[512] = "";
	va_list ap;

	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(why, sizeof(why), fmt, ap);
		va_end(ap);
	}
	test_num++;
	if (!ok)
		failed = 1;
	line_out("%s %d %s%s%s", ok ? "ok" : "not ok", test_num, name,
		 why[0] ? " # " : "", why);
}

static void skip(const char *name, const char *why)
{
	line_out("ok %d %s # SKIP %s", ++test_num, name, why);
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/* Print the last lines of a log as diagnostics. */
static void tail_log(const char *path, int lines)
{
	char buf[16384], *p, *start;
	int fd = open(path, O_RDONLY), n;
	off_t sz;

	if (fd < 0)
		return;
	sz = lseek(fd, 0, SEEK_END);
	lseek(fd, sz > (off_t)sizeof(buf) - 1 ? sz - (off_t)sizeof(buf) + 1 : 0, SEEK_SET);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	for (p = buf + n - 1; p > buf && lines > 0; p--)
		if (*p == '\n' && p != buf + n - 1)
			lines--;
	start = p == buf ? buf : p + 2;
	for (p = strtok(start, "\n"); p; p = strtok(NULL, "\n"))
		line_out("# %s: %.400s", path, p);
}

/*
 * Run argv with stdout and stderr in log (stdin /dev/null), at most
 * timeout_s seconds. Returns the exit status, or -1.
 */
static int run(char *const argv[], const char *log, int timeout_s, long *ms)
{
	long t0 = now_ms();
	int status = 0;
	pid_t pid = fork();

	if (pid < 0)
		return -1;
	if (pid == 0) {
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int in = open("/dev/null", O_RDONLY);

		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
		}
		if (in >= 0)
			dup2(in, 0);
		execv(argv[0], argv);
		_exit(127);
	}
	for (;;) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			return -1;
		if (now_ms() - t0 > timeout_s * 1000L) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			line_out("# %s: killed after %d s", argv[0], timeout_s);
			return -1;
		}
		usleep(20000);
	}
	if (ms)
		*ms = now_ms() - t0;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return -1;
}

static long count_lines(const char *path)
{
	FILE *f = fopen(path, "r");
	long n = 0;
	int ch;

	if (!f)
		return -1;
	while ((ch = getc(f)) != EOF)
		if (ch == '\n')
			n++;
	fclose(f);
	return n;
}

/*
 * One mode of recording: per task ("task") or system-wide ("syswide", -a)
 * with the frame-pointer workload; "sframe", the workload built without
 * frame pointers and with an SFrame section, per task.
 */
struct mode {
	const char *name;
	const char *workload;
	int syswide;
	int percent;		/* full chains wanted, of the samples in the chain */
	int share;		/* assert that samples share a cookie */
};

/* Results of a mode's perf script, for the side by side of the SFrame run. */
struct mode_result {
	int recorded;
	long in_chain, full;
};

/*
 * perf record the workload with call graph cg into /tmp/perf-TAG.*, then
 * perf script and perf report -D it. Returns perf record's exit code
 * (-1 when it could not run); sc and dc get the counts.
 */
static int record_and_read(const char *tag, const char *workload, const char *cg,
			   int syswide, struct script_counts *sc, struct dump_counts *dc,
			   int *read_rc)
{
	char data[128], rlog[128], slog[128], dlog[128];
	char *rec[32];
	int n = 0, rc;
	long ms = 0;
	FILE *f;

	snprintf(data, sizeof(data), "/tmp/perf-%s.data", tag);
	snprintf(rlog, sizeof(rlog), "/tmp/perf-%s.record.log", tag);
	snprintf(slog, sizeof(slog), "/tmp/perf-%s.script", tag);
	snprintf(dlog, sizeof(dlog), "/tmp/perf-%s.dump", tag);

	rec[n++] = PERF;
	rec[n++] = "record";
	rec[n++] = "-e";
	rec[n++] = "cpu-clock";
	rec[n++] = "-F";
	rec[n++] = "2000";
	rec[n++] = "--call-graph";
	rec[n++] = (char *)cg;
	rec[n++] = "-N"; /* no build-id cache in $HOME */
	rec[n++] = "-o";
	rec[n++] = data;
	if (syswide)
		rec[n++] = "-a";
	rec[n++] = "--";
	rec[n++] = (char *)workload;
	rec[n++] = (char *)workload_ms;
	rec[n] = NULL;

	memset(sc, 0, sizeof(*sc));
	memset(dc, 0, sizeof(*dc));
	*read_rc = 0;
	line_out("# %s: perf record -e cpu-clock -F 2000 --call-graph %s -N%s -- %s %s",
		 tag, cg, syswide ? " -a" : "", workload, workload_ms);
	rc = run(rec, rlog, 120, &ms);
	if (rc != 0) {
		tail_log(rlog, 15);
		return rc;
	}
	tail_log(rlog, 3);
	line_out("# %s: perf record took %ld ms", tag, ms);

	{
		char *scr[] = { PERF, "script", "--no-inline", "-i", data, NULL };
		char *dmp[] = { PERF, "report", "-D", "--no-inline", "-i", data, NULL };

		rc = run(scr, slog, 120, &ms);
		line_out("# %s: perf script --no-inline: exit %d, %ld lines, %ld ms",
			 tag, rc, count_lines(slog), ms);
		if (rc)
			tail_log(slog, 10);
		f = fopen(slog, "r");
		show_partial = 12;
		show_in_chain = 12;
		show_mode = tag;
		if (f) {
			parse_script(f, WORKLOAD_COMM, sc);
			fclose(f);
		}
		*read_rc = rc;
		rc = run(dmp, dlog, 120, &ms);
		*read_rc |= rc << 8;
		line_out("# %s: perf report -D --no-inline: exit %d, %ld lines, %ld ms", tag,
			 rc, count_lines(dlog), ms);
		f = fopen(dlog, "r");
		if (f) {
			parse_dump(f, WORKLOAD_COMM, dc);
			fclose(f);
		}
	}
	line_out("# %s: samples=%ld workload_samples=%ld full_chain=%ld (%ld%%)",
		 tag, sc->samples, sc->wl_samples, sc->wl_full,
		 sc->wl_samples ? sc->wl_full * 100 / sc->wl_samples : 0);
	line_out("# %s: in_chain=%ld (a wl_* frame; the rest is exec, start-up and exit) "
		 "full_chain_of_in_chain=%ld%% in_caller=%ld (whole from wl_a..wl_c: taken there) "
		 "unmerged=%ld (kernel frames, then a cookie perf did not replace)",
		 tag, sc->wl_in_chain,
		 sc->wl_in_chain ? sc->wl_full * 100 / sc->wl_in_chain : 0, sc->wl_in_caller,
		 sc->wl_unmerged);
	line_out("# %s: dump samples=%ld workload_samples=%ld deferred_samples=%ld "
		 "deferred_records=%ld workload_records=%ld unmatched=%ld duplicate_records=%ld "
		 "shared_cookies=%ld max_samples_per_cookie=%ld",
		 tag, dc->samples, dc->wl_samples, dc->wl_deferred, dc->records,
		 dc->wl_records, dc->wl_unmatched, dc->dup_records,
		 dc->shared_cookies, dc->max_per_cookie);
	return 0;
}

/*
 * record_and_read(), and once more with a workload four times as long
 * when the chain holds too few samples to judge: how many samples a
 * second of the workload gives depends on how much CPU the host leaves
 * the guest, and the verdict must not.
 */
static int record_enough(const char *tag, const char *workload, const char *cg,
			 int syswide, struct script_counts *sc,
			 struct dump_counts *dc, int *read_rc)
{
	int rc = record_and_read(tag, workload, cg, syswide, sc, dc, read_rc);

	if (rc || (*read_rc & 0xff) || sc->wl_in_chain >= MIN_WORKLOAD_SAMPLES)
		return rc;
	line_out("# %s: %ld workload samples in the chain, fewer than %d (a loaded host); once more with a %s ms workload",
		 tag, sc->wl_in_chain, MIN_WORKLOAD_SAMPLES, WORKLOAD_MS_LONG);
	workload_ms = WORKLOAD_MS_LONG;
	rc = record_and_read(tag, workload, cg, syswide, sc, dc, read_rc);
	workload_ms = WORKLOAD_MS;
	return rc;
}

static void run_mode(const struct mode *m, struct mode_result *res)
{
	struct script_counts sc;
	struct dump_counts dc;
	char name[64];
	int rc, rrc;

	rc = record_enough(m->name, m->workload, "fp,defer", m->syswide, &sc, &dc, &rrc);
	snprintf(name, sizeof(name), "%s_record", m->name);
	if (rc != 0) {
		result(0, name, "perf record exited with %d", rc);
		snprintf(name, sizeof(name), "%s_full_chain", m->name);
		skip(name, "perf record failed");
		snprintf(name, sizeof(name), "%s_deferred_records", m->name);
		skip(name, "perf record failed");
		if (m->share) {
			snprintf(name, sizeof(name), "%s_samples_share_cookie", m->name);
			skip(name, "perf record failed");
		}
		return;
	}
	result(1, name, NULL);
	if (res) {
		res->recorded = 1;
		res->in_chain = sc.wl_in_chain;
		res->full = sc.wl_full;
	}

	snprintf(name, sizeof(name), "%s_full_chain", m->name);
	if (rrc & 0xff)
		result(0, name, "perf script failed");
	else if (sc.wl_in_chain < MIN_WORKLOAD_SAMPLES)
		result(0, name, "%ld workload samples in the chain, want >= %d", sc.wl_in_chain,
		       MIN_WORKLOAD_SAMPLES);
	else if (sc.wl_full * 100 < sc.wl_in_chain * m->percent) {
		result(0, name, "%ld of %ld workload samples in the chain carry %s..main, want >= %d%%",
		       sc.wl_full, sc.wl_in_chain, chain[0], m->percent);
	} else
		result(1, name, NULL);

	snprintf(name, sizeof(name), "%s_deferred_records", m->name);
	if (rrc >> 8)
		result(0, name, "perf report -D failed");
	else if (dc.records == 0 || dc.wl_records == 0 || dc.wl_deferred == 0)
		result(0, name, "%ld PERF_RECORD_CALLCHAIN_DEFERRED (%ld of the workload), "
		       "%ld deferred samples: the kernel did not defer (perf fell back?)",
		       dc.records, dc.wl_records, dc.wl_deferred);
	else if (dc.dup_records)
		result(0, name, "%ld duplicate records for one (tid, cookie)", dc.dup_records);
	else if (dc.wl_unmatched > 2 && dc.wl_unmatched * 100 > dc.wl_deferred)
		result(0, name, "%ld of %ld deferred workload samples have no record",
		       dc.wl_unmatched, dc.wl_deferred);
	else
		result(1, name, NULL);

	if (m->share) {
		snprintf(name, sizeof(name), "%s_samples_share_cookie", m->name);
		if (dc.shared_cookies == 0)
			result(0, name, "no two samples share a cookie (samples inside one read(2) should)");
		else
			result(1, name, NULL);
	}
}

/* Why the SFrame modes cannot run, or NULL. */
static const char *sframe_unavailable(void)
{
	if (access(WORKLOAD_SFRAME, X_OK))
		return WORKLOAD_SFRAME " is not in the initramfs (no SFrame toolchain on the build machine)";
	if (prctl(PR_REMOVE_SFRAME, 0, 0, 0, 0) && (errno == EINVAL || errno == EOPNOTSUPP))
		return errno == EINVAL ? "the kernel has no SFrame unwinder (no PR_REMOVE_SFRAME)" :
					 "CONFIG_UNWIND_USER_SFRAME is off";
	return NULL;
}

/*
 * The SFrame workload: whole chains through the deferred path (SFrame),
 * then the same binary with perf's in-interrupt frame-pointer walk (what
 * perf gives such a binary without deferral): the share of whole chains
 * must be higher with SFrame.
 */
static void run_sframe(void)
{
	/* cookie sharing is the task mode's case; here only the chains count */
	static const struct mode m = { "sframe", WORKLOAD_SFRAME, 0, SFRAME_FULL_CHAIN_PERCENT, 0 };
	const char *why = sframe_unavailable();
	struct mode_result sf = { 0 };
	struct script_counts sc;
	struct dump_counts dc;
	int rc, rrc;

	if (why) {
		skip("sframe_record", why);
		skip("sframe_full_chain", why);
		skip("sframe_deferred_records", why);
		skip("sframe_beats_fp_only", why);
		return;
	}
	run_mode(&m, &sf);
	rc = record_enough("sframe_fp_only", WORKLOAD_SFRAME, "fp", 0, &sc, &dc, &rrc);
	if (rc || (rrc & 0xff) || !sf.recorded) {
		result(0, "sframe_beats_fp_only", "perf record/script --call-graph fp failed (%d, %d)", rc, rrc);
		return;
	}
	line_out("# side by side, %s: whole chains with SFrame (fp,defer) %ld of %ld (%ld%%), "
		 "with frame pointers in the interrupt (fp) %ld of %ld (%ld%%)", WORKLOAD_SFRAME,
		 sf.full, sf.in_chain, sf.in_chain ? sf.full * 100 / sf.in_chain : 0,
		 sc.wl_full, sc.wl_in_chain, sc.wl_in_chain ? sc.wl_full * 100 / sc.wl_in_chain : 0);
	if (sf.in_chain == 0 || sc.wl_in_chain < MIN_WORKLOAD_SAMPLES)
		result(0, "sframe_beats_fp_only", "too few samples in the chain (%ld and %ld)",
		       sf.in_chain, sc.wl_in_chain);
	else if (sf.full * sc.wl_in_chain <= sc.wl_full * sf.in_chain)
		result(0, "sframe_beats_fp_only", "frame pointers alone gave as many whole chains "
		       "as SFrame: was the workload built without frame pointers?");
	else
		result(1, "sframe_beats_fp_only", NULL);
}

/*
 * defer_overhead: what --call-graph fp,defer costs the profiled program
 * against --call-graph fp, on a deep stack with many samples per syscall.
 * The workload (perf-workload --deep) makes OVH_BATCHES batches of
 * OVH_CALLS read(2)s of 1 MiB from /dev/urandom (CPU time in the kernel,
 * several samples a read at one a tick) from OVH_DEPTH frames of
 * wl_deep, pinned to one CPU, and reports the per-read time of its
 * fastest batch, timed inside the program: the sampling interrupt, perf's
 * in-interrupt walk (fp) or the deferred walk on the way back to user
 * space (fp,defer) all run on its CPU and in that time. It runs without
 * perf, under perf record --call-graph fp and under --call-graph
 * fp,defer, OVH_ROUNDS times in turn; each figure is the fastest round:
 *
 *   # cost: perf_none_ns N      per read, no perf
 *   # cost: perf_fp_ns N        per read, perf record -e cpu-clock -c OVH_PERIOD --call-graph fp
 *   # cost: perf_fp_defer_ns N  per read, the same with --call-graph fp,defer
 *
 * kcheck bench --against and kcheck conform divide perf_fp_defer_ns by
 * perf_fp_ns on each kernel and set the two quotients side by side.
 * The walks must cost enough to be seen beside the read: OVH_DEPTH is
 * 200 frames, and kernel.perf_event_max_stack is raised to
 * OVH_MAX_STACK for the case (restored after it), so that perf's
 * in-interrupt walk (fp) reads the whole chain as the deferred walk does
 * (its cache holds some 500 frames). Where the sysctl cannot be written
 * the case keeps the default limit of 127 entries, kernel part included,
 * and OVH_DEPTH_SHORT frames. When the last fp,defer recording holds no
 * PERF_RECORD_CALLCHAIN_DEFERRED of the workload (the kernel refused
 * defer_callchain and perf fell back to in-interrupt stacks), the case
 * skips and prints no figure.
 */
#define OVH_DEPTH "200"
#define OVH_DEPTH_SHORT "64"
#define OVH_MAX_STACK "400"
#define MAX_STACK_SYSCTL "/proc/sys/kernel/perf_event_max_stack"
#define OVH_CALLS "1"
#define OVH_BATCHES "8"
#define OVH_PERIOD "250000"
#define OVH_ROUNDS 4
#define OVH_OUT "/tmp/perf-ovh.ns"

static const char *ovh_depth = OVH_DEPTH;

/* Write s to the sysctl file path; 0 on success. */
static int write_sysctl(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY), ok;

	if (fd < 0)
		return -1;
	ok = write(fd, s, strlen(s)) == (ssize_t)strlen(s);
	return close(fd) || !ok ? -1 : 0;
}

/* Run the deep workload under cg ("" for no perf); its ns per read, 0 on failure. */
static unsigned long long overhead_run(const char *cg, const char *data)
{
	char *wl[] = { WORKLOAD, "--deep", (char *)ovh_depth, OVH_CALLS, OVH_BATCHES, OVH_OUT, NULL };
	char *rec[] = { PERF, "record", "-e", "cpu-clock", "-c", OVH_PERIOD, "--call-graph",
			(char *)cg, "-N", "-o", (char *)data, "--", WORKLOAD, "--deep",
			(char *)ovh_depth, OVH_CALLS, OVH_BATCHES, OVH_OUT, NULL };
	unsigned long long ns = 0;
	FILE *f;
	int rc;

	unlink(OVH_OUT);
	rc = run(cg[0] ? rec : wl, "/tmp/perf-ovh.log", 120, NULL);
	f = fopen(OVH_OUT, "r");
	if (f) {
		if (fscanf(f, "%llu", &ns) != 1)
			ns = 0;
		fclose(f);
	}
	if (rc || !ns) {
		line_out("# defer_overhead: %s: exit %d, no figure", cg[0] ? cg : "no perf", rc);
		tail_log("/tmp/perf-ovh.log", 10);
		return 0;
	}
	return ns;
}

/*
 * The longest "FP chain: nr:N" of the samples and of the deferred records
 * in a perf report -D output: how many entries each walk gave.
 */
static void longest_chains(const char *dump, long *sample_nr, long *deferred_nr)
{
	char line[512];
	long *cur = NULL, n;
	FILE *f = fopen(dump, "r");

	*sample_nr = *deferred_nr = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		char *p;

		if (strstr(line, "PERF_RECORD_SAMPLE"))
			cur = sample_nr;
		else if (strstr(line, "PERF_RECORD_CALLCHAIN_DEFERRED"))
			cur = deferred_nr;
		else if (cur && (p = strstr(line, "chain: nr:"))) {
			n = atol(p + strlen("chain: nr:"));
			if (n > *cur)
				*cur = n;
			cur = NULL;
		}
	}
	fclose(f);
}

/* OVH_ROUNDS rounds of the three runs in turn; the fastest of each in best, 0 on failure. */
static void run_overhead_rounds(const char *const cgs[3], unsigned long long best[3])
{
	unsigned long long ns;
	int r, m;

	for (r = 0; r < OVH_ROUNDS; r++) {
		for (m = 0; m < 3; m++) {
			ns = overhead_run(cgs[m], m == 2 ? "/tmp/perf-ovh-defer.data" : "/tmp/perf-ovh.data");
			if (!ns) {
				best[m] = 0;
				return;
			}
			line_out("# defer_overhead: round %d %s: %llu ns per read", r + 1,
				 cgs[m][0] ? cgs[m] : "no perf", ns);
			if (ns < best[m])
				best[m] = ns;
		}
	}
}

static void run_overhead(void)
{
	static const char *const cgs[] = { "", "fp", "fp,defer" };
	static const char *const names[] = { "perf_none_ns", "perf_fp_ns", "perf_fp_defer_ns" };
	unsigned long long best[3] = { ~0ULL, ~0ULL, ~0ULL };
	char *dmp[] = { PERF, "report", "-D", "--no-inline", "-i", "/tmp/perf-ovh-defer.data", NULL };
	long reads = atol(OVH_CALLS) * atol(OVH_BATCHES);
	struct dump_counts dc;
	char old_max[32] = "";
	int m, rc;
	FILE *f;

	f = fopen(MAX_STACK_SYSCTL, "r");
	if (f) {
		if (!fgets(old_max, sizeof(old_max), f))
			old_max[0] = 0;
		fclose(f);
	}
	if (!old_max[0] || write_sysctl(MAX_STACK_SYSCTL, OVH_MAX_STACK)) {
		line_out("# defer_overhead: could not set %s to %s: %s frames deep",
			 MAX_STACK_SYSCTL, OVH_MAX_STACK, OVH_DEPTH_SHORT);
		ovh_depth = OVH_DEPTH_SHORT;
		old_max[0] = 0;
	}
	line_out("# defer_overhead: perf-workload --deep %s %s %s under perf record -e cpu-clock -c %s "
		 "--call-graph fp / fp,defer and without perf, %d rounds, perf_event_max_stack %s",
		 ovh_depth, OVH_CALLS, OVH_BATCHES, OVH_PERIOD, OVH_ROUNDS,
		 old_max[0] ? OVH_MAX_STACK : "unchanged");
	run_overhead_rounds(cgs, best);
	if (old_max[0])
		write_sysctl(MAX_STACK_SYSCTL, old_max);
	for (m = 0; m < 3; m++)
		if (!best[m]) {
			result(0, "defer_overhead", "the workload gave no figure (%s)",
			       cgs[m][0] ? cgs[m] : "no perf");
			return;
		}
	memset(&dc, 0, sizeof(dc));
	rc = run(dmp, "/tmp/perf-ovh-defer.dump", 120, NULL);
	f = rc ? NULL : fopen("/tmp/perf-ovh-defer.dump", "r");
	if (f) {
		parse_dump(f, WORKLOAD_COMM, &dc);
		fclose(f);
	}
	{
		char *fdmp[] = { PERF, "report", "-D", "--no-inline", "-i", "/tmp/perf-ovh.data", NULL };
		long fp_nr = 0, unused, def_nr = 0;

		if (!run(fdmp, "/tmp/perf-ovh-fp.dump", 120, NULL))
			longest_chains("/tmp/perf-ovh-fp.dump", &fp_nr, &unused);
		if (!rc)
			longest_chains("/tmp/perf-ovh-defer.dump", &unused, &def_nr);
		line_out("# defer_overhead: longest chains: %ld entries in an fp sample (in-interrupt walk, "
			 "kernel part included), %ld in a deferred record", fp_nr, def_nr);
	}
	line_out("# defer_overhead: the last fp,defer recording: workload_samples=%ld deferred_samples=%ld "
		 "workload_records=%ld (%ld reads: %.1f samples and %.1f deferred walks a read)",
		 dc.wl_samples, dc.wl_deferred, dc.wl_records, reads,
		 (double)dc.wl_samples / reads, (double)dc.wl_records / reads);
	if (rc) {
		result(0, "defer_overhead", "perf report -D exited with %d", rc);
		return;
	}
	if (dc.wl_records == 0 || dc.wl_deferred == 0) {
		skip("defer_overhead", "the kernel gave no deferred callchain for --call-graph fp,defer "
		     "(perf fell back to in-interrupt stacks): no fp,defer figure");
		return;
	}
	for (m = 0; m < 3; m++)
		line_out("# cost: %s %llu", names[m], best[m]);
	line_out("# defer_overhead: fp,defer / fp = %.3f; fp / no perf = %.3f; fp,defer / no perf = %.3f",
		 (double)best[2] / best[1], (double)best[1] / best[0], (double)best[2] / best[0]);
	result(1, "defer_overhead", NULL);
}

/* perf_event_attr bit of defer_callchain (Linux 7.x uapi) */
#define ATTR_BIT_DEFER_CALLCHAIN 38

/*
 * Why the kernel cannot serve `--call-graph fp,defer`, or NULL. A kernel
 * without the series rejects defer_callchain; perf then falls back to
 * in-interrupt stacks, so every deferred case would fail for a kernel
 * that never claimed the ABI. A kernel that has the series' record
 * writer and still refuses is broken: the suite runs and its cases fail
 * (perf_defer_abi_missing()).
 */
static const char *defer_abi_missing(void)
{
	struct perf_event_attr attr;
	int fd;

	perf_sampling_attr(&attr, PERF_COUNT_SW_CPU_CLOCK, 1000000,
			   PERF_SAMPLE_IP | PERF_SAMPLE_CALLCHAIN);
	attr.exclude_kernel = 1;
	*perf_attr_flags(&attr) |= 1ULL << ATTR_BIT_DEFER_CALLCHAIN;
	fd = perf_open(&attr, 0, -1);
	if (fd >= 0) {
		close(fd);
		return NULL;
	}
	if (!perf_defer_abi_missing(errno))
		return NULL;	/* another refusal: the cases report it */
	return "the kernel lacks the deferred callchain ABI (perf_event_open with defer_callchain: EINVAL, "
	       "no perf_callchain_deferred_output in /proc/kallsyms)";
}

static int parse_only(const char *script, const char *dump)
{
	struct script_counts sc;
	struct dump_counts dc;
	FILE *f = fopen(script, "r");

	if (!f) {
		perror(script);
		return 2;
	}
	parse_script(f, WORKLOAD_COMM, &sc);
	fclose(f);
	f = fopen(dump, "r");
	if (!f) {
		perror(dump);
		return 2;
	}
	parse_dump(f, WORKLOAD_COMM, &dc);
	fclose(f);
	printf("samples=%ld\nworkload_samples=%ld\nin_chain=%ld\nfull_chain=%ld\nin_caller=%ld\nunmerged=%ld\n",
	       sc.samples, sc.wl_samples, sc.wl_in_chain, sc.wl_full, sc.wl_in_caller, sc.wl_unmerged);
	printf("dump_samples=%ld\ndump_workload_samples=%ld\ndeferred_samples=%ld\n"
	       "deferred_records=%ld\nworkload_records=%ld\nunmatched=%ld\n"
	       "duplicate_records=%ld\nshared_cookies=%ld\nmax_samples_per_cookie=%ld\n",
	       dc.samples, dc.wl_samples, dc.wl_deferred, dc.records, dc.wl_records,
	       dc.wl_unmatched, dc.dup_records, dc.shared_cookies, dc.max_per_cookie);
	return 0;
}

int main(int argc, char **argv)
{
	char why[300] = "";
	long t0 = now_ms();
	const char *abi;
	int fd, cost_only;

	if (argc == 4 && !strcmp(argv[1], "--parse"))
		return parse_only(argv[2], argv[3]);

	line_out("KTAP version 1");
	abi = defer_abi_missing();
	if (abi) {
		line_out("1..0");
		line_out("# SKIP %s", abi);
		return 77;
	}
	fd = open(WHY, O_RDONLY);
	if (fd >= 0 || access(PERF, X_OK)) {
		int n = fd >= 0 ? read(fd, why, sizeof(why) - 1) : 0;

		if (n > 0)
			why[n] = 0;
		why[strcspn(why, "\n")] = 0;
		line_out("1..0");
		line_out("# SKIP %s", why[0] ? why : PERF " is not in the initramfs");
		return 77;
	}
	setenv("HOME", "/tmp", 1);
	setenv("PATH", "/bin:/sbin:/usr/bin", 1);
	setenv("PAGER", "cat", 1);
	mkdir("/tmp", 01777);

	/* cost mode (unwind-selftest.c): the overhead figures only */
	cost_only = getenv("KDEFER_COST_ONLY") != NULL;
	line_out(cost_only ? "1..1" : "1..13");
	if (!cost_only) {
		char *ver[] = { PERF, "--version", NULL };
		static const struct mode task = { "task", WORKLOAD, 0, FULL_CHAIN_PERCENT, 1 };
		static const struct mode syswide = { "syswide", WORKLOAD, 1, FULL_CHAIN_PERCENT, 0 };
		int rc = run(ver, "/tmp/perf-version.log", 60, NULL);

		tail_log("/tmp/perf-version.log", 2);
		result(rc == 0, "perf_runs", rc ? "perf --version exited with %d" : NULL, rc);
		run_mode(&task, NULL);
		run_mode(&syswide, NULL);
		run_sframe();
	}
	run_overhead();
	line_out("# perftool: %s in %ld ms", failed ? "FAIL" : "PASS", now_ms() - t0);
	return failed;
}
