# Kconfig.frag: options kcheck boot merges on top of a tinyconfig base
# (plus CONFIG_64BIT=y). Every option listed here is verified after
# olddefconfig: if Kconfig drops one (unmet dependency), the build stops
# and names it. Lines are CONFIG_X=y|m|n|value or "# CONFIG_X is not set".

# Console and early user space
CONFIG_PRINTK=y
CONFIG_PRINTK_TIME=y
CONFIG_BUG=y
CONFIG_TTY=y
CONFIG_SERIAL_8250=y
CONFIG_SERIAL_8250_CONSOLE=y
CONFIG_BLK_DEV_INITRD=y
CONFIG_BINFMT_ELF=y
CONFIG_BINFMT_SCRIPT=y
CONFIG_DEVTMPFS=y
CONFIG_PROC_FS=y
CONFIG_PROC_SYSCTL=y
CONFIG_SYSFS=y
CONFIG_FUTEX=y
CONFIG_POSIX_TIMERS=y

# Machine: ACPI is what lets tinyconfig see the second vCPU
CONFIG_ACPI=y
CONFIG_SMP=y
CONFIG_X86_LOCAL_APIC=y

# What the self-tests use
CONFIG_PERF_EVENTS=y
CONFIG_EVENTFD=y
CONFIG_MODULES=y
CONFIG_MODULE_UNLOAD=y
CONFIG_KPROBES=y
CONFIG_KALLSYMS=y
CONFIG_IA32_EMULATION=y
CONFIG_FRAME_POINTER=y
CONFIG_UNWINDER_FRAME_POINTER=y

# Debugging: make bugs loud
CONFIG_DEBUG_KERNEL=y
CONFIG_PROVE_LOCKING=y
CONFIG_PROVE_RCU=y
CONFIG_DEBUG_ATOMIC_SLEEP=y
CONFIG_DETECT_HUNG_TASK=y
CONFIG_SOFTLOCKUP_DETECTOR=y
CONFIG_RCU_CPU_STALL_TIMEOUT=21
# Generic KASAN needs the full SLUB allocator (tinyconfig picks SLUB_TINY;
# on 6.1, where SLUB is one choice of three, it picks SLOB).
# Measured here: about a third more build time, 11 s -> 14 s for the
# self-test boot under TCG.
# CONFIG_SLUB_TINY is not set
CONFIG_SLUB=y
CONFIG_KASAN=y
CONFIG_KASAN_GENERIC=y

# Not needed on a serial-only guest; left out to keep the build small
# CONFIG_VT is not set
# CONFIG_INPUT is not set
# CONFIG_ACPI_AC is not set
# CONFIG_ACPI_BATTERY is not set
# CONFIG_ACPI_BUTTON is not set
# CONFIG_ACPI_FAN is not set
# CONFIG_ACPI_THERMAL is not set
