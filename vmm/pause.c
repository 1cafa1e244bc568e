/* The pause gate (see pause.h).  One mutex and one condition variable for
 * every transition: there are at most a few dozen vCPUs, and a single
 * broadcast-on-every-change rule leaves no wake-up to forget. */
#include "vmm/pause.h"

#include <errno.h>

void pause_gate_init(struct pause_gate *g)
{
	pthread_mutex_init(&g->lock, NULL);
	pthread_cond_init(&g->changed, NULL);
	g->requested = false;
	g->stopped = false;
	g->parked = 0;
}

void pause_gate_release(struct pause_gate *g)
{
	pthread_cond_destroy(&g->changed);
	pthread_mutex_destroy(&g->lock);
}

/* `requested` is stored with seq_cst even under the lock: vm.c relies on
 * the store being ordered before its later store to immediate_exit, against
 * the vCPU's clear of immediate_exit and later load of `requested`. */
static void set_requested(struct pause_gate *g, bool value)
{
	__atomic_store_n(&g->requested, value, __ATOMIC_SEQ_CST);
	pthread_cond_broadcast(&g->changed);
}

int pause_gate_request(struct pause_gate *g)
{
	int ret = 0;

	pthread_mutex_lock(&g->lock);
	if (g->stopped)
		ret = -EINVAL;
	else
		set_requested(g, true);
	pthread_mutex_unlock(&g->lock);
	return ret;
}

int pause_gate_wait(struct pause_gate *g, unsigned nworkers)
{
	int ret;

	pthread_mutex_lock(&g->lock);
	while (g->requested && !g->stopped && g->parked < nworkers)
		pthread_cond_wait(&g->changed, &g->lock);
	ret = g->stopped ? -EINVAL : !g->requested ? -EAGAIN : 0;
	pthread_mutex_unlock(&g->lock);
	return ret;
}

int pause_gate_resume(struct pause_gate *g)
{
	int ret = 0;

	pthread_mutex_lock(&g->lock);
	if (g->stopped)
		ret = -EINVAL;
	else
		set_requested(g, false);
	pthread_mutex_unlock(&g->lock);
	return ret;
}

void pause_gate_stop(struct pause_gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->stopped = true;
	pthread_cond_broadcast(&g->changed);
	pthread_mutex_unlock(&g->lock);
}

bool pause_gate_requested(struct pause_gate *g)
{
	return __atomic_load_n(&g->requested, __ATOMIC_SEQ_CST);
}

void pause_gate_park(struct pause_gate *g)
{
	pthread_mutex_lock(&g->lock);
	g->parked++;
	pthread_cond_broadcast(&g->changed);
	/* A worker woken by a resume that a new pause overtook before it got
	 * the lock back stays parked, and stays counted. */
	while (g->requested && !g->stopped)
		pthread_cond_wait(&g->changed, &g->lock);
	g->parked--;
	pthread_mutex_unlock(&g->lock);
}
