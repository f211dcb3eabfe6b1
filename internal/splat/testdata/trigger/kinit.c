// kinit: a minimal /init for kcheck's own tests. It mounts /proc, /sys
// and /dev, prints a small KTAP document on the console, loads
// /trigger.ko with what=$splat when the kernel command line has
// splat=<kind> (unknown parameters reach init as environment
// variables), then powers the machine off; after splat=kmemleak it
// has kmemleak scan memory first (kmemleak-user, kmemleak-stamp: and
// prints what it found the way syzkaller's executor does); splat=hung-login
// prints a login prompt before the hung task; splat=cant-die kills the
// child that loads the module once the module has it asleep in D state
// (it then reports the task as one that can't die); splat=rust-panic loads
// /trigger_rust.ko instead (a kernel with Rust support). splat=hang is the one kind
// that does not reach the module: init stops and waits forever, the
// guest never powers off, and kcheck's timeout has to end the run.
// Build: gcc -static -O2.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int load_trigger(const char *what)
{
	char params[64];
	/* splat=rust-panic: the Rust module, which panics in its init */
	int rust = strcmp(what, "rust-panic") == 0;
	int fd = open(rust ? "/trigger_rust.ko" : "/trigger.ko", O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	snprintf(params, sizeof(params), "what=%s", what);
	if (rust)
		params[0] = 0;
	if (syscall(SYS_finit_module, fd, params, 0) < 0) {
		int e = errno;
		close(fd);
		return -e;
	}
	close(fd);
	return 0;
}

/*
 * splat=cant-die: the module sleeps uninterruptibly in the child that
 * loads it. Wait until the child is in D state (the module's sleep: the
 * load itself reads from the initramfs, which needs no I/O), then send
 * it SIGKILL, which cannot wake it.
 */
static void kill_when_asleep(pid_t pid)
{
	char path[64], buf[512], state = '?';
	int i;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	sleep(1);
	for (i = 0; i < 100 && state != 'D'; i++) {
		FILE *f = fopen(path, "r");
		char *p = NULL;

		if (f && fgets(buf, sizeof(buf), f))
			p = strrchr(buf, ')');
		if (f)
			fclose(f);
		if (p && p[1] == ' ')
			state = p[2];
		if (state != 'D')
			usleep(100000);
	}
	kill(pid, SIGKILL);
	printf("# kinit: SIGKILL sent to %d (state %c)\n", (int)pid, state);
}

/*
 * kmemleak reports an object only once it is 5 s old and a scan found
 * nothing pointing to it; kmemleak.verbose=1 prints it on the console.
 */
static void scan_kmemleak(const char *splat)
{
	char buf[4096];
	ssize_t n;
	int i, fd;

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
	if (strcmp(splat, "kmemleak") == 0)
		return;
	/*
	 * kmemleak-user and kmemleak-stamp: user space reads the leaks and
	 * prints them under "BUG: memory leak", as syzkaller's executor
	 * does (-stamp: after its date and time).
	 */
	fd = open("/sys/kernel/debug/kmemleak", O_RDONLY);
	if (fd < 0)
		return;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return;
	buf[n] = 0;
	if (strcmp(splat, "kmemleak-stamp") == 0) {
		time_t now = time(NULL);
		struct tm tm;
		char stamp[32];

		strftime(stamp, sizeof(stamp), "%Y/%m/%d %H:%M:%S", gmtime_r(&now, &tm));
		printf("%s ", stamp);
	}
	printf("BUG: memory leak\n%s\n", buf);
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
		/* kmemleak-* and hung-login make the module do kmemleak and hung */
		const char *what = strncmp(splat, "kmemleak", 8) == 0 ? "kmemleak" :
				   strcmp(splat, "hung-login") == 0 ? "hung" : splat;
		pid_t pid;
		int st = 0, r = 0;

		pid = fork();
		if (pid == 0)
			_exit(-load_trigger(what));
		if (strcmp(splat, "hung-login") == 0) {
			/*
			 * A getty's prompt, left without a newline, while the
			 * module sleeps: the hung task report follows on its line.
			 */
			sleep(1);
			printf("syzkaller login: ");
			fflush(stdout);
		}
		if (strcmp(splat, "cant-die") == 0)
			kill_when_asleep(pid);
		waitpid(pid, &st, 0);
		if (WIFEXITED(st))
			r = WEXITSTATUS(st);
		if (strcmp(what, "kmemleak") == 0)
			scan_kmemleak(splat);
		if (WIFEXITED(st) && r == 0)
			printf("ok 2 trigger_%s\n", splat);
		else if (strcmp(splat, "cant-die") == 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL)
			printf("ok 2 trigger_%s # killed, as it should be\n", splat);
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
