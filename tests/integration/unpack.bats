#!/usr/bin/env bats
# mvrun unpack on the host (no VM): an image archive that contrib/make-image
# builds from busybox-static, made into a bundle; and the failures, which
# must leave no bundle and no temporary directory behind.  run --image up
# to the VM: the image cache, and what a failed create leaves (the cached
# image only).

load helpers
bats_require_minimum_version 1.5.0

MAKE_IMAGE=$TOP/contrib/make-image

setup_file() {
	[ -x /bin/busybox ] || skip "busybox-static missing"
	"$MAKE_IMAGE" "$BATS_FILE_TMPDIR/image.tar"
}

setup() {
	setup_tmp
	IMAGE=$BATS_FILE_TMPDIR/image.tar
	BUNDLE=$TEST_TMP/bundle
}

teardown() {
	teardown_tmp
}

# Nothing in TEST_TMP but what the test put there ($@).
only_there() {
	local want got
	want=$(printf '%s\n' "$@" | sort)
	got=$(ls -A "$TEST_TMP" | sort)
	[ "$got" = "$want" ] || {
		echo "in $TEST_TMP: $got; want: $want"
		return 1
	}
}

@test "unpack: an OCI image tar becomes a bundle with rootfs and config.json" {
	run "$MVRUN" unpack "$IMAGE" "$BUNDLE"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -x "$BUNDLE/rootfs/bin/busybox" ]
	[ "$(readlink "$BUNDLE/rootfs/bin/sh")" = busybox ]
	[ "$(stat -c %a "$BUNDLE/rootfs/tmp")" = 1777 ]
	grep -q '^root:x:0:0:' "$BUNDLE/rootfs/etc/passwd"
	[ ! -e "$BUNDLE/.image" ]
	[ "$(jq -c .process.args "$BUNDLE/config.json")" = \
		'["sh","-c","echo hello from an image in a microVM"]' ]
	[ "$(jq -r .root.path "$BUNDLE/config.json")" = rootfs ]
	[ "$(jq -r '.root.readonly // false' "$BUNDLE/config.json")" = false ]
	[ "$(jq -r ".process.terminal // false" "$BUNDLE/config.json")" = false ]
	[ "$(jq -c '[.process.user.uid, .process.user.gid]' "$BUNDLE/config.json")" = '[0,0]' ]
	[ "$(jq -r .process.cwd "$BUNDLE/config.json")" = / ]
	jq -e '.process.env | index("PATH=/bin")' "$BUNDLE/config.json"
	[ "$(jq -r '.hooks.poststop // [] | length' "$BUNDLE/config.json")" = 0 ]
	only_there bundle
}

@test "unpack: the unpacked image's command runs (in a chroot, no VM)" {
	require_root
	"$MVRUN" unpack "$IMAGE" "$BUNDLE"
	mapfile -t args < <(jq -r '.process.args[]' "$BUNDLE/config.json")
	run chroot "$BUNDLE/rootfs" "${args[@]}"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "hello from an image in a microVM" ]
}

@test "unpack: an image directory, and make-image's own command" {
	"$MAKE_IMAGE" "$TEST_TMP/img.tar" sh -c 'echo "two words"'
	mkdir "$TEST_TMP/dir"
	tar -C "$TEST_TMP/dir" -xf "$TEST_TMP/img.tar"
	run "$MVRUN" unpack "$TEST_TMP/dir" "$BUNDLE"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(jq -c .process.args "$BUNDLE/config.json")" = '["sh","-c","echo \"two words\""]' ]
	only_there bundle dir img.tar
}

@test "unpack: a gzip'd image tar and --ref" {
	gzip -c "$IMAGE" >"$TEST_TMP/image.tar.gz"
	run "$MVRUN" unpack --ref latest --platform linux/amd64 "$TEST_TMP/image.tar.gz" "$BUNDLE"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -x "$BUNDLE/rootfs/bin/busybox" ]
	run "$MVRUN" unpack --ref nope "$TEST_TMP/image.tar.gz" "$TEST_TMP/b2"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"unpack \`$TEST_TMP/image.tar.gz\`: "* ]]
	only_there bundle image.tar.gz
}

@test "unpack --config-only rewrites config.json only" {
	"$MVRUN" unpack "$IMAGE" "$BUNDLE"
	echo mine >"$BUNDLE/rootfs/marker"
	echo '{}' >"$BUNDLE/config.json"
	run "$MVRUN" unpack --config-only "$IMAGE" "$BUNDLE"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(cat "$BUNDLE/rootfs/marker")" = mine ]
	[ "$(jq -r .process.args[0] "$BUNDLE/config.json")" = sh ]
	only_there bundle
	run "$MVRUN" unpack --config-only "$IMAGE" "$TEST_TMP/none"
	[ "$status" -eq 1 ]
	[[ "$output" == *rootfs* ]]
	only_there bundle
}

@test "unpack: a missing archive is an error that names it" {
	run "$MVRUN" unpack "$TEST_TMP/missing.tar" "$BUNDLE"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == "mvrun: unpack \`$TEST_TMP/missing.tar\`: "*"No such file or directory" ]]
	only_there
}

@test "unpack: a garbage or truncated archive leaves nothing behind" {
	head -c 5000 /dev/urandom >"$TEST_TMP/garbage.tar"
	run "$MVRUN" unpack "$TEST_TMP/garbage.tar" "$BUNDLE"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"unpack \`$TEST_TMP/garbage.tar\`: "*"invalid archive"* ]]
	only_there garbage.tar
	head -c 600000 "$IMAGE" >"$TEST_TMP/short.tar"
	run "$MVRUN" unpack "$TEST_TMP/short.tar" "$BUNDLE"
	echo "$output"
	[ "$status" -eq 1 ]
	only_there garbage.tar short.tar
}

@test "unpack: a layer whose digest does not match is refused" {
	mkdir "$TEST_TMP/dir"
	tar -C "$TEST_TMP/dir" -xf "$IMAGE"
	layer=$(jq -r '.layers[0].digest' "$TEST_TMP/dir/blobs/sha256/$(jq -r \
		'.manifests[0].digest | ltrimstr("sha256:")' "$TEST_TMP/dir/index.json")")
	blob=$TEST_TMP/dir/blobs/sha256/${layer#sha256:}
	printf 'X' | dd of="$blob" bs=1 seek=100 conv=notrunc status=none
	run "$MVRUN" unpack "$TEST_TMP/dir" "$BUNDLE"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"digest mismatch"* ]]
	only_there dir
}

@test "unpack: an existing bundle is refused and left alone" {
	mkdir "$BUNDLE"
	echo mine >"$BUNDLE/file"
	run "$MVRUN" unpack "$IMAGE" "$BUNDLE"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"bundle \`$BUNDLE\` exists"* ]]
	[ "$(cat "$BUNDLE/file")" = mine ]
	only_there bundle
}

@test "unpack: usage errors" {
	run "$MVRUN" unpack "$IMAGE"
	[ "$status" -eq 1 ]
	[[ "$output" == *"give ARCHIVE and BUNDLE-DIR"* ]]
	run "$MVRUN" run --ref x c1
	[ "$status" -eq 1 ]
	[[ "$output" == *"--image"* ]]
	run "$MVRUN" run --image "$IMAGE" --bundle "$TEST_TMP" c1
	[ "$status" -eq 1 ]
	[[ "$output" == *"not both"* ]]
}

# (Running an image boots a VM: that is for the kvm tests.  These fail before.)
@test "run --image: a bad archive or a taken id leaves nothing in the root" {
	mkdir "$TEST_TMP/root"
	head -c 5000 /dev/urandom >"$TEST_TMP/garbage.tar"
	run "$MVRUN" --root "$TEST_TMP/root" run --image "$TEST_TMP/garbage.tar" c1
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"invalid archive"* ]]
	[ -z "$(ls -A "$TEST_TMP/root")" ]
	mkdir "$TEST_TMP/root/c1"
	run "$MVRUN" --root "$TEST_TMP/root" run --image "$IMAGE" c1
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"container with given ID already exists" ]]
	[ "$(ls -A "$TEST_TMP/root")" = c1 ]
}

# No mount left below $TEST_TMP (an overlay of a run --image).
no_mounts() {
	! grep -F " $TEST_TMP/" /proc/self/mountinfo
}

# A create that fails after the bundle was made: no VM kernel.
failing_run() {
	MVRUN_KERNEL=/nonexistent "$MVRUN" --debug --root "$TEST_TMP/root" run "$@"
}

@test "run --image: a failed create keeps the cached image, no bundle and no mount" {
	key=$(sha256sum "$IMAGE" | cut -d' ' -f1)
	run failing_run --image "$IMAGE" c1
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"unpacked into the cache at \`$TEST_TMP/root/images/$key\`"* ]]
	[ "$(ls -A "$TEST_TMP/root")" = images ]
	[ "$(ls -A "$TEST_TMP/root/images" | tr '\n' ' ')" = "$key $key.lock " ]
	[ -x "$TEST_TMP/root/images/$key/rootfs/bin/busybox" ]
	[ "$(jq -r .root.path "$TEST_TMP/root/images/$key/config.json")" = rootfs ]
	no_mounts
	inode=$(stat -c %i "$TEST_TMP/root/images/$key")
	# again: the cached image, not unpacked a second time
	run failing_run --image "$IMAGE" c1
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"found in the cache at \`$TEST_TMP/root/images/$key\`"* ]]
	[ "$(stat -c %i "$TEST_TMP/root/images/$key")" = "$inode" ]
	[ "$(ls -A "$TEST_TMP/root")" = images ]
	no_mounts
	# --ref: another entry
	run failing_run --image "$IMAGE" --ref latest c1
	[ "$status" -ne 0 ]
	[ "$(ls -d "$TEST_TMP/root/images/$key"-* | wc -l)" = 2 ] # the entry and its lock
	[ "$(ls -A "$TEST_TMP/root")" = images ]
	no_mounts
}

@test "run --image: as root, the rootfs is an overlay; without it, a copy" {
	require_root
	run failing_run --image "$IMAGE" c1
	echo "$output"
	[[ "$output" == *"rootfs of \`$TEST_TMP/root/c1.image\` is an overlay"* ]]
	run env MVRUN_IMAGE_NO_OVERLAY=1 MVRUN_KERNEL=/nonexistent \
		"$MVRUN" --debug --root "$TEST_TMP/root" run --image "$IMAGE" c1
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"no overlay (MVRUN_IMAGE_NO_OVERLAY is set)"* ]]
	[ "$(ls -A "$TEST_TMP/root")" = images ]
	no_mounts
}

@test "run --image: MVRUN_IMAGE_CACHE puts the cache elsewhere" {
	run env MVRUN_IMAGE_CACHE="$TEST_TMP/cache" MVRUN_KERNEL=/nonexistent \
		"$MVRUN" --root "$TEST_TMP/root" run --image "$IMAGE" c1
	echo "$output"
	[ "$status" -ne 0 ]
	[ -z "$(ls -A "$TEST_TMP/root")" ]
	[ -d "$TEST_TMP/cache/$(sha256sum "$IMAGE" | cut -d' ' -f1)/rootfs" ]
	no_mounts
}

@test "run --image: a leftover ROOT/ID.image is not taken over" {
	mkdir -p "$TEST_TMP/root/c1.image"
	echo mine >"$TEST_TMP/root/c1.image/file"
	run "$MVRUN" --root "$TEST_TMP/root" run --image "$IMAGE" c1
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"bundle \`$TEST_TMP/root/c1.image\` exists"* ]]
	[ "$(cat "$TEST_TMP/root/c1.image/file")" = mine ]
	[ "$(ls -A "$TEST_TMP/root")" = c1.image ]
}
