/* The pause gate: the state machine that parks the vCPU threads and lets
 * them go again, kept apart from KVM so that it can be tested with plain
 * threads.  Getting a thread out of KVM_RUN (immediate_exit and the kick
 * signal) is vm.c's job; this file only does the waiting.
 *
 * Workers peek at pause_gate_requested() between runs without the lock and
 * call pause_gate_park() when it says so; everything else takes `lock`. */
#ifndef MV_PAUSE_H
#define MV_PAUSE_H

#include <pthread.h>
#include <stdbool.h>

struct pause_gate {
	pthread_mutex_t lock;
	pthread_cond_t changed; /* broadcast on any change below */
	bool requested;		/* written under lock, read atomically (seq_cst) */
	bool stopped;		/* for good: parked workers leave and never park again */
	unsigned parked;	/* workers inside pause_gate_park() */
};

void pause_gate_init(struct pause_gate *g);
void pause_gate_release(struct pause_gate *g);

/* Ask the workers to park; -EINVAL once stopped. */
int pause_gate_request(struct pause_gate *g);
/* Wait until `nworkers` workers are parked: 0; -EINVAL if the gate was
 * stopped meanwhile; -EAGAIN if pause_gate_resume() came first. */
int pause_gate_wait(struct pause_gate *g, unsigned nworkers);
/* Let the workers go; -EINVAL once stopped, 0 otherwise (also when not
 * paused). */
int pause_gate_resume(struct pause_gate *g);
/* Stop for good, waking every parked worker; idempotent. */
void pause_gate_stop(struct pause_gate *g);

/* For the workers: should I park?  Lock-free, sequentially consistent. */
bool pause_gate_requested(struct pause_gate *g);
/* For the workers: block while a pause is requested and the gate runs. */
void pause_gate_park(struct pause_gate *g);

#endif
