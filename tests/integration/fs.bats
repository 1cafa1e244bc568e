#!/usr/bin/env bats
# bats file_tags=kvm
# The shared filesystem: the command's root and volumes are host directories
# served by the VMM's virtio-fs device; the guest is untrusted.

load helpers
bats_require_minimum_version 1.5.0

setup() {
	setup_tmp
	ROOT=$TEST_TMP/rootfs
	make_rootfs "$ROOT"
}

teardown() {
	teardown_tmp
}

vm() {
	"$MVRUN" vm run --rootfs "$ROOT" "$@"
}

@test "the command's root is the host directory: it lists, reads and writes it, the host sees the writes" {
	echo host-data >"$ROOT/etc/data"
	run --separate-stderr vm -- sh -c 'ls /; cat /etc/data; echo guest-data >/root/new; mkdir -p /var/x/y; echo 1 >/var/x/y/f; rm /etc/data'
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	[[ "$output" == *busybox* || "$output" == *bin* ]]
	[[ "$output" == *host-data* ]]
	[ "$(cat "$ROOT/root/new")" = guest-data ]
	[ "$(cat "$ROOT/var/x/y/f")" = 1 ]
	[ ! -e "$ROOT/etc/data" ]
}

@test "ownership and modes: as on the host; new files belong to the process's uid and gid" {
	echo x >"$ROOT/etc/owned"
	chown 1234:5678 "$ROOT/etc/owned"
	chmod 640 "$ROOT/etc/owned"
	run vm -- sh -c 'stat -c "%u %g %a" /etc/owned; touch /tmp/byroot; chown 42:43 /tmp/byroot; chmod 600 /tmp/byroot'
	[ "$status" -eq 0 ]
	[ "$output" = "1234 5678 640" ]
	[ "$(stat -c '%u %g %a' "$ROOT/tmp/byroot")" = "42 43 600" ]
	run vm --user 1000:1001 -- sh -c 'echo hi >/tmp/byuser; mkdir /tmp/dirbyuser'
	[ "$status" -eq 0 ]
	[ "$(stat -c '%u %g' "$ROOT/tmp/byuser")" = "1000 1001" ]
	[ "$(stat -c '%u %g' "$ROOT/tmp/dirbyuser")" = "1000 1001" ]
}

@test "a bind-mounted directory works both ways and ro is enforced" {
	mkdir -p "$TEST_TMP/vol" "$TEST_TMP/rovol"
	echo from-host >"$TEST_TMP/vol/in"
	echo read-only >"$TEST_TMP/rovol/in"
	run --separate-stderr vm -v "$TEST_TMP/vol:/mnt/vol" -v "$TEST_TMP/rovol:/mnt/ro:ro" -- sh -c \
		'cat /mnt/vol/in; echo from-guest >/mnt/vol/out; cat /mnt/ro/in; echo no >/mnt/ro/out || echo refused'
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = from-host ]
	[ "${lines[1]}" = read-only ]
	[ "${lines[2]}" = refused ]
	[[ "$stderr" == *"Read-only file system"* ]]
	[ "$(cat "$TEST_TMP/vol/out")" = from-guest ]
	[ ! -e "$TEST_TMP/rovol/out" ]
}

@test "a bind-mounted single file (like /etc/hosts) works both ways and ro is enforced" {
	printf '127.0.0.1 localhost\n10.0.0.1 db\n' >"$TEST_TMP/hosts"
	echo fixed >"$TEST_TMP/fixed"
	run --separate-stderr vm -v "$TEST_TMP/hosts:/etc/hosts" -v "$TEST_TMP/fixed:/etc/fixed:ro" -- sh -c \
		'grep db /etc/hosts; echo "10.0.0.2 cache" >>/etc/hosts; cat /etc/fixed; echo x >/etc/fixed || echo refused'
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "10.0.0.1 db" ]
	[ "${lines[1]}" = fixed ]
	[ "${lines[2]}" = refused ]
	grep -q '10.0.0.2 cache' "$TEST_TMP/hosts"
	[ "$(cat "$TEST_TMP/fixed")" = fixed ]
}

@test "host-side changes show up in the running guest" {
	mkdir -p "$TEST_TMP/vol"
	vm -v "$TEST_TMP/vol:/mnt/vol" -- sh -c \
		'echo up >/mnt/vol/up; while [ ! -e /mnt/vol/flag ]; do sleep 0.2; done; cat /mnt/vol/flag' \
		>"$TEST_TMP/out" 2>&1 &
	pid=$!
	wait_for "[ -e '$TEST_TMP/vol/up' ]" 120
	echo changed-on-host >"$TEST_TMP/vol/flag"
	rc=0
	timeout 60 tail --pid=$pid -f /dev/null || rc=$?
	wait $pid
	[ "$rc" -eq 0 ]
	[ "$(cat "$TEST_TMP/out")" = changed-on-host ]
}

@test "tar of /usr and a small busybox build succeed, and the host sees the same bytes" {
	run --separate-stderr vm -- sh -c '
		set -e
		tar cf /tmp/usr.tar /usr
		tar tf /tmp/usr.tar | wc -l
		mkdir /tmp/build && cd /tmp/build
		for i in $(seq 1 300); do echo "line $i" >f$i.txt; done
		cat f*.txt | sort -t" " -k2 -n | md5sum >sum
		sed -i s/line/LINE/ f1.txt
		mv f2.txt moved.txt && ln moved.txt hard.txt && ln -s moved.txt soft.txt
		rm f3.txt && mkdir -p a/b/c && mv a z && rm -r z
		truncate -s 100000 big && fallocate -l 200000 big2 && sync
		cat sum'
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" -eq "$(cd "$ROOT" && find usr | wc -l)" ]
	host_sum=$(seq 1 300 | sed 's/^/line /' | md5sum)
	[ "${lines[1]}" = "$host_sum" ]
	[ "$(cat "$ROOT/tmp/build/f1.txt")" = "LINE 1" ]
	[ "$(stat -c %h "$ROOT/tmp/build/moved.txt")" = 2 ]
	[ "$(readlink "$ROOT/tmp/build/soft.txt")" = moved.txt ]
	[ ! -e "$ROOT/tmp/build/z" ]
	[ "$(stat -c %s "$ROOT/tmp/build/big")" = 100000 ]
	[ "$(stat -c %s "$ROOT/tmp/build/big2")" = 200000 ]
	tar tf "$ROOT/tmp/usr.tar" >/dev/null
}

@test "escape: symlinks to / and ../../.. stay inside, renames and hard links cannot reach out" {
	secret=$TEST_TMP/host-secret
	echo do-not-read >"$secret"
	ln -s / "$ROOT/to-root"
	ln -s ../../../../../../.. "$ROOT/to-up"
	ln -s "$secret" "$ROOT/to-secret"
	before=$(ls -A "$TEST_TMP")
	links=$(stat -c %h /etc/passwd)
	run --separate-stderr vm -- sh -c "
		cat /to-root$secret 2>/dev/null && echo LEAK1
		cat /to-up$secret 2>/dev/null && echo LEAK2
		cat /to-secret 2>/dev/null && echo LEAK3
		ls /to-up/ | grep -q busybox || ls /to-up/ | grep -q bin && echo inside
		mkdir /d && mv /d /../../escaped && ls -d /escaped && echo renamed-inside
		ln /to-up/etc/passwd /hl 2>/dev/null; cat /hl | head -1
		cd /; cd ../../..; pwd"
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	[[ "$output" != *LEAK* ]]
	[[ "$output" == *inside* ]]
	[[ "$output" == *renamed-inside* ]]
	[[ "$output" == *"root:x:0:0"* ]] # the guest's own /etc/passwd
	[ -d "$ROOT/escaped" ]
	[ "$(ls -A "$TEST_TMP")" = "$before" ] # nothing appeared beside the root
	[ "$(stat -c %h /etc/passwd)" = "$links" ] # the host's own was never reachable
	[ "$(stat -c %h "$ROOT/etc/passwd")" = 2 ]
}

@test "escape: a host device node placed in the root is not the host's device" {
	mknod "$ROOT/kvm-node" c 10 232 # /dev/kvm on the host; nothing in the guest
	mkfifo "$ROOT/fifo"
	run --separate-stderr vm -- sh -c 'cat /kvm-node; echo rc=$?; (echo through >/fifo &) ; cat /fifo; mkfifo /tmp/newfifo && ls -l /tmp/newfifo'
	echo "$output $stderr"
	[[ "$output" == *"rc=1"* ]]
	[[ "$stderr" == *"kvm-node"* ]]
	[[ "$output" == *through* ]]
	[ -p "$ROOT/tmp/newfifo" ]
}

@test "the VMM process sees no host path outside what it serves, and leaks no fds" {
	mkdir -p "$TEST_TMP/vol"
	# mvrun itself, not a subshell, must be $! : its /proc entry is examined
	"$MVRUN" vm run --rootfs "$ROOT" -v "$TEST_TMP/vol:/mnt/vol" -- sh -c '
		echo up >/mnt/vol/up; while [ ! -e /mnt/vol/go ]; do sleep 0.2; done
		cd /tmp; for i in $(seq 1 300); do echo $i >f$i; done; cat f* >/dev/null; rm f*
		echo done >/mnt/vol/done; while [ ! -e /mnt/vol/end ]; do sleep 0.2; done' \
		>"$TEST_TMP/out" 2>&1 &
	pid=$!
	wait_for "[ -e '$TEST_TMP/vol/up' ]" 120
	fds_before=$(ls /proc/$pid/fd | wc -l)
	[ -e /proc/$pid/root/dev/kvm ]
	[ -d "/proc/$pid/root$ROOT/bin" ]
	[ ! -e /proc/$pid/root/etc/passwd ]
	[ ! -e /proc/$pid/root/usr/bin ]
	touch "$TEST_TMP/vol/go"
	wait_for "[ -e '$TEST_TMP/vol/done' ]" 240
	fds_after=$(ls /proc/$pid/fd | wc -l)
	touch "$TEST_TMP/vol/end"
	wait $pid
	echo "fds: $fds_before then $fds_after"
	[ "$fds_after" -le $((fds_before + 8)) ]
}

@test "the FUSE server's unit tests pass on the emulated host's kernel too" {
	# Filesystems differ between kernels: on 6.1's tmpfs a directory
	# offset is a count of entries, which newer kernels no longer do.
	[ -x "$BUILD/tests/unit/unit-asan" ] || skip "unit tests not built (make check builds them)"
	run "$BUILD/tests/unit/unit-asan" test_fuse.c
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" != *"not ok"* ]]
}
