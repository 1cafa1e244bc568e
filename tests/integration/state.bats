#!/usr/bin/env bats
# The commands that only read or write the state directory, and spec,
# features, checkpoint and restore: no VM, no KVM.  Containers here are
# fabricated state directories.

load helpers

setup() {
	setup_tmp
	ROOT=$TEST_TMP/root
}
teardown() { teardown_tmp; }

# Field 22 of /proc/PID/stat: the start time mvrun compares against pid reuse.
start_time() {
	sed 's/.*) //' "/proc/$1/stat" | cut -d' ' -f20
}

# fake_container ID PID PID_START [STATUS]: ROOT/ID/state.json as mvrun writes it.
fake_container() {
	mkdir -p "$ROOT/$1"
	cat >"$ROOT/$1/state.json" <<-EOF
		{"runtime":"mvrun","format":1,"id":"$1","bundle":"/bundles/$1","rootfs":"/bundles/$1/rootfs",
		 "status":"${4:-running}","pid":$2,"pid_start":$3,"created":"2024-05-01T10:00:00.5Z",
		 "owner":"root","annotations":{"org.example":"yes"}}
	EOF
}

# A pid that is certainly gone: a process that already exited.
dead_pid() {
	sh -c 'echo $$'
}

json() {
	python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"
}

@test "spec writes a config.json with runc's defaults" {
	run "$MVRUN" spec --bundle "$TEST_TMP"
	[ "$status" -eq 0 ]
	cfg=$TEST_TMP/config.json
	[ "$(json 'd["ociVersion"]' <"$cfg")" = 1.1.0 ]
	[ "$(json 'd["process"]["args"]' <"$cfg")" = "['sh']" ]
	[ "$(json 'd["process"]["terminal"]' <"$cfg")" = True ]
	[ "$(json 'd["process"]["cwd"]' <"$cfg")" = / ]
	[ "$(json 'd["process"]["env"][1]' <"$cfg")" = TERM=xterm ]
	[ "$(json 'd["process"]["noNewPrivileges"]' <"$cfg")" = True ]
	[ "$(json '[(r["type"], r["hard"], r["soft"]) for r in d["process"]["rlimits"]]' <"$cfg")" = "[('RLIMIT_NOFILE', 1024, 1024)]" ]
	[ "$(json 'd["process"]["capabilities"]["bounding"]' <"$cfg")" = "['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE']" ]
	[ "$(json 'd["root"]' <"$cfg")" = "{'path': 'rootfs', 'readonly': True}" ]
	[ "$(json 'd["hostname"]' <"$cfg")" = mvrun ]
	[ "$(json '[m["destination"] for m in d["mounts"]]' <"$cfg")" = "['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/sys/fs/cgroup']" ]
	[ "$(json '[n["type"] for n in d["linux"]["namespaces"]]' <"$cfg")" = "['pid', 'network', 'ipc', 'uts', 'mount', 'cgroup']" ]
	[ "$(json '"/proc/kcore" in d["linux"]["maskedPaths"]' <"$cfg")" = True ]
	[ "$(json '"/proc/sys" in d["linux"]["readonlyPaths"]' <"$cfg")" = True ]
	# tab-indented, as runc writes it
	grep -q "^	\"ociVersion\"" "$cfg"
}

@test "spec writes into the current directory by default" {
	cd "$TEST_TMP"
	run "$MVRUN" spec
	[ "$status" -eq 0 ]
	[ -f "$TEST_TMP/config.json" ]
	jq -e '.process.args == ["sh"]' "$TEST_TMP/config.json"
}

@test "spec --rootless maps the caller to root in a user namespace" {
	run "$MVRUN" spec -b "$TEST_TMP" --rootless
	[ "$status" -eq 0 ]
	cfg=$TEST_TMP/config.json
	[ "$(json '[n["type"] for n in d["linux"]["namespaces"]]' <"$cfg")" = "['pid', 'ipc', 'uts', 'mount', 'cgroup', 'user']" ]
	[ "$(json 'd["linux"]["uidMappings"][0]["hostID"]' <"$cfg")" = "$(id -u)" ]
	[ "$(json 'd["linux"]["gidMappings"][0]["hostID"]' <"$cfg")" = "$(id -g)" ]
	[ "$(json '"resources" in d["linux"]' <"$cfg")" = False ]
	! grep -q 'gid=5' "$cfg"
}

@test "spec refuses to overwrite a config.json" {
	echo '{"mine": true}' >"$TEST_TMP/config.json"
	run "$MVRUN" spec --bundle="$TEST_TMP"
	[ "$status" -eq 1 ]
	[[ "$output" == *"File config.json exists. Remove it first"* ]]
	[ "$(cat "$TEST_TMP/config.json")" = '{"mine": true}' ]
	# nor through a dangling symlink
	rm "$TEST_TMP/config.json"
	ln -s "$TEST_TMP/elsewhere" "$TEST_TMP/config.json"
	run "$MVRUN" spec -b "$TEST_TMP"
	[ "$status" -eq 1 ]
	[ ! -e "$TEST_TMP/elsewhere" ]
}

@test "spec into a missing bundle fails naming it" {
	run "$MVRUN" spec -b "$TEST_TMP/missing"
	[ "$status" -eq 1 ]
	[[ "$output" == *"$TEST_TMP/missing"* ]]
}

@test "features prints the runtime spec's features JSON" {
	run "$MVRUN" features
	[ "$status" -eq 0 ]
	echo "$output" | jq -e '.ociVersionMin == "1.0.0" and .ociVersionMax == "1.1.0"'
	echo "$output" | jq -e '.hooks | length == 6'
	echo "$output" | jq -e '.linux.namespaces | index("pid") != null'
	echo "$output" | jq -e '.linux.seccomp.enabled == true'
	echo "$output" | jq -e '.linux.apparmor.enabled == false and .linux.selinux.enabled == false'
	echo "$output" | jq -e '.annotations["io.github.mvrun.vm"] == "kvm"'
}

@test "state of an unknown container: container does not exist" {
	mkdir -p "$ROOT"
	run "$MVRUN" --root "$ROOT" state nope
	[ "$status" -eq 1 ]
	[ "$output" = "mvrun: container does not exist" ]
	# nor with no root at all
	run "$MVRUN" --root "$TEST_TMP/missing" state nope
	[ "$status" -eq 1 ]
	[[ "$output" == *"container does not exist"* ]]
	[ ! -e "$TEST_TMP/missing" ]
}

@test "state refuses invalid ids" {
	mkdir -p "$ROOT"
	for id in ../etc a/b . .. "a b" ""; do
		run "$MVRUN" --root "$ROOT" state "$id"
		[ "$status" -eq 1 ]
		[[ "$output" == *"invalid container id"* ]]
	done
	run "$MVRUN" --root "$ROOT" state "$(printf 'a\033[31mb')"
	[ "$status" -eq 1 ]
	[[ "$output" == *'invalid container id `a?[31mb`'* ]]
	run "$MVRUN" --root "$ROOT" state
	[ "$status" -eq 1 ]
	run "$MVRUN" --root "$ROOT" state a b
	[ "$status" -eq 1 ]
}

@test "a container whose monitor is gone is stopped, with pid 0" {
	fake_container c1 "$(dead_pid)" 12345
	run "$MVRUN" --root "$ROOT" state c1
	[ "$status" -eq 0 ]
	echo "$output" | jq -e '.status == "stopped" and .pid == 0'
	echo "$output" | jq -e '.id == "c1" and .bundle == "/bundles/c1" and .rootfs == "/bundles/c1/rootfs"'
	echo "$output" | jq -e '.created == "2024-05-01T10:00:00.5Z" and .owner == "root"'
	echo "$output" | jq -e '.annotations["org.example"] == "yes"'
	echo "$output" | jq -e 'keys_unsorted == ["ociVersion","id","pid","status","bundle","rootfs","created","annotations","owner"]'

	run "$MVRUN" --root "$ROOT" list
	[ "$status" -eq 0 ]
	[[ "${lines[1]}" =~ ^c1\ +0\ +stopped\ +/bundles/c1\ +2024-05-01T10:00:00.5Z\ +root$ ]]
	run "$MVRUN" --root "$ROOT" list --format json
	[ "$status" -eq 0 ]
	echo "$output" | jq -e '.[0].status == "stopped" and .[0].pid == 0'
}

@test "a live monitor with another start time is a reused pid: stopped" {
	fake_container c1 $$ $(($(start_time $$) + 1))
	run "$MVRUN" --root "$ROOT" state c1
	[ "$status" -eq 0 ]
	echo "$output" | jq -e '.status == "stopped" and .pid == 0'
}

@test "a live monitor shows the recorded status and its pid" {
	fake_container c1 $$ "$(start_time $$)" paused
	run "$MVRUN" --root "$ROOT" state c1
	[ "$status" -eq 0 ]
	echo "$output" | jq -e ".status == \"paused\" and .pid == $$"
	run "$MVRUN" --root "$ROOT" list -f json
	echo "$output" | jq -e ".[0].status == \"paused\" and .[0].pid == $$"
}

@test "list on an empty and on a missing root" {
	mkdir -p "$ROOT"
	for root in "$ROOT" "$TEST_TMP/missing"; do
		run "$MVRUN" --root "$root" list
		[ "$status" -eq 0 ]
		[ "$output" = "ID          PID         STATUS      BUNDLE      CREATED     OWNER" ]
		run "$MVRUN" --root "$root" list --format=json
		[ "$status" -eq 0 ]
		[ "$output" = null ]
		run "$MVRUN" --root "$root" list -q
		[ "$status" -eq 0 ]
		[ -z "$output" ]
	done
	[ ! -e "$TEST_TMP/missing" ]
}

@test "list: sorted, aligned, others' entries skipped" {
	fake_container b-long-container-name "$(dead_pid)" 1
	fake_container a "$(dead_pid)" 1
	mkdir -p "$ROOT/runc-thing" # another runtime's: no state.json
	touch "$ROOT/stray-file"
	run "$MVRUN" --root "$ROOT" list -q
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'a\nb-long-container-name')" ]
	run "$MVRUN" --root "$ROOT" list
	[ "${#lines[@]}" -eq 3 ]
	# Go's tabwriter as runc uses it: each column its widest cell + 3, at least 12
	[ "${lines[0]}" = "ID                      PID         STATUS      BUNDLE                           CREATED                  OWNER" ]
	[ "${lines[1]}" = "a                       0           stopped     /bundles/a                       2024-05-01T10:00:00.5Z   root" ]
	[ "${lines[2]}" = "b-long-container-name   0           stopped     /bundles/b-long-container-name   2024-05-01T10:00:00.5Z   root" ]
	run "$MVRUN" --root "$ROOT" list --format json
	echo "$output" | jq -e '[.[].id] == ["a", "b-long-container-name"]'
	run "$MVRUN" --root "$ROOT" state runc-thing
	[ "$status" -eq 1 ]
	[[ "$output" == *"container does not exist"* ]]
}

@test "a corrupt state file is an error naming it; list goes on" {
	fake_container good "$(dead_pid)" 1
	mkdir -p "$ROOT/bad"
	echo '{"runtime":"mvrun",' >"$ROOT/bad/state.json"
	run "$MVRUN" --root "$ROOT" state bad
	[ "$status" -eq 1 ]
	[[ "$output" == *"$ROOT/bad/state.json"*"corrupt"* ]]
	run "$MVRUN" --root "$ROOT" list -q
	[ "$status" -eq 0 ]
	[[ "$output" == *"$ROOT/bad/state.json"* ]]
	[ "${lines[-1]}" = good ]
}

@test "list refuses an unknown format and arguments" {
	run "$MVRUN" --root "$ROOT" list --format xml
	[ "$status" -eq 1 ]
	[[ "$output" == *"invalid format option"* ]]
	run "$MVRUN" --root "$ROOT" list extra
	[ "$status" -eq 1 ]
}

@test "checkpoint and restore fail clearly, whatever the flags" {
	run "$MVRUN" checkpoint --image-path /tmp/x --leave-running c1
	[ "$status" -eq 1 ]
	[ "$output" = "mvrun: checkpoint is not supported by mvrun (containers run in microVMs)" ]
	run "$MVRUN" restore --image-path /tmp/x -d c1
	[ "$status" -eq 1 ]
	[ "$output" = "mvrun: restore is not supported by mvrun (containers run in microVMs)" ]
}

@test "the new commands have --help" {
	for c in state list spec features checkpoint restore; do
		run "$MVRUN" "$c" --help
		[ "$status" -eq 0 ]
		[[ "$output" == "usage: mvrun $c"* ]]
	done
}
