#!/usr/bin/env bats
# mvrun vm run where there is no /dev/kvm (hidden in a private mount
# namespace): a clear error, not a crash.  Runs on the host.

load helpers
bats_require_minimum_version 1.5.0

@test "no /dev/kvm: a clear error saying what to do" {
	require_root
	command -v unshare >/dev/null || skip "unshare missing"
	run --separate-stderr unshare --mount sh -c \
		"mount -t tmpfs none /dev && exec '$MVRUN' vm run -- true"
	echo "$stderr"
	[ "$status" -eq 1 ]
	[[ "$stderr" == "mvrun: open \`/dev/kvm\`: enable virtualization"*"tests/kvmhost/run: No such file or directory" ]]
}

@test "vm run without a command is a usage error" {
	run --separate-stderr "$MVRUN" vm run
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"no command given"* ]]
	run --separate-stderr "$MVRUN" vm run --cpus 0 -- true
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"--cpus \`0\`: give a number from 1 to 64"* ]]
	run --separate-stderr "$MVRUN" vm frob
	[ "$status" -eq 1 ]
}

@test "vm run: bad --rootfs, --volume and --user are usage errors" {
	run --separate-stderr "$MVRUN" vm run --rootfs /nonexistent/root -- true
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"--rootfs \`/nonexistent/root\`: No such file or directory"* ]]
	run --separate-stderr "$MVRUN" vm run -v /tmp:/mnt -- true
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"--volume needs --rootfs"* ]]
	run --separate-stderr "$MVRUN" vm run --rootfs / -v /tmp -- true
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"give HOST:GUEST[:ro]"* ]]
	run --separate-stderr "$MVRUN" vm run --rootfs / -v /tmp:relative -- true
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"\`relative\` is not an absolute path"* ]]
	run --separate-stderr "$MVRUN" vm run --rootfs / -v /tmp:/mnt:rx -- true
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"mode \`rx\`: ro or rw"* ]]
	run --separate-stderr "$MVRUN" vm run --user root -- true
	[ "$status" -eq 1 ]
	[[ "$stderr" == *"--user \`root\`: give UID[:GID] as numbers"* ]]
}
