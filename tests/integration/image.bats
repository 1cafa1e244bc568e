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

# What run --image leaves in the root: the image cache only, and no mount.
only_the_cache() {
	[ "$(ls -A "$STATE")" = images ] || {
		echo "in $STATE: $(ls -A "$STATE")"
		return 1
	}
	! grep -F " $STATE/" /proc/self/mountinfo
}

@test "run --image: an OCI image archive runs in a microVM and leaves only the cache" {
	"$TOP/contrib/make-image" "$TEST_TMP/img.tar"
	run --separate-stderr mvr run --image "$TEST_TMP/img.tar" i1
	echo "$output $stderr"
	[ "$status" -eq 0 ]
	[ "$output" = "hello from an image in a microVM" ]
	only_the_cache
}

@test "run --image --detach, then delete: the container's bundle goes with it" {
	"$TOP/contrib/make-image" "$TEST_TMP/img.tar" sh -c 'echo $PATH; exit 7'
	mvr run -d --image "$TEST_TMP/img.tar" i2 >"$TEST_TMP/out"
	wait_for "is_stopped i2"
	[ -d "$STATE/i2.image/upper" ] || [ -d "$STATE/i2.image/rootfs/bin" ]
	mvr delete i2
	only_the_cache
}

# The rootfs is an overlay on the cached image: a container's writes are
# its own, the next container of the image starts from the image again.
@test "run --image: writes stay in the container, the cached image is reused" {
	"$TOP/contrib/make-image" "$TEST_TMP/img.tar" \
		sh -c '[ -e /marker ] && echo seen; echo w >/marker && echo wrote'
	local entry round
	entry=$STATE/images/$(sha256sum "$TEST_TMP/img.tar" | cut -d' ' -f1)
	for round in 1 2; do  # not $i: bats's run changes it
		run --separate-stderr mvr --debug run --image "$TEST_TMP/img.tar" "w$round"
		echo "$output $stderr"
		[ "$status" -eq 0 ]
		[ "$output" = wrote ]
		[ -d "$entry/rootfs/bin" ]
		# a probe left in the cached entry: gone if it were unpacked again
		[ "$round" = 1 ] && touch "$entry/probe"
		[ -e "$entry/probe" ]
	done
	[[ "$stderr" == *"found in the cache"* ]]
	[ -z "$(find "$STATE/images" -name marker)" ]
	only_the_cache
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
