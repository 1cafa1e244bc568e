#!/usr/bin/env bats
# The emulated KVM host itself (always emulated here, even where /dev/kvm
# works, so that both paths stay tested).  Runs on the host, not inside it.

load helpers
bats_require_minimum_version 1.5.0

KVMHOST=$TOP/tests/kvmhost/run

setup() {
	require_root
	command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 missing"
	setup_tmp
	export MVRUN_KVMHOST=emulate MVRUN_KVMHOST_KEEP=1
}

teardown() {
	teardown_tmp
	# A kept run directory names its QEMU: none may be left.
	for d in ${RUN_DIRS:-}; do
		rm -rf "$d"
	done
}

# The run directory that tests/kvmhost/run reported keeping.
run_dir_of() {
	sed -n 's/.*kvmhost: run directory kept: //p' <<<"$1" | tail -n 1
}

no_qemu_left() {
	local d=$1
	[ -n "$d" ]
	RUN_DIRS="${RUN_DIRS:-} $d"
	! pgrep -f "$d/" >/dev/null
}

@test "no command is a usage error" {
	run "$KVMHOST"
	[ "$status" -eq 2 ]
	[[ "$output" == "usage: tests/kvmhost/run"* ]]
}

@test "emulated host: /dev/kvm works, exit status, stdout and stderr apart, checkout writable" {
	cd "$TOP"
	marker=tests/integration/.kvmhost-marker-$$
	run --separate-stderr "$KVMHOST" bash -c \
		"tests/kvmhost/kvm-smoke && echo to-stdout && echo to-stderr >&2 && pwd && echo inside >$marker && exit 7"
	echo "stdout: $output"
	echo "stderr: $stderr"
	[ "$status" -eq 7 ]
	[[ "$output" == *"kvm-smoke: ok: KVM_EXIT_IO"* ]]
	[[ "$output" == *"to-stdout"* ]]
	[[ "$output" != *"to-stderr"* ]]
	[[ "$stderr" == *"to-stderr"* ]]
	[[ "$output" == *"$TOP"* ]]
	[ "$(cat "$marker")" = inside ]
	rm -f "$marker"
	no_qemu_left "$(run_dir_of "$stderr")"
}

@test "emulated host: the time limit ends it with 124, shows the console, leaves no QEMU" {
	MVRUN_KVMHOST_TIMEOUT=25 run --separate-stderr "$KVMHOST" sleep 600
	echo "$stderr"
	[ "$status" -eq 124 ]
	[[ "$stderr" == *"time limit of 25s reached"* ]]
	no_qemu_left "$(run_dir_of "$stderr")"
}

@test "emulated host: one that does not boot in time is started once more" {
	MVRUN_KVMHOST_BOOT_TIMEOUT=1 run --separate-stderr "$KVMHOST" sh -c 'exit 3'
	echo "$stderr"
	[ "$status" -eq 3 ]
	[[ "$stderr" == *"did not boot within 1s: starting it again"* ]]
	no_qemu_left "$(run_dir_of "$stderr")"
}

@test "emulated host: its kernel reporting a lockup or a panic ends it at once with 125" {
	run --separate-stderr "$KVMHOST" sh -c 'echo "<0>BUG: soft lockup - a test" >/dev/kmsg; sleep 600'
	echo "$stderr"
	[ "$status" -eq 125 ]
	[[ "$stderr" == *"the emulated host did not run the command to its end: its kernel failed"* ]]
	[[ "$stderr" == *"BUG: soft lockup - a test"* ]]
	no_qemu_left "$(run_dir_of "$stderr")"
}

@test "emulated host: SIGTERM to the runner stops QEMU; parallel runs are independent" {
	"$KVMHOST" sleep 600 2>"$TEST_TMP/a.err" &
	a=$!
	run "$KVMHOST" sh -c 'exit 3'
	[ "$status" -eq 3 ]
	kill -TERM "$a"
	wait "$a" || rc=$?
	[ "${rc:-0}" -eq 143 ]
	no_qemu_left "$(run_dir_of "$(cat "$TEST_TMP/a.err")")"
}
