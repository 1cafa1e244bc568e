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
