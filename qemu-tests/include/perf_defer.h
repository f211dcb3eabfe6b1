/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The deferred callchain ABI of perf, shared by the programs that open
 * perf events (perf/perf-selftest.c, perftool/perf-tool-selftest.c and
 * the perf cases of sframe/sframe-selftest.c): its values, the
 * attribute word that holds its bits, and how to tell a kernel that
 * lacks it from one that has it and refuses.
 */
#ifndef KDEFER_SELFTEST_PERF_DEFER_H
#define KDEFER_SELFTEST_PERF_DEFER_H

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <linux/perf_event.h>
#include <sys/syscall.h>
#include <sys/types.h>

/*
 * The ABI of upstream Linux 7.x, spelled out here so that the programs
 * build against any installed uapi header. internal/uapicheck checks
 * that the series' header has upstream's values.
 */
#define ATTR_BIT_DEFER_CALLCHAIN	38
#define ATTR_BIT_DEFER_OUTPUT		39
#define ATTR_FIRST_RESERVED_BIT		40
#define RECORD_CALLCHAIN_DEFERRED	22
#define CONTEXT_USER_DEFERRED		((uint64_t)-640)

static inline int perf_open(struct perf_event_attr *attr, pid_t pid, int cpu)
{
	return syscall(SYS_perf_event_open, attr, pid, cpu, -1, 0);
}

/* The bitfield word of attr (disabled, ..., defer_callchain, defer_output) */
static inline uint64_t *perf_attr_flags(struct perf_event_attr *attr)
{
	/* it follows read_format */
	return (uint64_t *)((char *)&attr->read_format + sizeof(attr->read_format));
}

/*
 * perf_sampling_attr() sets attr to a disabled software event that
 * samples config every period with sample_type; the caller adds the
 * deferral bits and whatever else its event needs.
 */
static inline void perf_sampling_attr(struct perf_event_attr *attr, uint64_t config,
				      uint64_t period, uint64_t sample_type)
{
	memset(attr, 0, sizeof(*attr));
	attr->size = sizeof(*attr);
	attr->type = PERF_TYPE_SOFTWARE;
	attr->config = config;
	attr->sample_period = period;
	attr->sample_type = sample_type;
	attr->disabled = 1;
}

/*
 * perf_defer_abi_missing() says whether a kernel that refused an event
 * asking for deferred callchains with err lacks the ABI. A kernel
 * without the series rejects defer_callchain, a reserved bit there,
 * with EINVAL. A kernel that has the series' record writer
 * (perf_callchain_deferred_output in /proc/kallsyms) and still refuses
 * is broken, not lacking: 0, and the cases report the refusal; so is a
 * refusal other than EINVAL, or one where /proc/kallsyms cannot be read
 * to tell.
 */
static inline int perf_defer_abi_missing(int err)
{
	char line[256];
	int found = 0;
	FILE *f;

	if (err != EINVAL)
		return 0;
	f = fopen("/proc/kallsyms", "r");
	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f))
		found = strstr(line, " perf_callchain_deferred_output\n") != NULL;
	fclose(f);
	return !found;
}

#endif
