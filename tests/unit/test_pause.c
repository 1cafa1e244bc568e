/* The pause gate (vmm/pause.c) with plain threads in the role of vCPUs:
 * each spins like a vCPU loop, counting its "runs", and parks when asked. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <time.h>

#include "tests/unit/unit.h"
#include "vmm/pause.h"

#define NWORKERS 4

struct fake_vm {
	struct pause_gate gate;
	bool stopping;
	unsigned long runs[NWORKERS];
	pthread_t threads[NWORKERS];
	unsigned started;
};

struct worker {
	struct fake_vm *vm;
	unsigned index;
};

static struct worker workers[NWORKERS];

/* The shape of vm.c's vcpu_thread, minus KVM. */
static void *worker_thread(void *arg)
{
	struct worker *w = arg;
	struct fake_vm *vm = w->vm;

	while (!__atomic_load_n(&vm->stopping, __ATOMIC_SEQ_CST)) {
		if (pause_gate_requested(&vm->gate)) {
			pause_gate_park(&vm->gate);
			continue;
		}
		__atomic_add_fetch(&vm->runs[w->index], 1, __ATOMIC_RELAXED);
		sched_yield();
	}
	return NULL;
}

static void sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

static unsigned long total_runs(struct fake_vm *vm)
{
	unsigned long n = 0;

	for (unsigned i = 0; i < NWORKERS; i++)
		n += __atomic_load_n(&vm->runs[i], __ATOMIC_RELAXED);
	return n;
}

static unsigned parked(struct fake_vm *vm)
{
	unsigned n;

	pthread_mutex_lock(&vm->gate.lock);
	n = vm->gate.parked;
	pthread_mutex_unlock(&vm->gate.lock);
	return n;
}

static void fake_start(struct fake_vm *vm)
{
	memset(vm, 0, sizeof(*vm));
	pause_gate_init(&vm->gate);
	for (unsigned i = 0; i < NWORKERS; i++) {
		workers[i] = (struct worker){vm, i};
		CHECK_INT(pthread_create(&vm->threads[i], NULL, worker_thread, &workers[i]), ==, 0);
		vm->started++;
	}
}

/* What vm_stop then vm_destroy do. */
static void fake_destroy(struct fake_vm *vm)
{
	__atomic_store_n(&vm->stopping, true, __ATOMIC_SEQ_CST);
	pause_gate_stop(&vm->gate);
	for (unsigned i = 0; i < vm->started; i++)
		CHECK_INT(pthread_join(vm->threads[i], NULL), ==, 0);
	pause_gate_release(&vm->gate);
}

/* Wait (bounded) until every worker has run at least once more. */
static bool all_ran_since(struct fake_vm *vm, const unsigned long *before)
{
	for (int tries = 0; tries < 2000; tries++) {
		unsigned ok = 0;
		for (unsigned i = 0; i < NWORKERS; i++)
			ok += __atomic_load_n(&vm->runs[i], __ATOMIC_RELAXED) > before[i];
		if (ok == NWORKERS)
			return true;
		sleep_ms(1);
	}
	return false;
}

static void snapshot(struct fake_vm *vm, unsigned long *out)
{
	for (unsigned i = 0; i < NWORKERS; i++)
		out[i] = __atomic_load_n(&vm->runs[i], __ATOMIC_RELAXED);
}

TEST(pause_parks_every_worker_and_resume_lets_them_run)
{
	struct fake_vm vm;
	unsigned long before[NWORKERS];
	unsigned long frozen;

	fake_start(&vm);
	snapshot(&vm, before);
	CHECK(all_ran_since(&vm, before));

	CHECK_INT(pause_gate_request(&vm.gate), ==, 0);
	CHECK_INT(pause_gate_wait(&vm.gate, NWORKERS), ==, 0);
	CHECK_INT(parked(&vm), ==, NWORKERS);
	frozen = total_runs(&vm);
	sleep_ms(50);
	CHECK_INT(total_runs(&vm), ==, frozen); /* nobody runs while paused */
	CHECK(pause_gate_requested(&vm.gate));

	CHECK_INT(pause_gate_resume(&vm.gate), ==, 0);
	CHECK(!pause_gate_requested(&vm.gate));
	snapshot(&vm, before);
	CHECK(all_ran_since(&vm, before)); /* every one of them runs again */
	CHECK_INT(parked(&vm), ==, 0);
	fake_destroy(&vm);
}

TEST(pause_and_resume_are_idempotent)
{
	struct fake_vm vm;
	unsigned long before[NWORKERS];

	fake_start(&vm);
	CHECK_INT(pause_gate_resume(&vm.gate), ==, 0); /* not paused: nothing to do */
	for (int i = 0; i < 3; i++) {
		CHECK_INT(pause_gate_request(&vm.gate), ==, 0);
		CHECK_INT(pause_gate_wait(&vm.gate, NWORKERS), ==, 0);
	}
	CHECK_INT(parked(&vm), ==, NWORKERS);
	CHECK_INT(pause_gate_resume(&vm.gate), ==, 0);
	CHECK_INT(pause_gate_resume(&vm.gate), ==, 0);
	snapshot(&vm, before);
	CHECK(all_ran_since(&vm, before));
	fake_destroy(&vm);
}

TEST(pause_stop_releases_parked_workers)
{
	struct fake_vm vm;

	fake_start(&vm);
	CHECK_INT(pause_gate_request(&vm.gate), ==, 0);
	CHECK_INT(pause_gate_wait(&vm.gate, NWORKERS), ==, 0);
	fake_destroy(&vm); /* joins: would hang if the parked workers stayed */
}

TEST(pause_after_stop_fails_with_einval)
{
	struct pause_gate g;

	pause_gate_init(&g);
	pause_gate_stop(&g);
	pause_gate_stop(&g);
	CHECK_INT(pause_gate_request(&g), ==, -EINVAL);
	CHECK_INT(pause_gate_resume(&g), ==, -EINVAL);
	CHECK(!pause_gate_requested(&g));
	pause_gate_release(&g);
}

struct waiter {
	struct pause_gate *gate;
	unsigned n;
	int ret;
};

static void *wait_thread(void *arg)
{
	struct waiter *w = arg;

	__atomic_store_n(&w->ret, pause_gate_wait(w->gate, w->n), __ATOMIC_SEQ_CST);
	return NULL;
}

/* A worker that never parks (a vCPU stuck outside the loop) must not keep a
 * pauser waiting once the VM ends, nor once someone resumes. */
TEST(pause_wait_returns_when_stopped_or_resumed_meanwhile)
{
	struct pause_gate g;
	struct waiter w = {&g, 1, 1};
	pthread_t t;

	pause_gate_init(&g);
	CHECK_INT(pause_gate_request(&g), ==, 0);
	CHECK_INT(pthread_create(&t, NULL, wait_thread, &w), ==, 0);
	sleep_ms(20);
	CHECK_INT(__atomic_load_n(&w.ret, __ATOMIC_SEQ_CST), ==, 1); /* still waiting */
	CHECK_INT(pause_gate_resume(&g), ==, 0);
	CHECK_INT(pthread_join(t, NULL), ==, 0);
	CHECK_INT(w.ret, ==, -EAGAIN);

	w.ret = 1;
	CHECK_INT(pause_gate_request(&g), ==, 0);
	CHECK_INT(pthread_create(&t, NULL, wait_thread, &w), ==, 0);
	sleep_ms(20);
	pause_gate_stop(&g);
	CHECK_INT(pthread_join(t, NULL), ==, 0);
	CHECK_INT(w.ret, ==, -EINVAL);
	pause_gate_release(&g);
}

TEST(pause_with_no_workers_returns_at_once)
{
	struct pause_gate g;

	pause_gate_init(&g);
	CHECK_INT(pause_gate_request(&g), ==, 0);
	CHECK_INT(pause_gate_wait(&g, 0), ==, 0);
	CHECK(pause_gate_requested(&g));
	pause_gate_release(&g);
}

/* Pause and resume back to back many times while the workers spin: every
 * pause must see all of them parked, and none may be left behind. */
TEST(pause_resume_storm_loses_no_worker)
{
	struct fake_vm vm;
	unsigned long before[NWORKERS];

	fake_start(&vm);
	for (int i = 0; i < 500; i++) {
		CHECK_INT(pause_gate_request(&vm.gate), ==, 0);
		CHECK_INT(pause_gate_wait(&vm.gate, NWORKERS), ==, 0);
		CHECK_INT(parked(&vm), ==, NWORKERS);
		CHECK_INT(pause_gate_resume(&vm.gate), ==, 0);
	}
	snapshot(&vm, before);
	CHECK(all_ran_since(&vm, before));
	fake_destroy(&vm);
}
