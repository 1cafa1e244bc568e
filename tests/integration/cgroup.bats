#!/usr/bin/env bats
# bats file_tags=kvm
# Host cgroups (cgroup v2): the container's monitor, and so its whole
# microVM, lives in linux.cgroupsPath with the limits written there, as
# podman and containerd expect; update changes them, delete removes it.

load helpers
bats_require_minimum_version 1.5.0

CG=/sys/fs/cgroup

setup() {
	[ "$(stat -fc %T $CG)" = cgroup2fs ] || skip "no cgroup v2 at $CG"
	setup_containers
}

teardown() {
	teardown_containers
	rmdir "$CG/mvrun-test" "$CG/mvrunt.slice/mvrunt-a.slice" "$CG/mvrunt.slice" 2>/dev/null || true
}

cgroup_of() {
	sed -n 's/^0:://p' "/proc/$1/cgroup"
}

@test "the monitor runs in cgroupsPath with the VM's limits; update changes them; delete removes it" {
	make_bundle "$B" sleep 1000
	edit_config "$B" '.linux.cgroupsPath = "/mvrun-test/c1" |
		.linux.resources = {memory: {limit: 268435456}, cpu: {quota: 50000, period: 100000, shares: 1024}}'
	mvr run -d --bundle "$B" c1 </dev/null >/dev/null 2>&1
	pid=$(mvr state c1 | jq -r .pid)
	[ "$(cgroup_of "$pid")" = /mvrun-test/c1 ]
	# the guest's 256 MiB plus the VMM's 64 MiB and 1/64 of the guest
	[ "$(cat $CG/mvrun-test/c1/memory.max)" = $(((256 + 64 + 4) << 20)) ]
	[ "$(cat $CG/mvrun-test/c1/cpu.max)" = "50000 100000" ]
	[ "$(cat $CG/mvrun-test/c1/cpu.weight)" = 39 ]
	# every thread of the VMM is there: vCPU, device and event threads
	[ "$(wc -l <$CG/mvrun-test/c1/cgroup.threads)" -gt 1 ]
	[ "$(cat $CG/mvrun-test/c1/memory.current)" -gt $((8 << 20)) ]
	mvr update --cpu-quota 80000 c1
	[ "$(cat $CG/mvrun-test/c1/cpu.max)" = "80000 100000" ]
	run mvr update --cpu-quota 300000 c1
	[ "$status" -ne 0 ]
	[ "$(cat $CG/mvrun-test/c1/cpu.max)" = "80000 100000" ]
	mvr delete --force c1
	[ ! -e $CG/mvrun-test/c1 ]
	[ -d $CG/mvrun-test ]
}

@test "no cgroupsPath: mvrun/ID; --systemd-cgroup: slice:prefix:name is a scope in its slice" {
	make_bundle "$B" sleep 1000
	mvr run -d --bundle "$B" c2 </dev/null >/dev/null 2>&1
	[ "$(cgroup_of "$(mvr state c2 | jq -r .pid)")" = /mvrun/c2 ]
	mvr delete --force c2
	[ ! -e $CG/mvrun/c2 ]
	# systemd's naming: a-b.slice is a child of a.slice
	edit_config "$B" '.linux.cgroupsPath = "mvrunt-a.slice:libpod:c3"'
	timeout 300 "$MVRUN" --root "$STATE" --systemd-cgroup run -d --bundle "$B" c3 </dev/null >/dev/null 2>&1
	[ "$(cgroup_of "$(mvr state c3 | jq -r .pid)")" = /mvrunt.slice/mvrunt-a.slice/libpod-c3.scope ]
	mvr delete --force c3
	[ ! -e $CG/mvrunt.slice/mvrunt-a.slice/libpod-c3.scope ]
	[ -d $CG/mvrunt.slice/mvrunt-a.slice ]
}

@test "a bad cgroupsPath fails create naming it, leaving nothing" {
	make_bundle "$B" true
	edit_config "$B" '.linux.cgroupsPath = "/mvrun-test/../escape"'
	run mvr create --bundle "$B" c4
	[ "$status" -ne 0 ]
	[[ "$output" == *"linux.cgroupsPath"* ]]
	[ ! -e "$STATE/c4" ]
	[ ! -e $CG/escape ]
}

@test "a monitor killed with SIGKILL: delete still removes its cgroup" {
	make_bundle "$B" sleep 1000
	edit_config "$B" '.linux.cgroupsPath = "/mvrun-test/c5"'
	mvr run -d --bundle "$B" c5 </dev/null >/dev/null 2>&1
	kill -KILL "$(mvr state c5 | jq -r .pid)"
	wait_for "[ \"\$(mvr state c5 | jq -r .status)\" = stopped ]" 30
	mvr delete c5
	[ ! -e $CG/mvrun-test/c5 ]
}
