#!/usr/bin/env bats
# bats file_tags=kvm
# exec, ps and the terminal: processes beside the container's own, their
# stdio, exit codes and signals; a pty through --console-socket.

load helpers
bats_require_minimum_version 1.5.0

setup() {
	setup_containers
}

teardown() {
	teardown_containers
}

# A running container $1 whose process sleeps.
start_sleeper() {
	make_bundle "$B" sleep 100000
	edit_config "$B" '.hostname = "inside" | .process.env += ["FROM=config"]'
	mvr run -d --bundle "$B" "$1" </dev/null >/dev/null 2>&1
}

@test "exec: output, stdin, exit status, the container's namespaces and environment" {
	start_sleeper e1
	run --separate-stderr mvr exec e1 sh -c 'echo "$(hostname) $FROM $(cat /proc/1/comm)"; echo err >&2; exit 5'
	[ "$status" -eq 5 ]
	[ "$output" = "inside config sleep" ]
	[ "$stderr" = err ]
	run mvr exec e1 tr a-z A-Z <<<"upper"
	[ "$output" = UPPER ]
	run mvr exec --env FROM=flag --cwd /tmp --user 65534:65534 e1 sh -c 'echo "$FROM $(pwd) $(id -u):$(id -g)"'
	[ "$output" = "flag /tmp 65534:65534" ]
}

@test "exec: a missing program is 127 with runc's words; a stopped container refuses" {
	start_sleeper e2
	run -127 mvr exec e2 nosuch-program
	[[ "$output" == *"executable file not found in \$PATH"* ]]
	mvr kill e2 KILL
	wait_for "[ \"\$(mvr state e2 | jq -r .status)\" = stopped ]" 60
	run mvr exec e2 true
	[ "$status" -ne 0 ]
	[[ "$output" == *"stopped"* ]]
}

@test "exec --process FILE; --detach with --pid-file; ps lists the host processes" {
	start_sleeper e3
	printf '{"args": ["sh", "-c", "echo from-process-file; exit 3"], "cwd": "/", "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}}' >"$TEST_TMP/p.json"
	run mvr exec --process "$TEST_TMP/p.json" e3
	[ "$status" -eq 3 ]
	[ "$output" = from-process-file ]
	mvr exec -d --pid-file "$TEST_TMP/exec.pid" e3 sleep 1000
	epid=$(cat "$TEST_TMP/exec.pid")
	[[ "$epid" =~ ^[0-9]+$ ]]
	kill -0 "$epid"
	run mvr ps --format json e3
	echo "$output"
	[ "$(jq length <<<"$output")" -eq 2 ]
	[ "$(jq ".[1]" <<<"$output")" = "$epid" ]
	[ "$(jq ".[0]" <<<"$output")" = "$(mvr state e3 | jq .pid)" ]
	run mvr ps e3
	[[ "${lines[0]}" == *PID* ]]
	[ "${#lines[@]}" -eq 3 ]
	# the exec's host process dies: its process in the guest is killed
	kill -9 "$epid"
	for i in $(seq 30); do
		n=$(mvr exec e3 sh -c 'cat /proc/[0-9]*/comm | grep -c "^sleep$"')
		[ "$n" = 1 ] && break
		sleep 1
	done
	[ "$n" = 1 ]
}

@test "exec: a signal to the exec's host process reaches its process" {
	start_sleeper e4
	# mvrun itself, not mvr's timeout(1), must get the signal
	"$MVRUN" --root "$STATE" exec e4 sh -c 'trap "echo term; exit 9" TERM; echo up; while :; do sleep 0.1; done' >"$TEST_TMP/out" &
	execpid=$!
	wait_for "grep -q up '$TEST_TMP/out'" 120
	kill -TERM $execpid
	st=0
	wait $execpid || st=$?
	[ "$st" -eq 9 ]
	grep -q term "$TEST_TMP/out"
}

@test "terminal: create --console-socket hands out a pty with the caller's size, and its resizes" {
	make_bundle "$B" sh -c '[ -t 0 ] && echo is-a-tty; sleep 1; stty size; trap "stty size; echo done; exit" WINCH
		echo resize-now; while :; do sleep 0.1; done'
	edit_config "$B" '.process.terminal = true'
	"$BUILD/tests/console-recv" "$TEST_TMP/console.sock" 30 100 40 120 </dev/null >"$TEST_TMP/tty.out" &
	recv=$!
	wait_for "[ -S '$TEST_TMP/console.sock' ]" 10
	mvr create --bundle "$B" --console-socket "$TEST_TMP/console.sock" t1
	mvr start t1
	wait $recv
	cat "$TEST_TMP/tty.out"
	grep -q is-a-tty "$TEST_TMP/tty.out"
	grep -q "30 100" "$TEST_TMP/tty.out"
	grep -q "40 120" "$TEST_TMP/tty.out"
	grep -q done "$TEST_TMP/tty.out"
}

@test "terminal: exec --tty --console-socket" {
	start_sleeper t2
	"$BUILD/tests/console-recv" "$TEST_TMP/console.sock" 24 77 </dev/null >"$TEST_TMP/tty.out" &
	recv=$!
	wait_for "[ -S '$TEST_TMP/console.sock' ]" 10
	run mvr exec --tty --console-socket "$TEST_TMP/console.sock" t2 sh -c '[ -t 1 ] && echo is-a-tty; stty size; exit 4'
	[ "$status" -eq 4 ]
	wait $recv
	grep -q is-a-tty "$TEST_TMP/tty.out"
	grep -q "24 77" "$TEST_TMP/tty.out"
}

@test "terminal: run on the caller's own terminal without a console socket" {
	command -v script >/dev/null || skip "script(1) not installed"
	make_bundle "$B" sh -c '[ -t 0 ] && echo is-a-tty; exit 6'
	edit_config "$B" '.process.terminal = true'
	run script -qec "'$MVRUN' --root '$STATE' run --bundle '$B' t3" /dev/null </dev/null
	echo "$output"
	[[ "$output" == *is-a-tty* ]]
	[ "$status" -eq 6 ]
}
