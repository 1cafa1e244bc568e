#!/usr/bin/env bats
# mvrun-agent in its test mode (a Unix socket instead of vsock, no VM),
# driven through runtime/agent_client by tests/agent-client.  Each test
# starts its own agent and powers it off again.

load helpers
bats_require_minimum_version 1.5.0

AGENT=$BUILD/agent/mvrun-agent
CLIENT=$BUILD/tests/agent-client

# Retry a command for up to 5 s.
wait_for() {
	local i
	for i in $(seq 100); do
		"$@" && return 0
		sleep 0.05
	done
	return 1
}

# The client listens for READY first, so the agent's READY cannot miss it.
start_agent() {
	local waiter
	"$CLIENT" wait-ready "$TEST_TMP/ready.sock" >"$TEST_TMP/ready.out" 2>&1 3>&- &
	waiter=$!
	wait_for test -S "$TEST_TMP/ready.sock"
	"$AGENT" --listen-unix "$SOCK" --ready-unix "$TEST_TMP/ready.sock" \
		>"$TEST_TMP/agent.log" 2>&1 3>&- &
	AGENT_PID=$!
	wait "$waiter"
}

stop_agent() {
	[ -n "${AGENT_PID:-}" ] || return 0
	"$CLIENT" poweroff "$SOCK" 2>/dev/null || kill -9 "$AGENT_PID" 2>/dev/null
	wait "$AGENT_PID" 2>/dev/null || true
}

setup() {
	setup_tmp
	SOCK=$TEST_TMP/agent.sock
	start_agent
}

teardown() {
	stop_agent
	teardown_tmp
}

agent_run() {
	run "$CLIENT" run "$@"
	echo "$output"
}

# The agent still serves after whatever a test threw at it.
agent_alive() {
	kill -0 "$AGENT_PID"
	agent_run "$SOCK" -- echo alive
	[ "$status" -eq 0 ]
	[ "$output" = alive ]
}

probe() {
	run "$CLIENT" probe "$SOCK" "$1"
	echo "$output"
	[ "$status" -eq 0 ]
}

now_ms() {
	echo $(($(date +%s%N) / 1000000))
}

@test "the agent sends READY, then runs echo: stdout and exit status 0" {
	[ "$(cat "$TEST_TMP/ready.out")" = ready ]
	agent_run "$SOCK" -- echo hello
	[ "$status" -eq 0 ]
	[ "$output" = hello ]
}

@test "stdin reaches the process through end of file" {
	run bash -c "printf 'a\nb\n' | '$CLIENT' run -i '$SOCK' -- cat"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'a\nb')" ]
}

@test "1 MiB through cat comes back intact" {
	head -c 1048576 /dev/urandom >"$TEST_TMP/in"
	"$CLIENT" run -i "$SOCK" -- cat <"$TEST_TMP/in" >"$TEST_TMP/out"
	cmp "$TEST_TMP/in" "$TEST_TMP/out"
}

@test "without -i the process reads /dev/null" {
	agent_run "$SOCK" -- sh -c 'cat; echo done'
	[ "$status" -eq 0 ]
	[ "$output" = done ]
}

@test "stdout and stderr are kept apart" {
	"$CLIENT" run "$SOCK" -- sh -c 'echo out; echo err >&2' >"$TEST_TMP/o" 2>"$TEST_TMP/e"
	[ "$(cat "$TEST_TMP/o")" = out ]
	[ "$(cat "$TEST_TMP/e")" = err ]
}

@test "the process gets fds 0, 1 and 2 only" {
	agent_run "$SOCK" -- sh -c 'ls /proc/$$/fd'
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '0\n1\n2')" ]
}

@test "the exit code comes back" {
	agent_run "$SOCK" -- sh -c 'exit 42'
	[ "$status" -eq 42 ]
}

@test "a process killed by SIGKILL ends the client with 128+9" {
	agent_run "$SOCK" -- sh -c 'kill -9 $$'
	[ "$status" -eq 137 ]
}

@test "SIGTERM to the client is forwarded to the process" {
	"$CLIENT" run "$SOCK" -- sh -c \
		'trap "echo got TERM; exit 3" TERM; echo ready; while :; do sleep 0.05; done' \
		>"$TEST_TMP/out" 2>&1 3>&- &
	local client=$!
	wait_for grep -q ready "$TEST_TMP/out"
	kill -TERM "$client"
	local status=0
	wait "$client" || status=$?
	cat "$TEST_TMP/out"
	[ "$status" -eq 3 ]
	grep -q "got TERM" "$TEST_TMP/out"
}

@test "a missing program: the exec error and 127" {
	run -127 "$CLIENT" run "$SOCK" -- nosuch
	echo "$output"
	[ "$output" = "agent-client: exec \`nosuch\`: No such file or directory" ]
	agent_alive
}

@test "a program that cannot be run, or a missing cwd: the error and 126" {
	agent_run "$SOCK" -- /
	[ "$status" -eq 126 ]
	[ "$output" = "agent-client: exec \`/\`: Permission denied" ]
	agent_run --cwd /nonexistent "$SOCK" -- true
	[ "$status" -eq 126 ]
	[ "$output" = "agent-client: chdir \`/nonexistent\`: No such file or directory" ]
}

@test "the environment and the PATH used to find the program come from RUN" {
	agent_run --env FOO=bar "$SOCK" -- sh -c 'echo "$FOO"'
	[ "$status" -eq 0 ]
	[ "$output" = bar ]
	run -127 "$CLIENT" run --env PATH=/nonexistent "$SOCK" -- sh -c true
}

@test "the process runs with the uid and gid asked for" {
	require_root
	agent_run --user 65534:65533 "$SOCK" -- sh -c 'echo $(id -u):$(id -g):$(id -G)'
	[ "$status" -eq 0 ]
	[ "$output" = 65534:65533:65533 ]
}

@test "two processes at once, on two control connections" {
	mkfifo "$TEST_TMP/fifo"
	# the first can only finish once the second has run
	"$CLIENT" run "$SOCK" -- sh -c "read x <'$TEST_TMP/fifo'; echo first got \$x" \
		>"$TEST_TMP/first" 2>&1 3>&- &
	local first=$!
	agent_run "$SOCK" -- sh -c "echo hi >'$TEST_TMP/fifo'; echo second"
	[ "$status" -eq 0 ]
	[ "$output" = second ]
	wait "$first"
	[ "$(cat "$TEST_TMP/first")" = "first got hi" ]
}

@test "two processes on one control connection" {
	probe two-on-one
	[ "$output" = "$(printf 'a 3\nb 4')" ]
}

@test "a background grandchild holding stdout does not delay EXITED" {
	local start end
	start=$(now_ms)
	agent_run "$SOCK" -- sh -c 'sleep 30 & echo $!; exit 7'
	end=$(now_ms)
	kill "${lines[0]}" 2>/dev/null || true
	[ "$status" -eq 7 ]
	[ $((end - start)) -lt 5000 ]
}

@test "an orphan reaped by the agent does not take the process's exit status" {
	agent_run "$SOCK" -- sh -c 'sh -c "sleep 0.1 &"; sleep 0.5; exit 5'
	[ "$status" -eq 5 ]
}

@test "a process that stops reading stdin does not stop the client" {
	run bash -c "yes | '$CLIENT' run -i '$SOCK' -- head -c 2"
	[ "$status" -eq 0 ]
	[ "$output" = y ]
	agent_alive
}

@test "killing the client (its control connection closes) kills the process" {
	"$CLIENT" run --pid-file "$TEST_TMP/pid" "$SOCK" -- sleep 1000 3>&- &
	local client=$!
	wait_for test -s "$TEST_TMP/pid"
	local pid
	pid=$(cat "$TEST_TMP/pid")
	kill -0 "$pid"
	kill -9 "$client"
	wait "$client" || true
	wait_for eval "! kill -0 $pid 2>/dev/null"
	agent_alive
}

@test "POWEROFF kills the processes and ends the agent with status 0" {
	"$CLIENT" run --pid-file "$TEST_TMP/pid" "$SOCK" -- sleep 1000 >/dev/null 2>&1 3>&- &
	local client=$!
	wait_for test -s "$TEST_TMP/pid"
	local pid
	pid=$(cat "$TEST_TMP/pid")
	"$CLIENT" poweroff "$SOCK"
	local status=0
	wait "$AGENT_PID" || status=$?
	AGENT_PID=
	[ "$status" -eq 0 ]
	wait_for eval "! kill -0 $pid 2>/dev/null"
	wait "$client" || true
	[ ! -e "$SOCK" ]
}

@test "messages over MV_MSG_MAX and garbage: ERROR, then the connection closes" {
	probe oversize
	[ "${lines[0]}" = "ERROR message of 1048577 bytes: the limit is 1048576: Message too long" ]
	[ "${lines[1]}" = EOF ]
	probe garbage
	[[ "${lines[0]}" == "ERROR message of 4294967295 bytes"*"Message too long" ]]
	[ "${lines[1]}" = EOF ]
	probe half-header
	agent_alive
}

@test "a bad HELLO: ERROR, then the connection closes" {
	probe no-hello
	[ "$output" = "$(printf 'ERROR expected HELLO first, got message type 5: Protocol error\nEOF')" ]
	probe bad-version
	[ "${lines[0]}" = "ERROR protocol version 99 not supported: the agent speaks 2: Protocol not supported" ]
	[ "${lines[1]}" = EOF ]
	probe bad-kind
	[ "${lines[0]}" = "ERROR unknown connection kind 42: Invalid argument" ]
	probe short-hello
	[ "${lines[0]}" = "ERROR HELLO: short payload (4 bytes): Protocol error" ]
	[ "${lines[1]}" = EOF ]
	agent_alive
}

@test "bad requests on a control connection: ERROR, and the connection goes on" {
	local want
	while IFS='|' read -r case want; do
		probe "$case"
		[ "${lines[0]}" = "ERROR $want" ]
		[ "${lines[-1]}" = OPEN ]
	done <<'EOF'
unknown-type|unexpected message type 77 on a control connection: Protocol error
hello-twice|HELLO again on a control connection: Protocol error
agent-message|unexpected message type 9 on a control connection: Protocol error
short-run|RUN: short payload (4 bytes): Invalid argument
run-argc0|RUN: argc is 0: Invalid argument
run-unterminated|RUN: argv[0] missing or not NUL-terminated: Invalid argument
run-missing-arg|RUN: argv[1] missing or not NUL-terminated: Invalid argument
run-trailing|RUN: 4 bytes after the last string: Invalid argument
run-huge-counts|RUN: argc 4294967295 and envc 4294967295 do not fit in 27 bytes: Invalid argument
run-flags|RUN: unknown flags 0x80: Invalid argument
run-empty-argv0|RUN: argv[0] is empty: Invalid argument
run-root-relative|RUN: root `root` is not an absolute path: Invalid argument
short-mount|MOUNT: short payload (15 bytes): Invalid argument
mount-unterminated|MOUNT: data missing or not NUL-terminated: Invalid argument
mount-missing-string|MOUNT: fstype missing or not NUL-terminated: Invalid argument
mount-trailing|MOUNT: 4 bytes after the last string: Invalid argument
mount-relative|MOUNT: target `mvrun-probe` is not an absolute path: Invalid argument
mount-dotdot|MOUNT: target `/tmp/../mvrun-probe` has a `..` component: Invalid argument
mount-options|MOUNT: unknown options 0x80: Invalid argument
mount-reserved|MOUNT: reserved field is 0x7: Invalid argument
short-signal|SIGNAL: short payload (3 bytes): Invalid argument
bad-signo|SIGNAL: no signal 1000: Invalid argument
signal-nosuch|process 999999 does not run: No such process
EOF
	# the unknown type's connection answered the SIGNAL after it too
	probe unknown-type
	[ "${lines[1]}" = "ERROR process 999999 does not run: No such process" ]
	# the refused MOUNTs created nothing
	[ ! -e /mvrun-probe ]
	agent_alive
}

# ---- MOUNT ----
# In the test mode the agent runs in a private mount namespace: the host
# sees the targets it creates, never its mounts, and they end with it.

# agent-client mount SOCK ARGS...: its output in $output.
agent_mount() {
	run "$CLIENT" mount "$SOCK" "$@"
	echo "$output"
}

# Not a mount point on the host.
not_mounted_here() {
	run grep -q " $1 " /proc/self/mountinfo
	[ "$status" -eq 1 ]
}

@test "MOUNT tmpfs on a new directory: processes see it, the host does not" {
	require_root
	local dir=$TEST_TMP/new/dir
	agent_mount none "$dir" tmpfs size=1m
	[ "$status" -eq 0 ]
	[ "$output" = OK ]
	agent_run "$SOCK" -- sh -c "echo x >'$dir/f'; cat '$dir/f'; stat -f -c %T '$dir'"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'x\ntmpfs')" ]
	[ -d "$dir" ]
	[ ! -e "$dir/f" ]
	not_mounted_here "$dir"
}

@test "MOUNT with MS_BIND|MS_RDONLY: the bind is read-only, its source is not" {
	require_root
	mkdir "$TEST_TMP/src"
	echo hello >"$TEST_TMP/src/file"
	agent_mount -o bind,rdonly "$TEST_TMP/src" "$TEST_TMP/ro" "" ""
	[ "$status" -eq 0 ]
	agent_run "$SOCK" -- sh -c "cat '$TEST_TMP/ro/file'; echo no >'$TEST_TMP/ro/new'"
	[ "$status" -ne 0 ]
	[ "${lines[0]}" = hello ]
	[[ "$output" == *"Read-only file system"* ]]
	agent_run "$SOCK" -- sh -c "echo yes >'$TEST_TMP/src/new'; cat '$TEST_TMP/ro/new'"
	[ "$status" -eq 0 ]
	[ "$output" = yes ]
	not_mounted_here "$TEST_TMP/ro"
}

@test "MOUNT with MV_MOUNT_FILE: one file bound on a new file, its directories created" {
	require_root
	echo "10.0.0.1 db" >"$TEST_TMP/hosts"
	local target=$TEST_TMP/root/etc/hosts
	agent_mount --file -o bind,rdonly "$TEST_TMP/hosts" "$target" "" ""
	[ "$status" -eq 0 ]
	agent_run "$SOCK" -- sh -c "test -f '$target' && cat '$target'"
	[ "$status" -eq 0 ]
	[ "$output" = "10.0.0.1 db" ]
	# on the host: the empty file the agent created to mount on
	[ -f "$target" ]
	[ ! -s "$target" ]
	# without MV_MOUNT_FILE the target is a directory: a file cannot go there
	agent_mount -o bind "$TEST_TMP/hosts" "$TEST_TMP/dir" "" ""
	[ "$status" -eq 1 ]
	[ "$output" = "ERROR bind \`$TEST_TMP/hosts\` on \`$TEST_TMP/dir\`: Not a directory" ]
}

@test "a MOUNT that fails: ERROR with its errno and text, and the agent goes on" {
	require_root
	# two MOUNTs on one control connection: the second one still works
	agent_mount none "$TEST_TMP/m" nosuchfs "" none "$TEST_TMP/m" tmpfs ""
	[ "$status" -eq 1 ]
	[ "${lines[0]}" = "ERROR mount \`nosuchfs\` on \`$TEST_TMP/m\`: No such device" ]
	[ "${lines[1]}" = OK ]
	agent_mount -o bind,rdonly /nonexistent "$TEST_TMP/b" "" ""
	[ "${lines[0]}" = "ERROR bind \`/nonexistent\` on \`$TEST_TMP/b\`: No such file or directory" ]
	agent_mount -o move none "$TEST_TMP/m" "" ""
	[ "$output" = "ERROR MOUNT: unknown flags 0x2000: Invalid argument" ]
	agent_alive
}

# ---- RUN with a root ----

# DIR/bin/busybox (static) and DIR/bin/sh, nothing else.
make_root() {
	[ -x /bin/busybox ] || skip "needs /bin/busybox"
	mkdir -p "$1/bin"
	cp /bin/busybox "$1/bin/busybox"
	ln -s busybox "$1/bin/sh"
	chroot "$1" /bin/sh -c true || skip "/bin/busybox is not static"
}

@test "RUN with a root: chrooted there, cwd and the PATH search inside it" {
	require_root
	make_root "$TEST_TMP/root"
	agent_run --root "$TEST_TMP/root" "$SOCK" -- /bin/sh -c 'ls /'
	[ "$status" -eq 0 ]
	[ "$output" = bin ]
	agent_run --root "$TEST_TMP/root" --cwd /bin "$SOCK" -- sh -c 'pwd; ls'
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '/bin\nbusybox\nsh')" ]
	# no /bin/echo in there
	run -127 "$CLIENT" run --root "$TEST_TMP/root" "$SOCK" -- echo hi
	[ "$output" = "agent-client: exec \`echo\`: No such file or directory" ]
	# a MOUNT into the root shows up there
	agent_mount none "$TEST_TMP/root/data" tmpfs ""
	agent_run --root "$TEST_TMP/root" "$SOCK" -- /bin/sh -c 'ls /; stat -f -c %T /data'
	[ "$output" = "$(printf 'bin\ndata\ntmpfs')" ]
}

@test "RUN with a missing root or cwd in it: the error and 126" {
	agent_run --root "$TEST_TMP/nonexistent" "$SOCK" -- /bin/sh -c true
	[ "$status" -eq 126 ]
	[ "$output" = "agent-client: chroot \`$TEST_TMP/nonexistent\`: No such file or directory" ]
	if [ "$(id -u)" -eq 0 ]; then
		make_root "$TEST_TMP/root"
		agent_run --root "$TEST_TMP/root" --cwd /nosuch "$SOCK" -- /bin/sh -c true
		[ "$status" -eq 126 ]
		[ "$output" = "agent-client: chdir \`/nosuch\`: No such file or directory" ]
	fi
	agent_alive
}

@test "stream connections for the wrong process or stream are refused" {
	probe stream-nosuch
	[ "$output" = "ERROR no process 999999: No such process" ]
	probe stream-not-asked
	[[ "$output" == "ERROR process "*" was run without stdin: Invalid argument" ]]
	probe stream-twice
	[ "${lines[0]}" = OK ]
	[[ "${lines[1]}" == "ERROR stdout of process "*" is connected already: Device or resource busy" ]]
	probe stream-after-start
	[[ "$output" == "ERROR process "*" has started already: Operation already in progress" ]]
	agent_alive
}

@test "without --listen-unix and not PID 1 the agent refuses to run" {
	run "$AGENT"
	[ "$status" -eq 2 ]
	[[ "$output" == "usage: mvrun-agent --listen-unix PATH"* ]]
}

@test "a --listen-unix path that exists is refused with one clear line" {
	run "$AGENT" --listen-unix "$SOCK"
	[ "$status" -eq 1 ]
	[ "$output" = "mvrun-agent: listen on \`$SOCK\`: Address already in use" ]
}

# ---- v2: the OCI container ----
# The test mode runs as root in a private mount namespace: the init's new
# namespaces, mounts and pivot_root change nothing on the host.

# $TEST_TMP/root: busybox; $TEST_TMP/config.json: a container in it with
# its own pid, mount, uts and ipc namespaces.  Extra JSON members for the
# top level go in $1, for "linux" in $2; ROOT_RO=true: a read-only root.
make_container() {
	require_root
	[ -x /bin/busybox ] || skip "needs /bin/busybox"
	make_rootfs "$TEST_TMP/root"
	chroot "$TEST_TMP/root" /bin/sh -c true || skip "/bin/busybox is not static"
	cat >"$TEST_TMP/config.json" <<-EOF
	{"ociVersion": "1.0.2", "root": {"path": "$TEST_TMP/root", "readonly": ${ROOT_RO:-false}},
	 "hostname": "box",
	 "mounts": [
	  {"destination": "/proc", "type": "proc", "source": "proc"},
	  {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
	   "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
	  {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
	   "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"]},
	  {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"]}
	 ]${1:+, $1},
	 "linux": {"namespaces": [{"type": "pid"}, {"type": "mount"}, {"type": "uts"},
	                          {"type": "ipc"}]${2:+, $2}}}
	EOF
	run "$CLIENT" container "$SOCK" "$TEST_TMP/config.json"
	echo "$output"
	[ "$output" = OK ]
}

# process JSON in $TEST_TMP/$1.json running `sh -c "$2"`; $3: extra members.
make_process() {
	local script
	script=$(printf '%s' "$2" | sed 's/\\/\\\\/g; s/"/\\"/g; s/\t/ /g' | sed ':a;N;$!ba;s/\n/\\n/g')
	cat >"$TEST_TMP/$1.json" <<-EOF
	{"args": ["sh", "-c", "$script"], "cwd": "/", "env": ["PATH=/bin:/usr/bin"],
	 "user": {"uid": 0, "gid": 0},
	 "capabilities": {"bounding": ["CAP_SYS_ADMIN", "CAP_KILL"],
	                  "effective": ["CAP_SYS_ADMIN", "CAP_KILL"],
	                  "permitted": ["CAP_SYS_ADMIN", "CAP_KILL"]}${3:+, $3}}
	EOF
}

agent_exec() {
	run "$CLIENT" exec "$@"
	echo "$output"
}

@test "CONTAINER and an INIT exec: pid 1, the hostname, /proc, /dev, a read-only root" {
	ROOT_RO=true make_container "" \
		'"maskedPaths": ["/proc/cpuinfo", "/proc/tty"], "readonlyPaths": ["/proc/sys"],
		 "sysctl": {"kernel.shmmax": "1234567"}'
	make_process p 'echo $$; hostname; cat /proc/sys/kernel/shmmax
		test -e /proc/self/status && echo proc
		wc -c </proc/cpuinfo; ls /proc/tty | wc -l
		touch /x 2>/dev/null || echo root-ro
		echo 1 2>/dev/null >/proc/sys/kernel/shmmax || echo sys-ro
		echo w >/tmp/w && cat /tmp/w
		ls /dev; readlink /dev/ptmx
		test -c /dev/null && echo hi >/dev/null && echo null-ok'
	agent_exec --init "$SOCK" "$TEST_TMP/p.json"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 1 ]
	[ "${lines[1]}" = box ]
	[ "${lines[2]}" = 1234567 ]
	[ "${lines[3]}" = proc ]
	[ "${lines[4]}" = 0 ]
	[ "${lines[5]}" = 0 ]
	[ "${lines[6]}" = root-ro ]
	[ "${lines[7]}" = sys-ro ]
	[ "${lines[8]}" = w ]
	[[ "$output" == *$'\nfd\nfull\nnull\nptmx\npts\nrandom\nstderr\nstdin\nstdout\ntty\nurandom\nzero\npts/ptmx\nnull-ok' ]]
	# the host's hostname and root are untouched
	[ "$(hostname)" != box ]
	[ ! -e /x ]
}

@test "the container's root is the new one: pivot_root, the old root is gone" {
	make_container
	make_process p 'ls / | head -1; cut -d" " -f5 /proc/self/mountinfo'
	agent_exec --init "$SOCK" "$TEST_TMP/p.json"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'bin\n/\n/proc\n/dev\n/dev/pts\n/tmp')" ]
	agent_alive
}

@test "EXEC before CONTAINER, a second CONTAINER, a second INIT: ENOENT, EEXIST, EBUSY" {
	require_root
	make_process p 'true'
	agent_exec --init "$SOCK" "$TEST_TMP/p.json"
	[ "$status" -eq 255 ]
	[ "$output" = "agent-client: EXEC: no container: CONTAINER comes first: No such file or directory" ]
	make_container
	run "$CLIENT" container "$SOCK" "$TEST_TMP/config.json"
	[ "$output" = "ERROR CONTAINER: the VM has a container already: File exists" ]
	agent_exec "$SOCK" "$TEST_TMP/p.json"
	[ "$output" = "agent-client: EXEC: the container's init has not started: No such process" ]
	make_process init 'sleep 30'
	"$CLIENT" exec --init --pid-file "$TEST_TMP/pid" "$SOCK" "$TEST_TMP/init.json" \
		>/dev/null 2>&1 3>&- &
	wait_for test -s "$TEST_TMP/pid"
	agent_exec --init "$SOCK" "$TEST_TMP/p.json"
	[ "$output" = "agent-client: EXEC: the container has its init already: Device or resource busy" ]
}

@test "a bad config: ERROR EINVAL with the parser's text" {
	require_root
	echo '{"ociVersion": "1.0.2", "root": {"path": "relative"},' >"$TEST_TMP/bad.json"
	run "$CLIENT" container "$SOCK" "$TEST_TMP/bad.json"
	[ "$status" -eq 1 ]
	[[ "$output" == "ERROR "*"Invalid argument" ]]
	echo '{"ociVersion": "1.0.2", "root": {"path": "relative"}}' >"$TEST_TMP/bad.json"
	run "$CLIENT" container "$SOCK" "$TEST_TMP/bad.json"
	[ "$output" = "ERROR CONTAINER: root.path must be an absolute guest path: Invalid argument" ]
	echo '{"ociVersion": "1.0.2", "root": {"path": "/"}, "linux": {"namespaces": [{"type": "pid"}]}}' \
		>"$TEST_TMP/bad.json"
	run "$CLIENT" container "$SOCK" "$TEST_TMP/bad.json"
	[ "$output" = "ERROR CONTAINER: the container needs a mount namespace: Invalid argument" ]
	agent_alive
}

@test "DEFER: PREPARED, then nothing runs until START, then the output" {
	make_container
	make_process p 'echo started'
	"$CLIENT" exec --init --defer --pid-file "$TEST_TMP/pid" --id-file "$TEST_TMP/id" \
		"$SOCK" "$TEST_TMP/p.json" >"$TEST_TMP/out" 2>&1 3>&- &
	local client=$!
	wait_for test -s "$TEST_TMP/pid"
	sleep 0.3
	[ ! -s "$TEST_TMP/out" ]
	kill -0 "$(cat "$TEST_TMP/pid")"
	run "$CLIENT" start "$SOCK" "$(cat "$TEST_TMP/id")"
	[ "$output" = OK ]
	wait "$client"
	[ "$(cat "$TEST_TMP/out")" = started ]
	# once only
	run "$CLIENT" start "$SOCK" "$(cat "$TEST_TMP/id")"
	[[ "$output" == "ERROR START: no deferred process "*": No such process" ]]
}

@test "DEFER with START on the same connection" {
	make_container
	make_process p 'echo $$ started'
	agent_exec --init --defer --start "$SOCK" "$TEST_TMP/p.json"
	[ "$status" -eq 0 ]
	[ "$output" = "1 started" ]
}

@test "a missing executable fails at PREPARED with runc's text and 127" {
	make_container
	cat >"$TEST_TMP/p.json" <<-EOF
	{"args": ["nosuch"], "cwd": "/", "env": ["PATH=/bin"]}
	EOF
	run -127 "$CLIENT" exec --init --defer --pid-file "$TEST_TMP/pid" "$SOCK" "$TEST_TMP/p.json"
	echo "$output"
	[ "$output" = "agent-client: exec: \"nosuch\": executable file not found in \$PATH: No such file or directory" ]
	[ ! -e "$TEST_TMP/pid" ]
	agent_alive
}

@test "a second exec joins the init's namespaces: its hostname, its pid 1, its root" {
	make_container
	make_process init 'echo ready; exec sleep 30'
	"$CLIENT" exec --init --pid-file "$TEST_TMP/pid" "$SOCK" "$TEST_TMP/init.json" \
		>"$TEST_TMP/init.out" 2>&1 3>&- &
	wait_for grep -q ready "$TEST_TMP/init.out"
	make_process p 'hostname; cat /proc/1/cmdline | tr "\0" " "; echo; ls /; pwd' '"cwd": "/tmp"'
	sed -i 's|"cwd": "/",||' "$TEST_TMP/p.json"
	agent_exec "$SOCK" "$TEST_TMP/p.json"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = box ]
	[ "${lines[1]}" = "sleep 30 " ]
	[ "${lines[2]}" = bin ]
	[ "${lines[-1]}" = /tmp ]
}

@test "the init exiting kills the other processes of the container" {
	make_container
	make_process init 'echo ready; read x </dev/tty 2>/dev/null; sleep 1; exit 3'
	make_process init 'echo ready; sleep 1; exit 3'
	"$CLIENT" exec --init "$SOCK" "$TEST_TMP/init.json" >"$TEST_TMP/init.out" 2>&1 3>&- &
	local init=$!
	wait_for grep -q ready "$TEST_TMP/init.out"
	make_process p 'echo joined; sleep 30; echo never'
	local start end
	start=$(now_ms)
	agent_exec "$SOCK" "$TEST_TMP/p.json"
	end=$(now_ms)
	[ "$status" -eq 137 ]
	[ "$output" = joined ]
	[ $((end - start)) -lt 10000 ]
	local status=0
	wait "$init" || status=$?
	[ "$status" -eq 3 ]
	agent_exec "$SOCK" "$TEST_TMP/p.json"
	[ "$output" = "agent-client: EXEC: the container's init has exited: No such process" ]
}

@test "SIGNAL ALL reaches every process of the container" {
	make_container
	make_process init 'trap "echo init got TERM" TERM; echo ready; while :; do sleep 0.05; done'
	"$CLIENT" exec --init "$SOCK" "$TEST_TMP/init.json" >"$TEST_TMP/init.out" 2>&1 3>&- &
	local init=$!
	wait_for grep -q ready "$TEST_TMP/init.out"
	make_process p 'trap "echo exec got TERM; exit 5" TERM; echo ready; while :; do sleep 0.05; done'
	"$CLIENT" exec "$SOCK" "$TEST_TMP/p.json" >"$TEST_TMP/p.out" 2>&1 3>&- &
	local other=$!
	wait_for grep -q ready "$TEST_TMP/p.out"
	run "$CLIENT" kill --all "$SOCK" 0 15
	[ "$output" = OK ]
	local s1=0 s2=0
	wait "$other" || s2=$?
	wait_for grep -q "init got TERM" "$TEST_TMP/init.out"
	run "$CLIENT" kill --all "$SOCK" 0 9
	[ "$output" = OK ]
	wait "$init" || s1=$?
	cat "$TEST_TMP/init.out" "$TEST_TMP/p.out"
	[ "$s2" -eq 5 ]
	[ "$s1" -eq 137 ]
	grep -q "exec got TERM" "$TEST_TMP/p.out"
	run "$CLIENT" kill --all "$SOCK" 0 15
	[ "$output" = "ERROR SIGNAL: the container does not run: No such process" ]
}

@test "a terminal: the output comes through the pty, RESIZE changes its size" {
	make_container
	make_process p 'test -t 0 && test -t 1 && test -t 2 && echo tty; stty size
		trap "stty size; exit 6" WINCH; echo ready; while :; do sleep 0.05; done' \
		'"terminal": true, "consoleSize": {"height": 25, "width": 90}'
	"$CLIENT" exec --init --tty --id-file "$TEST_TMP/id" "$SOCK" "$TEST_TMP/p.json" \
		>"$TEST_TMP/out" 2>&1 3>&- &
	local client=$!
	wait_for grep -q ready "$TEST_TMP/out"
	run "$CLIENT" resize "$SOCK" "$(cat "$TEST_TMP/id")" 30 100
	[ "$output" = OK ]
	local status=0
	wait "$client" || status=$?
	cat -A "$TEST_TMP/out"
	[ "$status" -eq 6 ]
	[ "$(tr -d '\r' <"$TEST_TMP/out")" = "$(printf 'tty\n25 90\nready\n30 100')" ]
}

@test "a terminal: stdin goes through it, a background child holding it does not delay EXITED" {
	make_container
	make_process p 'read x; echo "got $x"; sleep 30 & exit 2' '"terminal": true'
	local start end
	start=$(now_ms)
	run bash -c "echo hello | '$CLIENT' exec --init --tty -i '$SOCK' '$TEST_TMP/p.json'"
	end=$(now_ms)
	echo "$output" | cat -A
	[ "$status" -eq 2 ]
	[[ "$(echo "$output" | tr -d '\r')" == *"got hello"* ]]
	[ $((end - start)) -lt 10000 ]
}

@test "a terminal with a stderr stream, RESIZE without a terminal: EINVAL, ENOTTY" {
	make_container
	make_process p 'true' '"terminal": true'
	agent_exec --init "$SOCK" "$TEST_TMP/p.json"
	[ "$output" = "agent-client: EXEC: a process with a terminal has no stderr stream: Invalid argument" ]
	make_process init 'echo ready; sleep 30'
	"$CLIENT" exec --init --id-file "$TEST_TMP/id" "$SOCK" "$TEST_TMP/init.json" \
		>"$TEST_TMP/out" 2>&1 3>&- &
	wait_for grep -q ready "$TEST_TMP/out"
	run "$CLIENT" resize "$SOCK" "$(cat "$TEST_TMP/id")" 30 100
	[[ "$output" == "ERROR RESIZE: process "*" has no terminal: Inappropriate ioctl for device" ]]
}

@test "hooks: createContainer before pivot_root, startContainer in the container after START" {
	make_container '"hooks": {
		"createContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "{ cat; echo; ls '"$TEST_TMP"'/root >/dev/null && echo created; } >'"$TEST_TMP"'/root/tmp/state"]}],
		"startContainer": [{"path": "/bin/sh", "args": ["sh", "-c", "echo hook-in-container $(hostname) >/tmp/start"]}]}'
	make_process p 'cat /tmp/start; cat /tmp/state'
	agent_exec --init --defer --start "$SOCK" "$TEST_TMP/p.json"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "hook-in-container box" ]
	[[ "${lines[1]}" == '{"ociVersion":"1.0.2","id":"","status":"creating","pid":1,"bundle":""}' ]]
	[ "${lines[2]}" = created ]
}

@test "a failing hook fails the start with 126 and its path" {
	make_container '"hooks": {"startContainer": [{"path": "/bin/false"}]}'
	make_process p 'echo never'
	run -126 "$CLIENT" exec --init --defer --start "$SOCK" "$TEST_TMP/p.json"
	echo "$output"
	[ "$output" = "agent-client: hook \`/bin/false\` exited with status 1" ]
}

@test "START, RESIZE, SIGNAL ALL for nothing: ESRCH, and the agent goes on" {
	run "$CLIENT" start "$SOCK" 999999
	[ "$output" = "ERROR START: no deferred process 999999: No such process" ]
	run "$CLIENT" resize "$SOCK" 999999 10 10
	[ "$output" = "ERROR RESIZE: process 999999 does not run: No such process" ]
	run "$CLIENT" kill --all "$SOCK" 0 15
	[ "$output" = "ERROR SIGNAL: no container: No such process" ]
	agent_alive
}
