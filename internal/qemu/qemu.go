// Package qemu boots a kernel and an initramfs in qemu-system-x86_64
// with the serial console captured, and says how the run ended: the
// guest powered off, the kernel panicked, the guest hung (hard
// timeout), or QEMU itself failed.
//
// The machine has no disks, network or display (-nodefaults); the
// serial console goes to QEMU's stdout, which Run copies to a log file
// (and optionally to a live writer) while watching for the kernel's
// power-off and panic messages. -no-reboot turns any reboot (including
// the one panic=-1 asks for) into QEMU exiting. On timeout or when the
// context is cancelled the whole process group is killed.
//
// The limit (Options.Timeout) counts the time the guest could run: time
// QEMU's threads spent waiting for a CPU on a loaded host is given back,
// up to MaxStretch times the limit of wall time, so that a slow guest
// that is still printing is not called hung. A guest that prints
// nothing at all for the limit in wall time is ended then, whatever the
// load: a hung kernel that spins (its vCPUs runnable, so waiting for a
// CPU too) would otherwise be given its wait back and run for
// MaxStretch times the limit. Whether that silence was a hang of the
// kernel (Timeout) or the host keeping the guest off the CPU (Starved)
// is decided by how much of it the guest could run.
package qemu

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kdefer/kdefer/internal/lines"
	"github.com/kdefer/kdefer/internal/proc"
)

// Accel is the QEMU accelerator.
type Accel string

const (
	KVM Accel = "kvm"
	TCG Accel = "tcg"
)

// Options describe one boot.
type Options struct {
	QEMU    string // binary; default qemu-system-x86_64 from PATH
	Kernel  string // bzImage
	Initrd  string // cpio archive
	Append  string // extra kernel command line, after the defaults
	Memory  string // default "512M"
	SMP     int    // default 2
	Accel   Accel  // KVM or TCG (default TCG)
	Timeout time.Duration
	// FirstOutput, when set, bounds the wait for the first byte on the
	// console: a guest still silent then is killed (Outcome Silent).
	FirstOutput time.Duration
	// ConsoleLog receives everything the guest printed on ttyS0.
	ConsoleLog string
	// Live, when set, also receives the console as it arrives.
	Live io.Writer
	// ExtraArgs are appended to the QEMU command line.
	ExtraArgs []string
	// Progress, when set, is told when the limit is moved for a guest
	// that the host keeps off the CPU.
	Progress func(format string, args ...any)
}

// Outcome says how a boot ended.
type Outcome string

const (
	PowerOff Outcome = "poweroff" // the guest shut down cleanly
	Panic    Outcome = "panic"    // Kernel panic - not syncing
	Reboot   Outcome = "reboot"   // the guest asked for a reboot without panicking
	Timeout  Outcome = "timeout"  // killed after Options.Timeout
	// Silent: killed after Options.FirstOutput with nothing at all on the
	// console: the kernel never got to print (a half-working accelerator,
	// a starved host, or a kernel without a serial console).
	Silent Outcome = "silent"
	// Starved: the timeout ran out while the host kept the guest off the
	// CPU (QEMU's threads waited on the run queue for much of the run),
	// so the run says nothing about the kernel.
	Starved Outcome = "starved"
	Died    Outcome = "died" // QEMU exited without a shutdown message
)

// Result of Run.
type Result struct {
	Outcome    Outcome
	Accel      Accel
	Duration   time.Duration
	ConsoleLog string
	// Waited is how long QEMU's threads waited for a CPU, summed, as of
	// the timeout (0 when the guest ended before it).
	Waited time.Duration
	// FirstOutput is when the first console byte arrived (0: never),
	// LastOutput when the last console line did.
	FirstOutput time.Duration
	LastOutput  time.Duration
	ExitCode    int    // QEMU's exit status (-1 when killed)
	Stderr      string // QEMU's own messages
	PanicLine   string // the "Kernel panic" line, when Outcome is Panic
	// Killed says why kcheck ended a Timeout or Starved guest: which
	// limit ran out, and how much of it the guest could run.
	Killed string
	Args   []string
}

// MaxStretch bounds how far a starved guest's timeout is stretched: the
// run ends at MaxStretch times Options.Timeout of wall time at the most.
var MaxStretch = 3

// available returns how much of the wall time since start the guest
// could run (the wall time less its threads' run-queue wait per vCPU),
// the wall time, and the run-queue wait itself.
func available(pid int, start time.Time, smp int) (avail, wall, waited time.Duration) {
	wall, waited = time.Since(start), RunQueueWait(pid)
	return wall - perVCPU(waited, smp), wall, waited
}

// perVCPU spreads QEMU's summed run-queue wait over the guest's vCPUs.
func perVCPU(waited time.Duration, smp int) time.Duration {
	if smp == 0 {
		smp = 2
	}
	return waited / time.Duration(smp)
}

// RunQueueWait returns how long the threads of process pid waited on a
// run queue for a CPU, summed (the second field of
// /proc/PID/task/*/schedstat; 0 where the kernel does not keep it).
func RunQueueWait(pid int) time.Duration {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/schedstat", pid))
	var sum int64
	for _, t := range tasks {
		b, err := os.ReadFile(t)
		if err != nil {
			continue
		}
		f := strings.Fields(string(b))
		if len(f) >= 2 {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			sum += n
		}
	}
	return time.Duration(sum)
}

// Args returns the QEMU command line for o (without the binary).
func Args(o Options) []string {
	mem := o.Memory
	if mem == "" {
		mem = "512M"
	}
	smp := o.SMP
	if smp == 0 {
		smp = 2
	}
	// no_timer_check: the IO-APIC timer check counts timer interrupts
	// in a busy-wait window; on a loaded host a TCG guest misses them
	// and panics ("IO-APIC + timer doesn't work!", seen at load 26 on
	// two cores), though nothing is wrong with its timer. Cloud images
	// boot virtual machines with it for the same reason.
	app := "console=ttyS0,115200 panic=-1 no_timer_check"
	if o.Append != "" {
		app += " " + o.Append
	}
	args := []string{
		"-nodefaults", "-display", "none", "-no-reboot",
		"-m", mem, "-smp", strconv.Itoa(smp),
		"-serial", "stdio", "-monitor", "none",
		"-kernel", o.Kernel, "-append", app,
	}
	if o.Initrd != "" {
		args = append(args, "-initrd", o.Initrd)
	}
	args = append(args, AccelArgs(o.Accel)...)
	return append(args, o.ExtraArgs...)
}

// AccelArgs are the accelerator arguments of every guest kcheck starts,
// boots and KVM probes alike, so that a probe's answer holds for boots.
func AccelArgs(a Accel) []string {
	if a == KVM {
		return []string{"-accel", "kvm", "-cpu", "host"}
	}
	return []string{"-accel", "tcg"}
}

// ErrNoQEMU is returned when the QEMU binary cannot be found.
var ErrNoQEMU = errors.New("qemu-system-x86_64 not found")

// Run boots the guest and waits until it ends, the timeout expires or
// ctx is cancelled. A non-nil error means QEMU could not be run at all
// (missing binary, bad kernel path, KVM refused); every guest outcome,
// including timeouts and panics, is a Result with a nil error.
func Run(ctx context.Context, o Options) (*Result, error) {
	bin := o.QEMU
	if bin == "" {
		bin = "qemu-system-x86_64"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("%w (%v): install it (Debian: apt-get install qemu-system-x86)", ErrNoQEMU, err)
	}
	for _, f := range []string{o.Kernel, o.Initrd} {
		if f == "" {
			continue
		}
		if _, err := os.Stat(f); err != nil {
			return nil, fmt.Errorf("qemu: %w", err)
		}
	}
	if o.Accel == "" {
		o.Accel = TCG
	}
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Minute
	}
	logf, err := os.Create(o.ConsoleLog)
	if err != nil {
		return nil, fmt.Errorf("qemu: console log: %w", err)
	}
	defer logf.Close()

	args := Args(o)
	// The context ends only with Run: the timers below decide when QEMU
	// is killed, and proc kills its whole process group.
	runCtx, stop := context.WithCancel(context.Background())
	defer stop()
	cmd := proc.Command(runCtx, path, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("qemu: starting %s: %w", path, err)
	}
	res := &Result{Accel: o.Accel, ConsoleLog: o.ConsoleLog, Args: append([]string{path}, args...)}

	var mu sync.Mutex
	var sawPowerOff, sawRestart bool
	// lastLine is when the guest last printed and lastWait QEMU's
	// run-queue wait then (sampled at most once a second).
	var lastLine, lastWaitAt time.Duration
	var lastWait time.Duration
	halted := make(chan struct{}, 1)
	spoke := make(chan struct{})
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		out := io.Writer(logf)
		if o.Live != nil {
			out = io.MultiWriter(logf, o.Live)
		}
		br := bufio.NewReader(stdout)
		for {
			line, err := br.ReadString('\n')
			if line != "" {
				out.Write([]byte(line))
				mu.Lock()
				lastLine = max(time.Since(start), time.Nanosecond)
				if lastLine-lastWaitAt >= time.Second || lastWaitAt == 0 {
					lastWait, lastWaitAt = RunQueueWait(cmd.Process.Pid), lastLine
				}
				if res.FirstOutput == 0 {
					res.FirstOutput = max(time.Since(start), time.Nanosecond)
					close(spoke)
				}
				switch {
				case strings.Contains(line, "reboot: Power down"), strings.Contains(line, "ACPI: PM: Preparing to enter system sleep state S5"):
					sawPowerOff = true
				case strings.Contains(line, "reboot: System halted"), strings.Contains(line, "Power off not available: System halted"):
					// A kernel without ACPI sleep support cannot power
					// off and halts: the run is over, end QEMU.
					sawPowerOff = true
					go func() {
						time.Sleep(300 * time.Millisecond)
						halted <- struct{}{}
					}()
				case strings.Contains(line, "Kernel panic - not syncing"):
					if res.PanicLine == "" {
						res.PanicLine = strings.TrimSpace(line)
					}
				case strings.Contains(line, "reboot: Restarting system"):
					sawRestart = true
				}
				mu.Unlock()
			}
			if err != nil {
				return
			}
		}
	}()

	waitErr := make(chan error, 1)
	go func() {
		<-readDone
		waitErr <- cmd.Wait()
	}()
	kill := func() { proc.KillGroup(cmd) }
	timer := time.NewTimer(o.Timeout)
	defer timer.Stop()
	var silence <-chan time.Time
	silenceTimer := time.NewTimer(o.FirstOutput)
	defer silenceTimer.Stop()
	if o.FirstOutput > 0 {
		silence = silenceTimer.C
	}
	// quiet bounds the silence after the guest's last console line, in
	// wall time (package documentation).
	var quiet <-chan time.Time
	quietTimer := time.NewTimer(o.Timeout)
	defer quietTimer.Stop()
	progress := o.Progress
	if progress == nil {
		progress = func(string, ...any) {}
	}
	stretched := false
	var werr error
	killed := ""
	for done := false; !done; {
		done = true
		select {
		case werr = <-waitErr:
		case <-spoke:
			// The guest printed: the limit and the silence bound it now.
			spoke, silence, quiet = nil, nil, quietTimer.C
			done = false
		case <-quiet:
			mu.Lock()
			since, before := time.Since(start)-lastLine, lastWait
			mu.Unlock()
			if since < o.Timeout {
				quietTimer.Reset(o.Timeout - since + time.Millisecond)
				done = false
				continue
			}
			res.Waited = RunQueueWait(cmd.Process.Pid)
			could := max(since-perVCPU(res.Waited-before, o.SMP), 0)
			killed = "timeout"
			if could < o.Timeout/time.Duration(MaxStretch) {
				killed = "starved"
			}
			res.Killed = fmt.Sprintf("it printed nothing for %s, the %s limit in wall time, and could run %s of that "+
				"(QEMU's threads waited for a CPU the rest of the time)",
				since.Round(time.Second), o.Timeout, could.Round(time.Second))
			kill()
			werr = <-waitErr
		case <-silence:
			// Like the timeout, the wait for the first line counts only
			// the time the guest could run.
			if avail, wall, _ := available(cmd.Process.Pid, start, o.SMP); avail < o.FirstOutput && wall < time.Duration(MaxStretch)*o.FirstOutput {
				silenceTimer.Reset(min(o.FirstOutput-avail, time.Duration(MaxStretch)*o.FirstOutput-wall) + time.Millisecond)
				done = false
				continue
			}
			killed = "silent"
			kill()
			werr = <-waitErr
		case <-halted:
			kill()
			werr = <-waitErr
		case <-timer.C:
			// The timeout counts the time the guest could run: time its
			// threads spent waiting for a CPU is given back, up to
			// MaxStretch times the timeout in all.
			avail, wall, waited := available(cmd.Process.Pid, start, o.SMP)
			res.Waited = waited
			if avail < o.Timeout && wall < time.Duration(MaxStretch)*o.Timeout {
				next := min(o.Timeout-avail, time.Duration(MaxStretch)*o.Timeout-wall)
				if !stretched {
					progress("qemu: in %s of wall time the guest could run %s of its %s limit (QEMU's threads waited %s for a CPU); "+
						"the limit moves on, to %s of wall time at most, while the guest keeps printing",
						wall.Round(time.Second), max(avail, 0).Round(time.Second), o.Timeout, waited.Round(time.Second),
						time.Duration(MaxStretch)*o.Timeout)
					stretched = true
				}
				timer.Reset(next + time.Millisecond)
				done = false
				continue
			}
			killed = "timeout"
			if avail < o.Timeout {
				killed = "starved"
			}
			res.Killed = fmt.Sprintf("it could run %s in %s of wall time (the limit is %s of run time, at most %s of wall time); "+
				"QEMU's threads waited %s for a CPU", max(avail, 0).Round(time.Second), wall.Round(time.Second), o.Timeout,
				time.Duration(MaxStretch)*o.Timeout, waited.Round(time.Second))
			kill()
			werr = <-waitErr
		case <-ctx.Done():
			killed = "cancel"
			kill()
			werr = <-waitErr
		}
	}
	// Children of QEMU (none expected) go with the group.
	proc.KillGroup(cmd)
	res.Duration = time.Since(start)
	res.Stderr = strings.TrimSpace(stderr.String())
	res.ExitCode = cmd.ProcessState.ExitCode()
	mu.Lock()
	defer mu.Unlock()
	res.LastOutput = lastLine
	switch {
	case killed == "cancel":
		return res, ctx.Err()
	case killed == "starved":
		res.Outcome = Starved
	case killed == "timeout" && res.FirstOutput > 0:
		res.Outcome = Timeout
	case killed == "silent", killed == "timeout":
		// Nothing at all on the console: the kernel never ran far enough
		// to print, which says nothing about the kernel under test.
		res.Outcome = Silent
	case res.PanicLine != "":
		res.Outcome = Panic
	case sawPowerOff:
		res.Outcome = PowerOff
	case sawRestart:
		res.Outcome = Reboot
	default:
		res.Outcome = Died
		if werr != nil && res.ExitCode != 0 {
			// QEMU refused to start the machine (bad option, KVM).
			return res, fmt.Errorf("qemu exited with status %d: %s", res.ExitCode, lines.Last(res.Stderr, 5))
		}
	}
	return res, nil
}

// Tail returns the last n lines of a file (for hang and failure
// messages).
func Tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return lines.Last(strings.ReplaceAll(string(b), "\r", ""), n)
}
