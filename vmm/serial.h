/* An 8250/16550A UART at COM1 for the guest console.  Output goes to a log
 * file (so a failed boot can be diagnosed) and the last few KiB are kept in
 * memory for error messages.  There is no input: the container's stdio goes
 * over vsock, never over the console. */
#ifndef MV_SERIAL_H
#define MV_SERIAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define SERIAL_TAIL_SIZE 4096

struct serial {
	pthread_mutex_t lock; /* vCPU threads write the registers concurrently */
	int log_fd;	      /* -1: output only kept in the tail */
	void (*raise_irq)(void *ctx);
	void *irq_ctx;
	uint8_t ier, lcr, mcr, scr, dll, dlm;
	bool fifo;
	bool thr_interrupt; /* "transmitter empty" pending until IIR is read */
	char line[256];	    /* output is written to the log a line at a time */
	unsigned line_len;
	char tail[SERIAL_TAIL_SIZE]; /* ring of the last output bytes */
	unsigned tail_pos;
	bool tail_full;
};

void serial_init(struct serial *s, int log_fd, void (*raise_irq)(void *), void *ctx);
void serial_release(struct serial *s);
/* Port access, offset 0-7 from the base port. */
uint8_t serial_read(struct serial *s, unsigned off);
void serial_write(struct serial *s, unsigned off, uint8_t val);
/* The last console output (at most SERIAL_TAIL_SIZE bytes) into buf, NUL-terminated. */
void serial_tail(struct serial *s, char *buf, size_t size);
/* Write out a partial line (at VM end). */
void serial_flush(struct serial *s);

#endif
