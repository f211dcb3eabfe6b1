// kinit: a minimal /init for kcheck's own tests. It mounts /proc, /sys
// and /dev, prints a small KTAP document on the console, loads
// /trigger.ko with what=$splat when the kernel command line has
// splat=<kind> (unknown parameters reach init as environment
// variables), then powers the machine off; after splat=kmemleak it
// has kmemleak scan memory first. splat=hang is the one kind
// that does not reach the module: init stops and waits forever, the
// guest never powers off, and kcheck's timeout has to end the run.
// Build: gcc -static -O2.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <unistd.h>

static int load_trigger(const char *what)
{
	char params[64];
	int fd = open("/trigger.ko", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	snprintf(params, sizeof(params), "what=%s", what);
	if (syscall(SYS_finit_module, fd, params, 0) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	close(fd);
	return 0;
}

/*
 * kmemleak reports an object only once it is 5 s old and a scan found
 * nothing pointing to it; kmemleak.verbose=1 prints it on the console.
 */
static void scan_kmemleak(void)
{
	int i;

	mkdir("/sys/kernel/debug", 0700);
	mount("debugfs", "/sys/kernel/debug", "debugfs", 0, NULL);
	for (i = 0; i < 2; i++) {
		int fd;

		sleep(i ? 1 : 6);
		fd = open("/sys/kernel/debug/kmemleak", O_WRONLY);
		if (fd < 0) {
			printf("# kinit: /sys/kernel/debug/kmemleak: %s\n", strerror(errno));
			return;
		}
		if (write(fd, "scan", 4) != 4)
			printf("# kinit: kmemleak scan: %s\n", strerror(errno));
		close(fd);
	}
}

int main(void)
{
	const char *splat = getenv("splat");
	struct utsname u;
	int fd, ok_proc, ok_uname;

	mkdir("/proc", 0555);
	mkdir("/sys", 0555);
	ok_proc = mount("proc", "/proc", "proc", 0, NULL) == 0;
	mount("sysfs", "/sys", "sysfs", 0, NULL);
	mount("devtmpfs", "/dev", "devtmpfs", 0, NULL);
	fd = open("/dev/console", O_RDWR);
	if (fd >= 0) {
		dup2(fd, 1);
		dup2(fd, 2);
	}
	setvbuf(stdout, NULL, _IOLBF, 0);
	ok_uname = uname(&u) == 0;

	printf("KTAP version 1\n1..2\n");
	printf("    KTAP version 1\n    # Subtest: kinit\n    1..2\n");
	printf("    %s 1 proc_mounted\n", ok_proc ? "ok" : "not ok");
	printf("    # uname: %s %s\n", u.release, u.machine);
	printf("    %s 2 uname\n", ok_uname ? "ok" : "not ok");
	printf("ok 1 kinit\n");
	if (splat && strcmp(splat, "hang") == 0) {
		printf("# kinit: hanging on purpose (splat=hang)\n");
		fflush(stdout);
		for (;;)
			pause();
	}
	if (splat && *splat) {
		pid_t pid = fork();
		int st = 0, r = 0;

		if (pid == 0)
			_exit(-load_trigger(splat));
		waitpid(pid, &st, 0);
		if (WIFEXITED(st))
			r = WEXITSTATUS(st);
		if (strcmp(splat, "kmemleak") == 0)
			scan_kmemleak();
		if (WIFEXITED(st) && r == 0)
			printf("ok 2 trigger_%s\n", splat);
		else
			printf("not ok 2 trigger_%s # insmod status %d signal %d\n", splat,
			       WIFEXITED(st) ? r : 0, WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	} else {
		printf("ok 2 trigger # SKIP no splat= on the command line\n");
	}
	fflush(stdout);
	sync();
	reboot(RB_POWER_OFF);
	return 0;
}
