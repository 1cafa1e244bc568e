#!/usr/bin/env bats
# bats file_tags=kvm
# Image archives end to end: `mvrun run --image` and `mvrun unpack` of what
# contrib/make-image and podman save write, run in a microVM.

load helpers
bats_require_minimum_version 1.5.0

setup() {
	setup_containers
}

teardown() {
	teardown_containers
}

is_stopped() {
	[ "$(mvr state "$1" | jq -r .status)" = stopped ]
}

@test "run --image: an OCI image archive runs in a microVM and leaves nothing behind" {
	"$TOP/contrib/make-image" "$TEST_TMP/img.tar"
	run --separate-stderr mvr run --image "$TEST_TMP/img.tar" i1
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "hello from an image in a microVM" ]
	[ -z "$(ls -A "$STATE")" ]
}

@test "run --image --detach, then delete: the unpacked bundle goes with the container" {
	"$TOP/contrib/make-image" "$TEST_TMP/img.tar" sh -c 'echo $PATH; exit 7'
	mvr run -d --image "$TEST_TMP/img.tar" i2 >"$TEST_TMP/out"
	wait_for "is_stopped i2"
	mvr delete i2
	[ -z "$(ls -A "$STATE")" ]
}

# podman save writes a docker-archive by default, an OCI layout with
# --format oci-archive; both unpack and run.
@test "an image written by podman save (both formats) unpacks and runs" {
	local p=(podman --root "$TEST_TMP/storage" --runroot "$TEST_TMP/run" --storage-driver vfs
		--cgroup-manager cgroupfs --events-backend file)
	mkdir -p "$TEST_TMP/rootfs/bin"
	cp /bin/busybox "$TEST_TMP/rootfs/bin/"
	ln -s busybox "$TEST_TMP/rootfs/bin/sh"
	tar -C "$TEST_TMP/rootfs" -cf "$TEST_TMP/rootfs.tar" .
	TMPDIR=$TEST_TMP "${p[@]}" import --change 'CMD ["sh", "-c", "echo from podman save: $0"]' \
		"$TEST_TMP/rootfs.tar" localhost/bb:1
	TMPDIR=$TEST_TMP "${p[@]}" save -o "$TEST_TMP/docker.tar" localhost/bb:1
	TMPDIR=$TEST_TMP "${p[@]}" save --format oci-archive -o "$TEST_TMP/oci.tar" localhost/bb:1
	for f in docker oci; do
		"$MVRUN" unpack "$TEST_TMP/$f.tar" "$TEST_TMP/$f"
		run --separate-stderr mvr run --bundle "$TEST_TMP/$f" "p-$f"
		echo "$f: $output $stderr"
		[ "$status" -eq 0 ]
		[ "$output" = "from podman save: sh" ]
	done
}

@test "the Quick start's demo container runs" {
	run --separate-stderr env MVRUN="$MVRUN" "$TOP/contrib/demo-container"
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	[[ "$output" == "hello from container "*" in a microVM: kernel "*", 1 CPU" ]]
}
