/* `mvrun vm run`: boot a microVM, run one command in it with this
 * process's stdio, forward signals, and return its exit status. */
#ifndef MV_VMRUN_H
#define MV_VMRUN_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/error.h"

/* Boot milestones, CLOCK_MONOTONIC nanoseconds (0: not reached). */
struct vm_run_times {
	uint64_t start;	      /* runtime_vm_run() called: the VMM starts */
	uint64_t created;     /* the VM is built: memory, devices, kernel loaded */
	uint64_t first_entry; /* vCPU 0 entered the guest */
	uint64_t agent_start; /* the agent, the guest's init, began (its boot-timer mark) */
	uint64_t ready;	      /* the agent said READY */
	uint64_t started;     /* the command runs */
};

/* A host directory (or single file) the command sees at `guest_path`. */
struct vm_run_volume {
	const char *host_path;	/* absolute */
	const char *guest_path; /* absolute, in the command's root */
	bool readonly;
};

#define VM_RUN_MAX_VOLUMES 8

struct vm_run_opts {
	const char *kernel;	 /* NULL: the default guest kernel */
	const char *initrd;	 /* NULL: the default initramfs */
	const char *append;	 /* more kernel command line, or NULL */
	const char *console_log; /* write the guest console here, or NULL */
	const char *cwd;
	uint32_t uid, gid; /* the command's ids in the guest */
	unsigned cpus;
	unsigned boot_timeout_s; /* the agent must say READY by then; 0: the default */
	uint64_t memory_mib;
	char *const *argv;	    /* NULL-terminated */
	char *const *env;	    /* NULL-terminated */
	bool verbose;		    /* a kernel that talks on the console */
	struct vm_run_times *times; /* filled in when not NULL */
	const char *rootfs;	    /* host directory shared as the command's root, or NULL */
	const struct vm_run_volume *volumes;
	unsigned nvolumes;
};

/* Returns 0 with *status the command's exit status (the code, or 128+N for
 * signal N), or -1 with err when the VM or the command could not run; when
 * the command itself could not start (not found, not executable), *status
 * is also set, to 127 or 126 as a shell's, and 0 otherwise. */
int runtime_vm_run(const struct vm_run_opts *o, int *status, mv_error_t *err);

#endif
