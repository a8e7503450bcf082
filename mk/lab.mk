# The VM lab: QEMU built from Debian's source with our device, the guest module, VM tests.
# virtme-ng (vng) comes from the venv's [lab] extra; the guests run $(VPY) too.

# PROFILE: the pair of QEMU and guest kernel (virtio/lab/build-lab.sh):
# debian12 (QEMU 7.2, kernel 6.1; the default) or debian13 (QEMU 10.0, kernel 6.12).
PROFILE ?= debian12
export PROFILE

.PHONY: lab test-vm test-vm-debian13 test-matrix shell demo-vms bench-vm lint-kernel
lab: install-lab
	./virtio/lab/build-lab.sh

test-vm: install-test lab
	CRYPTOCHAT_LAB_ENV=build/lab-$(PROFILE).env $(VPY) -m pytest -q tests/vm

# What `make test` runs on the second profile: the device's ABI and hardening
# over qtest, migration, the driver's hardening and datapath in a guest, the
# OpenSSL engine, and the two-VM chat, also across the server VM's migration.
DEBIAN13_TESTS := tests/vm/test_device_qtest.py tests/vm/test_device_hardening.py \
	tests/vm/test_device_migration.py tests/vm/test_driver_hardening.py tests/vm/test_datapath.py \
	tests/vm/test_openssl_engine.py tests/vm/test_two_vm_chat.py tests/vm/test_chat_migration.py
test-vm-debian13: install-test
	$(MAKE) lab PROFILE=debian13
	CRYPTOCHAT_LAB_ENV=build/lab-debian13.env $(VPY) -m pytest -q $(DEBIAN13_TESTS)

# Every VM test on every profile.
test-matrix: install-test
	CRYPTOCHAT_EVERY_MODE=1 $(MAKE) test-vm PROFILE=debian12
	CRYPTOCHAT_EVERY_MODE=1 $(MAKE) test-vm PROFILE=debian13

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
# The device's qtest suites, the lifecycle fuzzer among them, on a QEMU built with
# AddressSanitizer and UBSan (SANITIZE=address: a build of its own, about 5 minutes
# the first time): a use-after-free the poisoned allocator lets pass stops QEMU with
# a report. QEMU frees some memory only at exit, so leaks are not reported.
# `make test` runs the lifecycle fuzzer there, short.
ASAN_LAB := CRYPTOCHAT_LAB_ENV=build/lab-$(PROFILE)-asan.env ASAN_OPTIONS=detect_leaks=0 \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
.PHONY: lab-asan test-asan fuzz-asan
lab-asan: install-lab
	SANITIZE=address ./virtio/lab/build-lab.sh
test-asan: install-test lab-asan
	$(ASAN_LAB) $(VPY) -m pytest -q tests/vm/test_device_lifecycle.py
fuzz-asan: install-test lab-asan
	$(ASAN_LAB) CRYPTOCHAT_LIFECYCLE_SECONDS=60 $(VPY) -m pytest -q tests/vm/test_device_lifecycle.py \
		tests/vm/test_device_qtest.py tests/vm/test_device_hardening.py tests/vm/test_device_migration.py

.PHONY: fuzz
fuzz: install-test lab
	CRYPTOCHAT_FUZZ_SECONDS=600 CRYPTOCHAT_SOAK_SECONDS=60 CRYPTOCHAT_SESSION_ROUNDS=1000 \
	CRYPTOCHAT_IOCTL_FUZZ_SECONDS=600 CRYPTOCHAT_LIFECYCLE_SECONDS=120 \
	$(VPY) -m pytest -q tests/vm/test_device_hardening.py tests/vm/test_driver_hardening.py \
		tests/vm/test_device_lifecycle.py
