#!/usr/bin/env bats
# bats file_tags=kvm
# Runs where /dev/kvm works: directly, or inside tests/kvmhost/run.

load helpers

@test "KVM runs a real-mode vCPU: an I/O exit with the computed value, then HLT" {
	[ -c /dev/kvm ]
	run "$BUILD/tests/kvmhost/kvm-smoke"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == "kvm-smoke: ok: KVM_EXIT_IO port 0xe9 value "*", then KVM_EXIT_HLT" ]]
}
