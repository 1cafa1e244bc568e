#include "vmm/event_loop.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define EV_BATCH 32

int ev_loop_init(struct ev_loop *l, mv_error_t *err)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};

	memset(l, 0, sizeof(*l));
	l->stopfd = -1;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0)
		return mv_error(err, errno, "epoll_create1");
	l->stopfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->stopfd < 0 || epoll_ctl(l->epfd, EPOLL_CTL_ADD, l->stopfd, &ev) < 0) {
		mv_error(err, errno, "event loop stop eventfd");
		ev_loop_release(l);
		return -1;
	}
	return 0;
}

static void release_dead(struct ev_loop *l)
{
	while (l->dead) {
		struct ev_handler *h = l->dead;
		l->dead = h->next_dead;
		if (h->release)
			h->release(h);
	}
}

void ev_loop_release(struct ev_loop *l)
{
	release_dead(l);
	if (l->epfd >= 0)
		close(l->epfd);
	if (l->stopfd >= 0)
		close(l->stopfd);
	l->epfd = l->stopfd = -1;
}

int ev_add(struct ev_loop *l, struct ev_handler *h, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = h};

	h->dead = false;
	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, h->fd, &ev);
}

int ev_mod(struct ev_loop *l, struct ev_handler *h, uint32_t events)
{
	struct epoll_event ev = {.events = events, .data.ptr = h};

	return epoll_ctl(l->epfd, EPOLL_CTL_MOD, h->fd, &ev);
}

void ev_del(struct ev_loop *l, struct ev_handler *h)
{
	if (h->dead)
		return;
	epoll_ctl(l->epfd, EPOLL_CTL_DEL, h->fd, NULL);
	h->dead = true;
	h->next_dead = l->dead;
	l->dead = h;
}

int ev_loop_run_once(struct ev_loop *l, int timeout_ms)
{
	struct epoll_event events[EV_BATCH];
	int n, handled = 0;

	n = epoll_wait(l->epfd, events, EV_BATCH, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -1;
	for (int i = 0; i < n; i++) {
		struct ev_handler *h = events[i].data.ptr;
		if (h == NULL) /* the stop eventfd */
			continue;
		if (!h->dead) {
			h->fn(h, events[i].events);
			handled++;
		}
	}
	release_dead(l);
	return handled;
}

int ev_loop_run(struct ev_loop *l)
{
	while (!__atomic_load_n(&l->stopping, __ATOMIC_ACQUIRE)) {
		if (ev_loop_run_once(l, -1) < 0)
			return -1;
	}
	return 0;
}

void ev_loop_stop(struct ev_loop *l)
{
	uint64_t one = 1;

	__atomic_store_n(&l->stopping, true, __ATOMIC_RELEASE);
	if (write(l->stopfd, &one, sizeof(one)) < 0) {
		/* the counter is already non-zero: the loop wakes anyway */
	}
}
