/* Diagnostics from the VMM while a VM runs (a guest breaking a device, an
 * unexpected exit): the library does not print; it hands each line to a
 * hook that the caller sets (mvrun's monitor logs them). Default: stderr. */
#ifndef MV_VMM_LOG_H
#define MV_VMM_LOG_H

typedef void (*vmm_log_fn)(int level, const char *msg);

enum { VMM_LOG_ERROR = 0, VMM_LOG_WARNING = 1, VMM_LOG_INFO = 2, VMM_LOG_DEBUG = 3 };

void vmm_log_set(vmm_log_fn fn, int max_level);
void vmm_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
