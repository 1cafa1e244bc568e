#!/usr/bin/env bats
# bats file_tags=kvm
# The OCI lifecycle as runc's callers use it: create, start, state, kill,
# delete, run; every container in its own microVM.

load helpers
bats_require_minimum_version 1.5.0

setup() {
	setup_containers
}

teardown() {
	teardown_containers
}

status_of() {
	mvr state "$1" | jq -r .status
}

@test "run: the process's output and exit status; the container is gone afterwards" {
	make_bundle "$B" sh -c 'echo out; echo err >&2; exit 3'
	run --separate-stderr mvr run --bundle "$B" c1
	[ "$status" -eq 3 ]
	[ "$output" = out ]
	[ "$stderr" = err ]
	run mvr list -q
	[ -z "$output" ]
}

@test "create, state, start, state, delete: the state transitions and the pid" {
	make_bundle "$B" sh -c 'read line; echo "got $line"'
	mkfifo "$TEST_TMP/in"
	# create's stdio is the container's: a fifo for stdin, a file for stdout
	mvr create --bundle "$B" --pid-file "$TEST_TMP/pid" c2 <"$TEST_TMP/in" >"$TEST_TMP/out" 2>&1 &
	exec 7>"$TEST_TMP/in"
	wait $!
	[ "$(status_of c2)" = created ]
	pid=$(cat "$TEST_TMP/pid")
	[[ "$pid" =~ ^[0-9]+$ ]]
	[ "$(mvr state c2 | jq -r .pid)" = "$pid" ]
	[ "$(mvr state c2 | jq -r .bundle)" = "$B" ]
	[ "$(mvr state c2 | jq -r .id)" = c2 ]
	kill -0 "$pid"
	mvr start c2
	[ "$(status_of c2)" = running ]
	run mvr start c2
	[ "$status" -ne 0 ]
	[[ "$output" == *"cannot start an already running container"* ]]
	echo hello >&7
	exec 7>&-
	wait_for "[ \"\$(status_of c2)\" = stopped ]" 60
	[ "$(mvr state c2 | jq -r .pid)" = 0 ]
	[ "$(cat "$TEST_TMP/out")" = "got hello" ]
	run mvr start c2
	[[ "$output" == *"cannot start a container that has stopped"* ]]
	mvr delete c2
	run mvr state c2
	[ "$status" -ne 0 ]
	[[ "$output" == *"container does not exist"* ]]
	[ ! -e "$STATE/c2" ]
}

@test "create: a missing executable fails create with runc's words and leaves nothing" {
	make_bundle "$B" nosuch-program
	run mvr create --bundle "$B" c3
	[ "$status" -ne 0 ]
	[[ "$output" == *"executable file not found in \$PATH"* ]]
	[ ! -e "$STATE/c3" ]
	run mvr list -q
	[ -z "$output" ]
}

@test "a duplicate id is refused; delete of a running container needs --force" {
	make_bundle "$B" sleep 1000
	mvr run -d --bundle "$B" c4 </dev/null >/dev/null 2>&1
	[ "$(status_of c4)" = running ]
	run mvr create --bundle "$B" c4
	[ "$status" -ne 0 ]
	[[ "$output" == *"container with given ID already exists"* ]]
	run mvr delete c4
	[ "$status" -ne 0 ]
	[[ "$output" == *"not stopped"* ]]
	# update: the VM's size is fixed at boot; the same size is fine
	run mvr update --memory 1073741824 c4
	[ "$status" -ne 0 ]
	[[ "$output" == *"cannot change linux.resources.memory.limit"* ]]
	mvr update --cpu-quota 100000 --cpu-period 100000 c4
	run mvr update --pids-limit 10 c4
	[ "$status" -ne 0 ]
	pid=$(mvr state c4 | jq -r .pid)
	mvr delete --force c4
	[ ! -e "$STATE/c4" ]
	! kill -0 "$pid" 2>/dev/null
	mvr delete --force c4
}

@test "kill: names and numbers reach the process; a stopped container is not running" {
	make_bundle "$B" sh -c 'trap "echo usr1; exit 7" USR1; echo ready; while :; do sleep 0.1; done'
	mvr run --bundle "$B" c5 </dev/null >"$TEST_TMP/out" 2>&1 &
	runpid=$!
	wait_for "grep -q ready '$TEST_TMP/out'" 300
	mvr kill c5 SIGUSR1
	st=0
	wait $runpid || st=$?
	[ "$st" -eq 7 ]
	grep -q usr1 "$TEST_TMP/out"

	make_bundle "$B.2" sleep 1000
	mvr run -d --bundle "$B.2" c6 </dev/null >/dev/null 2>&1
	mvr kill c6 9
	wait_for "[ \"\$(status_of c6)\" = stopped ]" 60
	run mvr kill c6 TERM
	[ "$status" -ne 0 ]
	[[ "$output" == *"container not running"* ]]
	run mvr kill c6 NOSUCH
	[ "$status" -ne 0 ]
	mvr delete c6
}

@test "exit codes: 128+N for a signal, stdin reaches the process" {
	# the container's pid 1 ignores signals it has no handler for, as under
	# runc: SIGKILL from outside is what kills it
	make_bundle "$B" sleep 1000
	mvr run --bundle "$B" c7 </dev/null &
	runpid=$!
	wait_for "[ \"\$(status_of c7 2>/dev/null)\" = running ]" 300
	mvr kill c7 KILL
	st=0
	wait $runpid || st=$?
	[ "$st" -eq 137 ]
	make_bundle "$B.2" sh -c 'tr a-z A-Z'
	run mvr run --bundle "$B.2" c8 <<<"shout"
	[ "$status" -eq 0 ]
	[ "$output" = SHOUT ]
}

@test "a monitor killed with SIGKILL: state says stopped and delete cleans up" {
	make_bundle "$B" sleep 1000
	mvr run -d --pid-file "$TEST_TMP/pid" --bundle "$B" c9 </dev/null >/dev/null 2>&1
	kill -9 "$(cat "$TEST_TMP/pid")"
	wait_for "[ \"\$(status_of c9)\" = stopped ]" 30
	mvr delete c9
	[ ! -e "$STATE/c9" ]
}

@test "the config applied in the guest: env, cwd, user, hostname, mounts, rlimits, readonly root, masked paths" {
	make_bundle "$B" sh -c 'echo "env=$FOO cwd=$(pwd) id=$(id -u):$(id -g) host=$(hostname)"
		echo "nofile=$(ulimit -n)"; cat /mnt/vol/data; touch /mnt/vol/x 2>/dev/null || echo vol-ro
		touch /newfile 2>/dev/null || echo root-ro; touch /tmp/ok && echo tmp-rw
		cat /proc/kcore 2>/dev/null | head -c1 | wc -c; echo pid1=$(cat /proc/1/comm)'
	mkdir -p "$TEST_TMP/vol" "$B/rootfs/work"
	echo volume-data >"$TEST_TMP/vol/data"
	edit_config "$B" '.process.env += ["FOO=bar"] | .process.cwd = "/work"
		| .process.user = {"uid": 1000, "gid": 1001} | .hostname = "box"
		| .process.rlimits = [{"type": "RLIMIT_NOFILE", "hard": 512, "soft": 256}]
		| .root.readonly = true
		| .mounts += [{"destination": "/mnt/vol", "type": "bind", "source": $vol, "options": ["rbind", "ro"]},
		              {"destination": "/tmp", "type": "tmpfs", "source": "tmpfs", "options": ["mode=1777"]}]' \
		--arg vol "$TEST_TMP/vol"
	run mvr run --bundle "$B" c10
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"env=bar cwd=/work id=1000:1001 host=box"* ]]
	[[ "$output" == *"nofile=256"* ]]
	[[ "$output" == *volume-data* ]]
	[[ "$output" == *vol-ro* ]]
	[[ "$output" == *root-ro* ]]
	[[ "$output" == *tmp-rw* ]]
	[[ "$output" == *$'\n0\n'* ]] # /proc/kcore is masked
	[[ "$output" == *"pid1=sh"* ]] # its own pid namespace
}

@test "hooks: createRuntime, prestart, poststart, poststop run on the host with the state on stdin" {
	make_bundle "$B" true
	for h in createRuntime prestart poststart poststop; do
		printf '#!/bin/sh\ncat >%s/%s.json\n' "$TEST_TMP" "$h" >"$TEST_TMP/$h.sh"
		chmod +x "$TEST_TMP/$h.sh"
		edit_config "$B" ".hooks.$h = [{\"path\": \"$TEST_TMP/$h.sh\"}]"
	done
	mvr run --bundle "$B" c11
	for h in createRuntime prestart poststart poststop; do
		[ "$(jq -r .id "$TEST_TMP/$h.json")" = c11 ]
		[ "$(jq -r .bundle "$TEST_TMP/$h.json")" = "$B" ]
	done
	[ "$(jq -r .status "$TEST_TMP/prestart.json")" = created ]
	[ "$(jq -r .status "$TEST_TMP/poststop.json")" = stopped ]
}

@test "hooks: startContainer runs in the guest's container with the id and bundle on stdin" {
	make_bundle "$B" cat /tmp/start.json
	edit_config "$B" '.hooks.startContainer = [{"path": "/bin/sh", "args": ["sh", "-c", "cat >/tmp/start.json"]}]'
	edit_config "$B" '.annotations = {"org.example.a": "b"} | .root.readonly = false'
	run mvr run --bundle "$B" c14h
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(jq -r .id <<<"$output")" = c14h ]
	[ "$(jq -r .bundle <<<"$output")" = "$B" ]
	[ "$(jq -r .status <<<"$output")" = created ]
	[ "$(jq -c .annotations <<<"$output")" = '{"org.example.a":"b"}' ]
}

@test "a failing prestart hook fails create and leaves nothing" {
	make_bundle "$B" true
	printf '#!/bin/sh\necho hook-failed >&2\nexit 4\n' >"$TEST_TMP/fail.sh"
	chmod +x "$TEST_TMP/fail.sh"
	edit_config "$B" ".hooks.prestart = [{\"path\": \"$TEST_TMP/fail.sh\"}]"
	run mvr create --bundle "$B" c12
	[ "$status" -ne 0 ]
	[[ "$output" == *hook-failed* ]]
	[ ! -e "$STATE/c12" ]
}

@test "pause and resume: the process stops and goes on; a paused container can be killed" {
	make_bundle "$B" sh -c 'i=0; while :; do i=$((i+1)); echo $i; sleep 0.2; done'
	mvr run -d --bundle "$B" p1 </dev/null >"$TEST_TMP/out" 2>&1
	wait_for "[ \$(wc -l <'$TEST_TMP/out') -ge 3 ]" 120
	mvr pause p1
	[ "$(status_of p1)" = paused ]
	run mvr pause p1
	[ "$status" -ne 0 ]
	before=$(wc -l <"$TEST_TMP/out")
	sleep 3
	[ "$(wc -l <"$TEST_TMP/out")" -eq "$before" ]
	mvr resume p1
	[ "$(status_of p1)" = running ]
	wait_for "[ \$(wc -l <'$TEST_TMP/out') -gt $before ]" 60
	mvr pause p1
	mvr kill p1 KILL
	wait_for "[ \"\$(status_of p1)\" = stopped ]" 30
	mvr delete p1
}

@test "the rest of the process and linux config in the guest: caps, nnp, oom, umask, groups, seccomp, sysctl, domainname, readonly paths, devices" {
	make_bundle "$B" sh -c 'grep -E "^(CapEff|NoNewPrivs)" /proc/self/status; echo "oom=$(cat /proc/self/oom_score_adj) umask=$(umask)"
		echo "groups=$(id -G)"; mkdir /tmp/blocked 2>&1 || true; echo "msgmax=$(cat /proc/sys/kernel/msgmax)"
		echo "domain=$(cat /proc/sys/kernel/domainname)"; grep " /proc/sys " /proc/mounts | grep -q "[ ,]ro[ ,]" && echo sys-ro
		[ -c /dev/fuse ] && echo has-fuse; echo end'
	edit_config "$B" '.process.capabilities = {"bounding": ["CAP_CHOWN"], "effective": ["CAP_CHOWN"], "permitted": ["CAP_CHOWN"]}
		| .process.noNewPrivileges = true | .process.oomScoreAdj = 500 | .process.user.umask = 23
		| .process.user.additionalGids = [1234] | .domainname = "example.org"
		| .linux.sysctl = {"kernel.msgmax": "12345"}
		| .linux.devices = [{"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 438}]
		| .linux.seccomp = {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 28}]}'
	run mvr run --bundle "$B" c13
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"CapEff:"*"0000000000000001"* ]]
	[[ "$output" == *"NoNewPrivs:"*"1"* ]]
	[[ "$output" == *"oom=500 umask=0027"* ]]
	[[ "$output" == *"groups=0 1234"* ]]
	[[ "$output" == *"No space left on device"* ]]
	[[ "$output" == *"msgmax=12345"* ]]
	[[ "$output" == *"domain=example.org"* ]]
	[[ "$output" == *sys-ro* ]]
	[[ "$output" == *has-fuse* ]]
	[[ "$output" == *end* ]]
}

@test "kill of a created container ends it, as containerd's abort does; delete then succeeds" {
	make_bundle "$B" sleep 1000
	mvr create --bundle "$B" --pid-file "$TEST_TMP/pid" c14 </dev/null >/dev/null 2>&1
	[ "$(status_of c14)" = created ]
	mvr kill c14 TERM
	wait_for "[ \"\$(status_of c14)\" = stopped ]" 30
	! kill -0 "$(cat "$TEST_TMP/pid")" 2>/dev/null
	mvr delete c14
}

@test "create killed while the VM boots: the monitor is in the state, delete --force ends it" {
	make_bundle "$B" true
	# SIGKILL after 1 s: the guest is still booting (seconds, even on real KVM it is close)
	timeout -s KILL 1 "$MVRUN" --root "$STATE" create --bundle "$B" c15 </dev/null >/dev/null 2>&1 || true
	local pid
	pid=$(jq -r .pid "$STATE/c15/state.json")
	[ "$pid" -gt 0 ]
	mvr delete --force c15
	[ ! -e "$STATE/c15" ]
	# gone, or a zombie its new parent has not reaped yet
	wait_for "[ ! -e /proc/$pid ] || [ \"\$(awk '{ print \$3 }' /proc/$pid/stat)\" = Z ]" 10
}
