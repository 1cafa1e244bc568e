#!/usr/bin/env bats
# The mvrun command line itself: help, version, errors as runc prints them.

load helpers

setup() { setup_tmp; }
teardown() { teardown_tmp; }

@test "--version and version print the version" {
	run "$MVRUN" --version
	[ "$status" -eq 0 ]
	[[ "$output" == "mvrun version "[0-9]* ]]
	run "$MVRUN" version
	[ "$status" -eq 0 ]
	[[ "$output" == *"spec: 1."* ]]
}

@test "--help lists the commands" {
	run "$MVRUN" --help
	[ "$status" -eq 0 ]
	[[ "$output" == *"usage: mvrun"* ]]
	[[ "$output" == *"version"* ]]
}

@test "COMMAND --help prints that command's usage" {
	run "$MVRUN" version --help
	[ "$status" -eq 0 ]
	[[ "$output" == "usage: mvrun version"* ]]
}

@test "an unknown command fails with one clear line" {
	run "$MVRUN" frobnicate
	[ "$status" -eq 1 ]
	[ "$output" = "mvrun: unknown command \`frobnicate\`: see \`mvrun --help\`" ]
}

@test "with --log-format json the log gets one JSON error record" {
	run "$MVRUN" --log "$TEST_TMP/log.json" --log-format=json frobnicate
	[ "$status" -eq 1 ]
	[[ "$output" == *"unknown command"* ]]
	[ "$(wc -l <"$TEST_TMP/log.json")" -eq 1 ]
	grep -Eq '^\{"level":"error","msg":"unknown command `frobnicate`: see `mvrun --help`","time":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z"\}$' "$TEST_TMP/log.json"
}

@test "runc's ignored global flags are accepted" {
	run "$MVRUN" --root "$TEST_TMP/root" --rootless=false --systemd-cgroup --debug version
	[ "$status" -eq 0 ]
}

@test "a bad --log-format is refused" {
	run "$MVRUN" --log-format xml version
	[ "$status" -eq 1 ]
	[[ "$output" == *"unknown log format \`xml\`"* ]]
}
