#!/usr/bin/env bats
# bats file_tags=kvm
# Debian 12's podman (with conmon) running its containers in mvrun
# microVMs, unmodified: `podman --runtime mvrun`.  The image is imported
# offline from a busybox rootfs; no network but loopback (--network none).

load helpers
bats_require_minimum_version 1.5.0

setup_file() {
	command -v podman >/dev/null || skip "podman is not installed"
	export PODROOT=$BATS_FILE_TMPDIR/podman
	make_rootfs "$BATS_FILE_TMPDIR/rootfs"
	tar -C "$BATS_FILE_TMPDIR/rootfs" -c . | pod import - localhost/bb >/dev/null
}

teardown_file() {
	pod rm -a -f >/dev/null 2>&1 || true
}

setup() {
	command -v podman >/dev/null || skip "podman is not installed"
	setup_tmp
}

teardown() {
	teardown_tmp
}

# podman as Debian 12 runs it without systemd, with its storage, run and
# temporary directories of this file's own.
pod() {
	HOME=$PODROOT timeout -k 5 300 podman --root "$PODROOT/storage" --runroot "$PODROOT/run" \
		--tmpdir "$PODROOT/tmp" --storage-driver vfs --cgroup-manager cgroupfs \
		--events-backend file --runtime "$MVRUN" "$@"
}

@test "podman run --rm: output and exit codes as runc gives them" {
	run pod run --rm --network none localhost/bb echo hi
	[ "$status" -eq 0 ]
	[ "$output" = hi ]
	run pod run --rm --network none localhost/bb sh -c 'exit 3'
	[ "$status" -eq 3 ]
	run -127 pod run --rm --network none localhost/bb no-such-program
	# the container's process is its pid namespace's init, which no signal
	# from inside kills (as with runc): SIGKILL comes from podman kill
	id=$(pod run -d --network none localhost/bb sleep 1000)
	pod kill "$id"
	run pod wait "$id"
	[ "$output" = 137 ]
	pod rm -f "$id"
}

@test "podman run -d, logs, exec, stop, wait, rm" {
	id=$(pod run -d --network none localhost/bb sh -c 'echo started; trap "echo bye; exit 5" TERM; while :; do sleep 0.2; done')
	wait_for "pod logs $id | grep -q started" 60
	run pod exec "$id" sh -c 'echo in-exec; exit 4'
	[ "$status" -eq 4 ]
	[ "$output" = in-exec ]
	[ "$(pod inspect -f '{{.State.Running}}' "$id")" = true ]
	pod stop -t 30 "$id"
	run pod wait "$id"
	[ "$output" = 5 ]
	run pod logs "$id"
	[[ "$output" == *bye* ]]
	pod rm "$id"
	run pod inspect "$id"
	[ "$status" -ne 0 ]
}

@test "podman run: -e, -w, -u, --entrypoint, --hostname reach the process" {
	run pod run --rm --network none -e FOO=bar -w /tmp -u 65534:65534 --hostname box \
		localhost/bb sh -c 'echo $FOO $(pwd) $(id -u):$(id -g) $(hostname)'
	[ "$status" -eq 0 ]
	[ "$output" = "bar /tmp 65534:65534 box" ]
	run pod run --rm --network none --entrypoint /bin/echo localhost/bb from-entrypoint
	[ "$output" = from-entrypoint ]
}

@test "podman run: -v both ways, :ro enforced, --read-only, --tmpfs" {
	mkdir "$TEST_TMP/vol"
	echo from-host >"$TEST_TMP/vol/in"
	run pod run --rm --network none -v "$TEST_TMP/vol:/data" localhost/bb \
		sh -c 'cat /data/in; echo from-guest >/data/out'
	[ "$status" -eq 0 ]
	[ "$output" = from-host ]
	[ "$(cat "$TEST_TMP/vol/out")" = from-guest ]
	run pod run --rm --network none -v "$TEST_TMP/vol:/data:ro" localhost/bb sh -c 'echo x >/data/x'
	[ "$status" -ne 0 ]
	[ ! -e "$TEST_TMP/vol/x" ]
	run pod run --rm --network none --read-only --tmpfs /scratch localhost/bb \
		sh -c 'echo ok >/scratch/f && cat /scratch/f && ! touch /f 2>/dev/null'
	[ "$status" -eq 0 ]
	[ "$output" = ok ]
}

@test "podman run --memory and --cpus size the microVM" {
	run pod run --rm --network none --memory 256m --cpus 2 localhost/bb \
		sh -c 'grep MemTotal /proc/meminfo; nproc'
	[ "$status" -eq 0 ]
	mem_kib=$(echo "$output" | awk '/MemTotal/ { print $2 }')
	[ "$mem_kib" -gt $((200 * 1024)) ]
	[ "$mem_kib" -le $((256 * 1024)) ]
	[ "$(echo "$output" | tail -1)" = 2 ]
}

@test "podman kill -s delivers the signal to the container's process" {
	id=$(pod run -d --network none localhost/bb sh -c 'trap "echo got-usr1; exit 9" USR1; echo ready; while :; do sleep 0.2; done')
	wait_for "pod logs $id | grep -q ready" 60
	pod kill -s USR1 "$id"
	run pod wait "$id"
	[ "$output" = 9 ]
	[[ "$(pod logs "$id")" == *got-usr1* ]]
	pod rm -f "$id"
}

@test "the containers.conf drop-in: podman --runtime mvrun by name, with mvrun's errors" {
	conf=$(dirname "$MVRUN")/contrib/mvrun-containers.conf
	[ -f "$conf" ]
	grep -q '"mvrun"' "$conf"
	# the drop-in names the installed mvrun: point it at the one under test
	sed "s|^mvrun = .*|mvrun = [\"$MVRUN\"]|" "$conf" >"$TEST_TMP/containers.conf"
	CONTAINERS_CONF=$TEST_TMP/containers.conf run pod --runtime mvrun run --rm --network none localhost/bb echo by-name
	[ "$status" -eq 0 ]
	[ "$output" = by-name ]
	# podman passed --log-format=json and read mvrun's error back from it
	CONTAINERS_CONF=$TEST_TMP/containers.conf run -127 pod --runtime mvrun run --rm --network none localhost/bb no-such-program
	[[ "$output" == *"executable file not found in \$PATH"* ]]
}
