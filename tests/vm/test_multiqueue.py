"""A queue per vCPU: the device offers one request queue per vCPU (VIRTIO_CRYPTODEV_F_MQ), the driver
puts a caller's requests on its vCPU's queue, whose interrupt is affine to that vCPU, and a driver that
knows one queue (the module's multiqueue=0, which does not take the feature) still works."""

from __future__ import annotations

import re

import pytest
from sections import passed, section, split_sections
from vmlab import GuestRun, Lab, boot, cryptodev_device

# The first device's queue N in /proc/interrupts: its irq, and its count on each vCPU.
QUEUE_IRQS = """
dev() { basename "$(readlink /sys/class/virtio_cryptodev/cryptodev0/device)"; }
queue_irq() { grep " $(dev)-requests.$1$" /proc/interrupts | cut -d: -f1 | tr -d " "; }
queue_irqs() { grep " $(dev)-requests.$1$" /proc/interrupts | awk '{print $2, $3}'; }
"""

SCRIPT = QUEUE_IRQS + "".join([
    section("load", "insmod $MODULE && dmesg | grep -o 'virtio[0-9]*: [0-9]* request queues\\?'"),
    section("affinity", 'for q in 0 1; do '
                        'echo "queue $q vCPUs $(cat /proc/irq/$(queue_irq $q)/smp_affinity_list)"; done'),
    section("answered where asked",
            "for cpu in 0 1; do set -- $(queue_irqs 0) $(queue_irqs 1); "
            "taskset -c $cpu $BIN/cryptodev_vectors /dev/cryptodev0 >/dev/null || exit 1; "
            "set -- $1 $2 $3 $4 $(queue_irqs 0) $(queue_irqs 1); "
            'echo "caller on $cpu: queue 0 on vCPUs $(($5 - $1)) $(($6 - $2)), '
            'queue 1 on vCPUs $(($7 - $3)) $(($8 - $4))"; done'),
    section("vectors", "$BIN/cryptodev_vectors /dev/cryptodev0 && $BIN/cryptodev_aead /dev/cryptodev0"),
    section("stress on both vCPUs", "$BIN/cryptodev_stress /dev/cryptodev0 4 4 200 && "
                                    "$BIN/cryptodev_async /dev/cryptodev0 10"),
    # Threads of one process share its sessions across both queues, worked at once on the pool.
    section("parallel queues", "d=/dev/cryptodev2 && $BIN/cryptodev_vectors $d && $BIN/cryptodev_algs $d && "
                               "$BIN/cryptodev_aead $d && $BIN/cryptodev_stress $d 4 4 200 && "
                               "$BIN/cryptodev_async $d 10"),
    section("one queue device", "$BIN/cryptodev_vectors /dev/cryptodev1 && "
                                "$BIN/cryptodev_stress /dev/cryptodev1 2 2 100"),
    section("one-queue driver",
            "rmmod virtio_cryptodev && dmesg -C && insmod $MODULE multiqueue=0 && "
            "dmesg | grep -o 'virtio[0-9]*: [0-9]* request queues\\?' && "
            "$BIN/cryptodev_vectors /dev/cryptodev0 && $BIN/cryptodev_stress /dev/cryptodev0 4 4 100 && "
            "grep -c \" $(dev)-requests\" /proc/interrupts"),
    section("unload", "rmmod virtio_cryptodev"),
    section("dmesg", '! dmesg | grep -E "WARNING|BUG|Oops|Call Trace|general protection"'),
])


@pytest.fixture(scope="module")
def sections(lab: Lab) -> dict[str, tuple[str, int]]:
    devices = [*cryptodev_device(0), *cryptodev_device(1, num_queues=1), *cryptodev_device(2, parallel="on")]
    run: GuestRun = boot(lab, SCRIPT, qemu_opts=devices, cpus=2, timeout=600)
    run.check()
    return split_sections(run.output)


def test_the_device_offers_a_queue_per_vcpu_by_default(sections: dict[str, tuple[str, int]]) -> None:
    output = passed(sections, "load")
    assert sorted(re.findall(r"(\d+) request queues?", output)) == ["1", "2", "2"]


def test_each_queue_interrupts_its_own_vcpu(sections: dict[str, tuple[str, int]]) -> None:
    output = passed(sections, "affinity")
    assert "queue 0 vCPUs 0" in output and "queue 1 vCPUs 1" in output


def test_a_callers_answers_arrive_on_its_own_vcpus_queue(sections: dict[str, tuple[str, int]]) -> None:
    output = passed(sections, "answered where asked")
    for cpu in (0, 1):
        found = re.search(rf"caller on {cpu}: queue 0 on vCPUs (\d+) (\d+), queue 1 on vCPUs (\d+) (\d+)",
                          output)
        assert found, output
        interrupts = [[int(found[1]), int(found[2])], [int(found[3]), int(found[4])]]
        # Hundreds of requests, answered on the caller's vCPU by its queue ...
        assert interrupts[cpu][cpu] > 100, output
        # ... and the other queue stays quiet.
        assert sum(interrupts[1 - cpu]) < 5, output


def test_vectors_aead_stress_and_async_pass_over_several_queues(
        sections: dict[str, tuple[str, int]]) -> None:
    passed(sections, "vectors")
    passed(sections, "stress on both vCPUs")


def test_queues_worked_in_parallel_give_the_same_answers(sections: dict[str, tuple[str, int]]) -> None:
    passed(sections, "parallel queues")


def test_a_device_with_one_queue_still_works(sections: dict[str, tuple[str, int]]) -> None:
    passed(sections, "one queue device")


def test_a_driver_that_knows_one_queue_still_works(sections: dict[str, tuple[str, int]]) -> None:
    output = passed(sections, "one-queue driver")
    assert re.search(r"virtio\d+: 1 request queue\b", output)
    assert output.rstrip().endswith("1"), "only queue 0 has an interrupt"


def test_unloading_leaves_a_clean_log(sections: dict[str, tuple[str, int]]) -> None:
    passed(sections, "unload")
    passed(sections, "dmesg")
