# The VM lab: QEMU built from Debian's source with our device, the guest module, VM tests.

.PHONY: lab test-vm shell demo-vms bench-vm
lab:
	./virtio/lab/build-lab.sh

test-vm: install lab
	$(PYTHON) -m pytest -q tests/vm

shell: install lab
	$(PYTHON) virtio/lab/shell.py

demo-vms: install lab
	$(PYTHON) virtio/lab/two_vm_demo.py

.PHONY: lint-kernel
lint-kernel:
	./virtio/lab/checkpatch.sh

bench-vm: install lab
	$(PYTHON) -m pip install -q --disable-pip-version-check matplotlib
	$(PYTHON) benchmarks/device_bench.py
