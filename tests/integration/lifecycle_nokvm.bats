#!/usr/bin/env bats
# The lifecycle commands' bad input, checked before any VM boots: each a
# one-line error naming what is wrong, a non-zero exit, nothing left behind.

load helpers
bats_require_minimum_version 1.5.0

setup() {
	setup_containers
	mkdir -p "$B/rootfs"
	(cd "$B" && "$MVRUN" spec)
}

teardown() {
	teardown_tmp
}

# create fails with a message containing $1 and leaves no container.
create_fails_with() {
	run mvr create --bundle "$B" c1
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"$1"* ]]
	[ "${#lines[@]}" -eq 1 ]
	[ ! -e "$STATE/c1" ]
}

@test "create: a missing config.json is named" {
	rm "$B/config.json"
	create_fails_with "config.json"
}

@test "create: malformed JSON, a wrong type and a wrong ociVersion name the problem" {
	echo '{"ociVersion": "1.0.2", "process": ' >"$B/config.json"
	create_fails_with "invalid JSON"
	(cd "$B" && rm config.json && "$MVRUN" spec)
	edit_config "$B" '.process.args = "sh"'
	create_fails_with "process.args"
	edit_config "$B" '.process.args = ["sh"] | .ociVersion = "2.0.0"'
	create_fails_with "ociVersion"
}

@test "create: a missing process or rootfs" {
	edit_config "$B" 'del(.process)'
	create_fails_with "process"
	(cd "$B" && rm config.json && "$MVRUN" spec)
	rmdir "$B/rootfs"
	create_fails_with "rootfs"
}

@test "create: a terminal needs a console socket" {
	create_fails_with "console socket"
}

@test "create: an invalid id" {
	run mvr create --bundle "$B" "../x"
	[ "$status" -ne 0 ]
	[[ "$output" == *"invalid container id"* ]]
}

@test "start, kill, delete of an unknown id: container does not exist; delete --force: 0" {
	for cmd in start "kill" delete; do
		run mvr $cmd nosuch
		[ "$status" -ne 0 ]
		[[ "$output" == *"container does not exist"* ]]
	done
	mvr delete --force nosuch
}

@test "runc flags that do not apply are accepted" {
	# no rootfs: create stops there, after its options, before any VM
	edit_config "$B" '.process.terminal = false'
	rmdir "$B/rootfs"
	run mvr create --no-pivot --no-new-keyring --preserve-fds 0 --bundle "$B" c1
	[ "$status" -ne 0 ]
	[[ "$output" == *"rootfs"* ]]
	[[ "$output" != *"unknown option"* ]]
}

@test "every command has --help" {
	for cmd in create start run kill delete state list spec features; do
		run "$MVRUN" $cmd --help
		[ "$status" -eq 0 ]
		[[ "$output" == "usage: mvrun $cmd"* ]]
	done
}

@test "create: an unwritable --root is named" {
	edit_config "$B" '.process.terminal = false'
	run "$MVRUN" --root /proc/mvrun-root create --bundle "$B" c1
	[ "$status" -ne 0 ]
	[[ "$output" == *"/proc/mvrun-root"* ]]
	[ "${#lines[@]}" -eq 1 ]
}

@test "kill: a bad signal is refused before anything is touched" {
	run mvr kill c1 NOSUCH
	[ "$status" -ne 0 ]
	[[ "$output" == *"invalid signal"* ]]
}

@test "with --log-format json a failed create logs one JSON error record" {
	rm "$B/config.json"
	run "$MVRUN" --root "$STATE" --log "$TEST_TMP/log.json" --log-format json create --bundle "$B" c1
	[ "$status" -ne 0 ]
	[ "$(wc -l <"$TEST_TMP/log.json")" -eq 1 ]
	[ "$(jq -r .level "$TEST_TMP/log.json")" = error ]
	[[ "$(jq -r .msg "$TEST_TMP/log.json")" == *config.json* ]]
	jq -r .time "$TEST_TMP/log.json" | grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T'
}
