"""A real cryptodev-linux client, unmodified: OpenSSL's own devcrypto engine
(engines/e_devcrypto.c from Debian's OpenSSL source, built by `make lab` as a
dynamic engine against the system libcrypto), in a guest whose /dev/crypto is
/dev/cryptodev0. It opens the node, clones it with CRIOGET, probes every
cipher and digest with CIOCGSESSION and CIOCGSESSINFO, and then does the work:
`openssl speed`, and `openssl enc` / `openssl dgst` whose output must equal
OpenSSL's own software result, with the device's request counter showing the
work went through it."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from sections import section, split_sections
from vmlab import GuestRun, Lab, boot, cryptodev_device

COUNTER = "/sys/class/virtio_cryptodev/cryptodev0/requests"
KEY, IV = "000102030405060708090a0b0c0d0e0f", "f0e0d0c0b0a090807060504030201000"
CIPHERS = ("aes-128-cbc", "aes-256-cbc", "aes-128-ctr", "aes-256-ecb")
DIGESTS = ("md5", "sha1", "sha224", "sha256", "sha384", "sha512")


def _counted(commands: str) -> str:
    """Runs `commands`, then prints how many device requests they made."""
    return f"a=$(cat {COUNTER}); {commands}; echo \"requests $(( $(cat {COUNTER}) - a ))\""


def _script(engine: str) -> str:
    enc = " && ".join(
        f"openssl enc -engine {engine} -{c} -K {KEY}{KEY if '256' in c else ''} "
        f"{'' if 'ecb' in c else '-iv ' + IV} -in p -out dev.{c} 2>/dev/null && "
        f"openssl enc -{c} -K {KEY}{KEY if '256' in c else ''} {'' if 'ecb' in c else '-iv ' + IV} "
        f"-in p -out sw.{c} && cmp dev.{c} sw.{c} && "
        f"openssl enc -d -engine {engine} -{c} -K {KEY}{KEY if '256' in c else ''} "
        f"{'' if 'ecb' in c else '-iv ' + IV} -in dev.{c} -out back.{c} 2>/dev/null && cmp p back.{c} && "
        f"echo 'enc {c} matches'"
        for c in CIPHERS
    )
    dgst = " && ".join(
        f"[ \"$(openssl dgst -engine {engine} -{d} -r p 2>/dev/null)\" = \"$(openssl dgst -{d} -r p)\" ] && "
        f"echo 'dgst {d} matches'"
        for d in DIGESTS
    )
    return "".join([
        section("load", "insmod $MODULE && ln -sf /dev/cryptodev0 /dev/crypto"),
        section("engine", f"openssl engine -t -c -pre SO_PATH:{engine} -pre LOAD dynamic"),
        section("speed", _counted(f"openssl speed -engine {engine} -elapsed -seconds 1 "
                                  f"-bytes 4096 -evp aes-128-cbc 2>&1 | tail -n 2")),
        section("enc", "cd /tmp && head -c 100000 /dev/urandom > p && " + _counted(enc)),
        section("dgst", "cd /tmp && " + _counted(dgst)),
        section("dmesg", "dmesg"),
    ])


@pytest.fixture(scope="module")
def sections(lab: Lab) -> dict[str, tuple[str, int]]:
    run: GuestRun = boot(lab, _script(str(lab.openssl_engine)), qemu_opts=cryptodev_device(0),
                         timeout=600)
    found = split_sections(run.output)
    assert "dmesg" in found, run.tail()
    return found


def _ok(sections: dict[str, tuple[str, int]], name: str) -> str:
    output, status = sections[name]
    assert status == 0, f"{name}:\n{output[-3000:]}"
    return output


def _requests(output: str) -> int:
    found = re.search(r"requests (\d+)", output)
    assert found, output[-2000:]
    return int(found.group(1))


def test_the_engine_loads_and_reports_its_ciphers_and_digests(sections: dict[str, tuple[str, int]]) -> None:
    output = _ok(sections, "engine")
    assert "[ available ]" in output, output
    assert "AES-128-CBC" in output and "SHA256" in output, output


def test_openssl_speed_runs_through_the_device(sections: dict[str, tuple[str, int]],
                                               figure: Callable[[str], None]) -> None:
    output = _ok(sections, "speed")
    assert _requests(output) > 100, output
    rate = output.strip().splitlines()[-2]
    figure(f"openssl speed -engine devcrypto -evp aes-128-cbc (4 KiB, TCG guest): {rate}")


def test_enc_matches_software_for_every_mode_and_decrypts_back(sections: dict[str, tuple[str, int]]) -> None:
    output = _ok(sections, "enc")
    for cipher in CIPHERS:
        assert f"enc {cipher} matches" in output, output[-2000:]
    assert _requests(output) >= 2 * len(CIPHERS)


def test_dgst_matches_software_for_every_digest(sections: dict[str, tuple[str, int]]) -> None:
    output = _ok(sections, "dgst")
    for digest in DIGESTS:
        assert f"dgst {digest} matches" in output, output[-2000:]
    assert _requests(output) >= len(DIGESTS)


def test_guest_kernel_log_stays_clean(sections: dict[str, tuple[str, int]]) -> None:
    trouble = [line for line in sections["dmesg"][0].splitlines()
               if re.search(r"WARNING|BUG|Oops|Call Trace|general protection", line)]
    assert not trouble, "\n".join(trouble)
