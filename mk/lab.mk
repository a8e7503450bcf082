# The VM lab: QEMU built from Debian's source with our device, the guest module, VM tests.
# virtme-ng (vng) comes from the venv's [lab] extra; the guests run $(VPY) too.

.PHONY: lab test-vm shell demo-vms bench-vm lint-kernel
lab:
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
