# Shared by the bats files: where the build is, and small helpers.
# Each test makes its own temporary directory and removes it.

TOP=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
BUILD=${MVRUN_BUILDDIR:-$TOP}
MVRUN=$BUILD/mvrun

setup_tmp() {
	TEST_TMP=$(mktemp -d "${BATS_TMPDIR:-/tmp}/mvrun-test.XXXXXX")
}

teardown_tmp() {
	[ -n "${TEST_TMP:-}" ] && rm -rf "$TEST_TMP"
}

require_root() {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
}

# Wait up to $2 seconds (default 60) for the command $1 to succeed.
wait_for() {
	local i
	for ((i = 0; i < ${2:-60} * 10; i++)); do
		eval "$1" && return 0
		sleep 0.1
	done
	return 1
}

# The ELF vmlinux inside a bzImage: its payload (boot protocol fields
# payload_offset/payload_length), decompressed.
extract_vmlinux() {
	local bz=$1 out=$2 setup pm off len magic
	setup=$(od -An -tu1 -j $((0x1f1)) -N1 "$bz" | tr -d ' ')
	[ "$setup" -eq 0 ] && setup=4
	pm=$(((setup + 1) * 512))
	off=$(od -An -tu4 -j $((0x248)) -N4 "$bz" | tr -d ' ')
	len=$(od -An -tu4 -j $((0x24c)) -N4 "$bz" | tr -d ' ')
	tail -c +$((pm + off + 1)) "$bz" | head -c "$len" >"$out.z"
	magic=$(od -An -tx1 -N4 "$out.z" | tr -d ' ')
	# kbuild appends the size after the compressed stream: the tools
	# complain about trailing data, so judge by the result.
	case $magic in
	02214c18) lz4 -d -q -f "$out.z" "$out" || true ;;
	1f8b*) gzip -dc <"$out.z" >"$out" 2>/dev/null || true ;;
	fd377a58) xz -dcq <"$out.z" >"$out" 2>/dev/null || true ;;
	28b52ffd) zstd -dqf "$out.z" -o "$out" 2>/dev/null || true ;;
	*) echo "unknown payload compression $magic" >&2; return 1 ;;
	esac
	rm -f "$out.z"
	[ "$(od -An -tx1 -N4 "$out" | tr -d ' ')" = 7f454c46 ]
}

# A minimal root filesystem in $1: a static busybox, a link per applet, and
# the usual top-level directories.
make_rootfs() {
	local r=$1 a
	mkdir -p "$r"/{bin,sbin,usr/bin,usr/sbin,etc,tmp,root,var,proc,sys,dev}
	chmod 1777 "$r/tmp"
	cp /bin/busybox "$r/bin/busybox"
	for a in $(/bin/busybox --list-full); do
		[ "$a" = bin/busybox ] || ln -s /bin/busybox "$r/$a"
	done
	printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/sh\n' >"$r/etc/passwd"
	printf 'root:x:0:\nnogroup:x:65534:\n' >"$r/etc/group"
}

# A bundle in $1: a busybox rootfs (copied from a template made once per
# file in $BATS_FILE_TMPDIR) and `mvrun spec`'s config.json with
# process.terminal off and process.args set to the remaining arguments.
make_bundle() {
	local b=$1 tpl=$BATS_FILE_TMPDIR/rootfs-template
	shift
	[ -d "$tpl" ] || make_rootfs "$tpl"
	mkdir -p "$b"
	cp -a "$tpl" "$b/rootfs"
	(cd "$b" && "$MVRUN" spec) || return 1
	# one jq per argument: jq would take an argument like -c as its own option
	local args
	args=$(for a in "$@"; do jq -n --arg a "$a" '$a'; done | jq -s -c .) || return 1
	edit_config "$b" '.process.terminal = false | .process.args = $args' --argjson args "$args"
}

# Apply the jq filter $2 (with jq's remaining arguments) to $1/config.json.
edit_config() {
	local b=$1 filter=$2
	shift 2
	jq "$filter" "$@" <"$b/config.json" >"$b/config.json.new" && mv "$b/config.json.new" "$b/config.json"
}

# Container tests: a state root and a bundle path of their own, `mvr` for
# mvrun with that root, and every container left over deleted afterwards.
setup_containers() {
	setup_tmp
	STATE=$TEST_TMP/state
	B=$TEST_TMP/bundle
}

teardown_containers() {
	local id
	for id in $("$MVRUN" --root "$STATE" list -q 2>/dev/null); do
		timeout -k 5 60 "$MVRUN" --root "$STATE" delete -f "$id" || echo "# delete -f $id: $?" >&3
	done
	teardown_tmp
}

# A command that hangs fails here, with its name, rather than stall the file.
mvr() {
	timeout -k 5 "${MVR_TIMEOUT:-300}" "$MVRUN" --root "$STATE" "$@"
}
