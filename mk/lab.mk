# The VM lab: QEMU built from Debian's source with our device, the guest module, VM tests.
# virtme-ng (vng) comes from the venv's [lab] extra; the guests run $(VPY) too.

.PHONY: lab test-vm shell demo-vms bench-vm lint-kernel
lab: install-lab
	./virtio/lab/build-lab.sh

test-vm: install-test lab
	$(VPY) -m pytest -q tests/vm

shell: install-lab lab
	$(VPY) virtio/lab/shell.py

demo-vms: install-lab lab
	$(VPY) virtio/lab/two_vm_demo.py

lint-kernel:
	./virtio/lab/checkpatch.sh

bench-vm: install-bench lab
	$(VPY) benchmarks/device_bench.py

# The trust-boundary fuzzers and the full-ring soak, long: chains over qtest
# (10 min), ioctls as an unprivileged guest user (10 min), 1,000 rounds of
# killed sessions, QMP under a full ring for 60 s, the lifecycle fuzzer in each
# of its five modes (2 min each). `make test-vm` runs them short.
.PHONY: fuzz
fuzz: install-test lab
	CRYPTOCHAT_FUZZ_SECONDS=600 CRYPTOCHAT_SOAK_SECONDS=60 CRYPTOCHAT_SESSION_ROUNDS=1000 \
	CRYPTOCHAT_IOCTL_FUZZ_SECONDS=600 CRYPTOCHAT_LIFECYCLE_SECONDS=120 \
	$(VPY) -m pytest -q tests/vm/test_device_hardening.py tests/vm/test_driver_hardening.py \
		tests/vm/test_device_lifecycle.py
