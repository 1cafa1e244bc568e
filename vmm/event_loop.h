/* The VMM's event loop: one thread, epoll over ioeventfds, sockets and
 * timers.  Handlers are embedded in their owner's struct; a handler removed
 * while a batch of events is being handled is skipped for the rest of the
 * batch and released (its release callback) only after it. */
#ifndef MV_EVENT_LOOP_H
#define MV_EVENT_LOOP_H

#include <stdbool.h>
#include <stdint.h>

#include "runtime/error.h"

struct ev_handler {
	int fd;
	void (*fn)(struct ev_handler *h, uint32_t events);
	void (*release)(struct ev_handler *h); /* optional: called once removal is safe */
	bool dead;
	struct ev_handler *next_dead;
};

struct ev_loop {
	int epfd;
	int stopfd; /* eventfd: ev_loop_stop() */
	bool stopping;
	struct ev_handler *dead;
};

int ev_loop_init(struct ev_loop *l, mv_error_t *err);
void ev_loop_release(struct ev_loop *l);

int ev_add(struct ev_loop *l, struct ev_handler *h, uint32_t events);
int ev_mod(struct ev_loop *l, struct ev_handler *h, uint32_t events);
/* Stop watching h->fd (the caller closes it); h->release runs after the
 * current batch (or in ev_loop_release), never while its events may be
 * pending. */
void ev_del(struct ev_loop *l, struct ev_handler *h);

/* Handle events until ev_loop_stop(); returns 0, or -1 on an epoll failure. */
int ev_loop_run(struct ev_loop *l);
/* Handle the events ready within timeout_ms (-1: wait); returns how many
 * were handled, or -1.  For tests and for callers with their own loop. */
int ev_loop_run_once(struct ev_loop *l, int timeout_ms);
/* Safe from any thread and from signal handlers. */
void ev_loop_stop(struct ev_loop *l);

#endif
