#!/usr/bin/env bats
# bats file_tags=kvm
# mvrun vm run: a microVM with Debian's kernel and the agent runs one command
# with the caller's stdio, signals and exit status.

load helpers
bats_require_minimum_version 1.5.0

setup() {
	setup_tmp
	# The VM's private directory goes here, so a test can see it is gone.
	export TMPDIR=$TEST_TMP/tmp
	mkdir -p "$TMPDIR"
}

teardown() {
	teardown_tmp
}

# Nothing of the VM may be left behind: its directory and sockets.
nothing_left() {
	[ -z "$(ls -A "$TMPDIR")" ]
}

@test "echo hello prints hello and exits 0" {
	run --separate-stderr "$MVRUN" vm run -- echo hello
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	[ "$output" = hello ]
	[ -z "$stderr" ]
	nothing_left
}

@test "cat returns its stdin through end of file" {
	seq 1 20000 >"$TEST_TMP/in"
	"$MVRUN" vm run -- cat <"$TEST_TMP/in" >"$TEST_TMP/out"
	cmp "$TEST_TMP/in" "$TEST_TMP/out"
}

@test "stdout and stderr stay apart" {
	run --separate-stderr "$MVRUN" vm run -- sh -c 'echo to-out; echo to-err >&2; echo more-out'
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'to-out\nmore-out')" ]
	[ "$stderr" = to-err ]
}

@test "the exit code comes back: exit 42 gives 42" {
	run "$MVRUN" vm run -- sh -c 'exit 42'
	[ "$status" -eq 42 ]
}

@test "a process killed by SIGKILL gives 137" {
	run "$MVRUN" vm run -- sh -c 'kill -KILL $$'
	[ "$status" -eq 137 ]
}

@test "SIGTERM sent to mvrun vm run reaches the guest process" {
	"$MVRUN" vm run -- sh -c 'trap "echo got-term; exit 3" TERM; echo ready; while :; do sleep 0.2; done' \
		>"$TEST_TMP/out" 2>&1 &
	pid=$!
	wait_for "grep -q ready '$TEST_TMP/out'" 120
	kill -TERM "$pid"
	rc=0
	wait "$pid" || rc=$?
	cat "$TEST_TMP/out"
	[ "$rc" -eq 3 ]
	grep -q got-term "$TEST_TMP/out"
	nothing_left
}

@test "--cpus 2 gives the guest 2 CPUs, --memory 256 about 256 MiB" {
	run "$MVRUN" vm run --cpus 2 --memory 256 -- sh -c 'nproc; grep MemTotal /proc/meminfo'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 2 ]
	kib=$(echo "${lines[1]}" | awk '{print $2}')
	[ "$kib" -gt $((200 * 1024)) ]
	[ "$kib" -le $((256 * 1024)) ]
	run "$MVRUN" vm run --cpus 1 -- nproc
	[ "$output" = 1 ]
}

@test "virtio-rng feeds the guest: its crng is ready at once" {
	run "$MVRUN" vm run -- sh -c 'cat /sys/class/misc/hw_random/rng_current; head -c 16 /dev/hwrng | wc -c'
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == virtio_rng* ]]
	[ "${lines[1]}" = 16 ]
}

@test "a command that does not exist: a clear error and 127" {
	run -127 --separate-stderr "$MVRUN" vm run -- no-such-command
	[ "$status" -eq 127 ]
	[ "$stderr" = "mvrun: exec \`no-such-command\`: No such file or directory" ]
	nothing_left
}

@test "an ELF vmlinux boots as well as the bzImage" {
	command -v lz4 >/dev/null || skip "lz4 missing (apt-get install lz4)"
	extract_vmlinux "$BUILD/guest/cloud/vmlinuz" "$TEST_TMP/vmlinux"
	[ "$(od -An -c -j1 -N3 "$TEST_TMP/vmlinux" | tr -d ' ')" = ELF ]
	run "$MVRUN" vm run --kernel "$TEST_TMP/vmlinux" --initrd "$BUILD/guest/cloud/initramfs.img" \
		-- echo booted-from-elf
	[ "$status" -eq 0 ]
	[ "$output" = booted-from-elf ]
}

@test "the tuned kernel boots from its bzImage as well as from its ELF vmlinux (the default)" {
	[ -f "$BUILD/guest/tuned/bzImage" ] || skip "no tuned kernel (make guest-kernel)"
	[ "$(od -An -c -j1 -N3 "$BUILD/guest/vmlinuz" | tr -d ' ')" = ELF ]
	run "$MVRUN" vm run --kernel "$BUILD/guest/tuned/bzImage" -- echo booted-from-bzimage
	[ "$status" -eq 0 ]
	[ "$output" = booted-from-bzimage ]
}

@test "a missing kernel file: a clear error, nothing left behind" {
	run --separate-stderr "$MVRUN" vm run --kernel "$TEST_TMP/nope" -- true
	[ "$status" -eq 1 ]
	[ "$stderr" = "mvrun: open kernel \`$TEST_TMP/nope\`: No such file or directory" ]
	nothing_left
}

@test "a corrupt kernel: garbage and a truncated bzImage are refused" {
	head -c 300000 /dev/urandom >"$TEST_TMP/garbage"
	run --separate-stderr "$MVRUN" vm run --kernel "$TEST_TMP/garbage" -- true
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"is neither a bzImage nor an ELF vmlinux"* ]]
	head -c 1000000 "$BUILD/guest/cloud/vmlinuz" >"$TEST_TMP/truncated"
	run --separate-stderr "$MVRUN" vm run --kernel "$TEST_TMP/truncated" -- true
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"truncated"* ]]
	nothing_left
}

@test "a kernel whose payload is damaged: the boot timeout ends it with a clear error" {
	cp "$BUILD/guest/cloud/vmlinuz" "$TEST_TMP/damaged"
	size=$(stat -c %s "$TEST_TMP/damaged")
	head -c 65536 /dev/zero | dd of="$TEST_TMP/damaged" bs=1 seek=$((size / 2)) conv=notrunc status=none
	run --separate-stderr timeout 120 "$MVRUN" vm run --boot-timeout 20 --kernel "$TEST_TMP/damaged" -- true
	echo "$stderr"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"the guest did not start its agent within 20 s"* ]]
	nothing_left
}

@test "a guest kernel panic: a clear error naming the panic" {
	echo "not an initramfs" >"$TEST_TMP/bad-initrd"
	run --separate-stderr timeout 120 "$MVRUN" vm run --initrd "$TEST_TMP/bad-initrd" -- true
	echo "$stderr"
	[ "$status" -eq 1 ]
	[[ "$stderr" == "mvrun: the guest kernel panicked while booting: Kernel panic - not syncing: "* ]]
	nothing_left
}

@test "without permission on /dev/kvm: a clear error" {
	command -v setpriv >/dev/null || skip "setpriv missing"
	run --separate-stderr setpriv --reuid=65534 --regid=65534 --clear-groups \
		env TMPDIR=/tmp "$MVRUN" vm run -- true
	echo "$stderr"
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"open \`/dev/kvm\`: run as root or join the group that owns /dev/kvm: Permission denied" ]]
}

@test "--boot-time reports each milestone, in order" {
	run --separate-stderr "$MVRUN" vm run --boot-time -- true
	echo "$stderr"
	[ "$status" -eq 0 ]
	local times
	times=$(sed -n 's/^mvrun: boot time (ms from VMM start): vm-created \([0-9.]*\) first-vcpu-entry \([0-9.]*\) agent-start \([0-9.]*\) agent-ready \([0-9.]*\) command-started \([0-9.]*\)$/\1 \2 \3 \4 \5/p' <<<"$stderr")
	[ -n "$times" ]
	# every one measured (not -1), and none before the one it follows
	awk '{ for (i = 1; i <= NF; i++) if ($i <= 0 || (i > 1 && $i < $(i - 1))) exit 1 }' <<<"$times"
}

@test "Debian's cloud kernel, with its modules, still boots" {
	[ -f "$BUILD/guest/cloud/vmlinuz" ]
	MVRUN_KERNEL=$BUILD/guest/cloud/vmlinuz MVRUN_INITRD=$BUILD/guest/cloud/initramfs.img \
		run --separate-stderr "$MVRUN" vm run -- sh -c 'uname -r; ls /sys/bus/virtio/drivers'
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == *-cloud-amd64 ]]
	[[ "$output" == *vmw_vsock_virtio_transport* ]]
}
