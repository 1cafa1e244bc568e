#!/usr/bin/env bats
# The tree follows the project's conventions.

load helpers

@test "C sources are formatted with the checked-in .clang-format" {
	command -v clang-format >/dev/null || skip "clang-format missing"
	cd "$TOP"
	[ -d .git ] || skip "not a git checkout"
	run bash -c "git ls-files '*.c' '*.h' | xargs -r clang-format --dry-run --Werror"
	echo "$output"
	[ "$status" -eq 0 ]
}
