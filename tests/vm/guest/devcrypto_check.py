"""Runs inside a guest whose /dev/crypto is a symlink to /dev/cryptodev0 (our
driver, served by the outer QEMU): the only real provider of the
cryptodev-linux ABI on a machine without cryptodev-linux.

(a) Our QEMU again, under the qtest accelerator, with the device's devcrypto
    backend on /dev/crypto, driven by virtio/lab/cryptodev_qtest.py; results
    against `cryptography`, and the work seen arriving at the outer device.
(b) Live migration of that device between such QEMUs: devcrypto to devcrypto,
    then to builtin, with sessions of every kind and requests in flight; a
    digest in progress inside the node refuses the move by name.
(c) The cryptodev engine on /dev/crypto against the software engine.
Prints one line per check and exits non-zero on any failure. Needs
virtio/lab and tests/vm on PYTHONPATH (the VM test sets it)."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import cryptodev_qtest as cq
from chain_fuzz import fuzz
from checklist import Checklist
from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from migration_qtest import MAC_KEY, MODES, Host, Sessions, hmac_sha256, in_flight, mismatches
from qtest import QtestError, qemu_command
from vectors import CBC_AES256, HMAC_SHA256_CASE2
from vmlab import Lab

from cryptochat.engines import SoftwareEngine, open_engine
from cryptochat.engines.cryptodev import CryptodevEngine

NODE = "/dev/crypto"
FUZZ_SEED = int(os.environ.get("CRYPTOCHAT_FUZZ_SEED", "20261130"))
FUZZ_SECONDS = float(os.environ.get("CRYPTOCHAT_FUZZ_SECONDS", "20"))
COUNTER = Path("/sys/class/virtio_cryptodev/cryptodev0/requests")
CHECKS = Checklist("devcrypto_check")
check = CHECKS.check


def requests() -> int:
    return int(COUNTER.read_text())


def sw_aes_cbc(key: bytes, iv: bytes, data: bytes, *, decrypt: bool = False) -> bytes:
    cipher = Cipher(algorithms.AES(key), modes.CBC(iv))
    ctx = cipher.decryptor() if decrypt else cipher.encryptor()
    return ctx.update(data) + ctx.finalize()


def sw_hmac(key: bytes, data: bytes, algorithm: hashes.HashAlgorithm) -> bytes:
    mac = hmac.HMAC(key, algorithm)
    mac.update(data)
    return mac.finalize()


def authenticated(dev: cq.CryptodevQtest, rng: random.Random, both: int, key: bytes, mac_key: bytes) -> None:
    """AUTH_CRYPT through the node: one CIOCAUTHCRYPT there per request here, in every mode."""
    aad, prefix, iv, data = rng.randbytes(20), rng.randbytes(26), rng.randbytes(16), rng.randbytes(4096)
    gcm = dev.create_session(cipher=cq.CRYPTO_AES_GCM, key=key)
    reply = dev.auth_crypt(gcm, cq.AuthMode.AEAD, data, iv=iv[:12], auth=aad)
    check(reply.status == cq.Status.OK and reply.output == AESGCM(key).encrypt(iv[:12], data, aad),
          "inner QEMU: AES-GCM through the node")
    reply = dev.auth_crypt(gcm, cq.AuthMode.AEAD, reply.output[:-16], op=cq.DECRYPT, iv=iv[:12], auth=aad,
                           tag=bytes(16))
    check(reply.status == cq.Status.BADMSG, f"inner QEMU: a forged GCM tag is BADMSG ({reply.status})")
    dev.destroy_session(gcm)

    cipher_text = sw_aes_cbc(key, iv, data)
    reply = dev.auth_crypt(both, cq.AuthMode.ETM, data, iv=iv, auth=prefix, tag_len=32)
    check(reply.status == cq.Status.OK
          and reply.output == cipher_text + sw_hmac(mac_key, prefix + cipher_text, hashes.SHA256()),
          "inner QEMU: encrypt-then-MAC (ETM) through the node")
    record = data[:100] + sw_hmac(mac_key, aad + data[:100], hashes.SHA256())
    pad = 16 - len(record) % 16
    record += bytes([pad - 1]) * pad
    reply = dev.auth_crypt(both, cq.AuthMode.TLS, data[:100], iv=iv, auth=aad, tag_len=32,
                           out_len=len(record))
    check(reply.status == cq.Status.OK and reply.output == sw_aes_cbc(key, iv, record),
          "inner QEMU: a TLS record through the node")
    reply = dev.auth_crypt(both, cq.AuthMode.TLS, reply.output, op=cq.DECRYPT, iv=iv, auth=aad, tag_len=32)
    check(reply.status == cq.Status.OK and reply.result_len == 100 and reply.output[:100] == data[:100],
          "inner QEMU: the TLS record opens through the node")

    ctr = dev.create_session(cipher=cq.CRYPTO_AES_CTR, key=key, mac=cq.CRYPTO_SHA1_HMAC, mac_key=mac_key)
    encryptor = Cipher(algorithms.AES(key), modes.CTR(iv)).encryptor()
    payload = encryptor.update(data[:29]) + encryptor.finalize()
    reply = dev.auth_crypt(ctr, cq.AuthMode.SRTP, data[:29], iv=iv, auth=prefix[:12] + aad[:4], data_off=12,
                           tag_len=10)
    tag = sw_hmac(mac_key, prefix[:12] + payload + aad[:4], hashes.SHA1())[:10]
    check(reply.status == cq.Status.OK and reply.output == payload + tag, "inner QEMU: SRTP through the node")
    dev.destroy_session(ctr)


def qtest_devcrypto(qemu: Path) -> None:
    rng = random.Random(int.from_bytes(os.urandom(4), "little"))
    before = requests()
    with cq.running(qemu, f"backend=devcrypto,devcrypto-path={NODE},max-data-len=2097152") as dev:
        check("virtio-cryptodev: devcrypto backend" in dev.qt.stderr, "inner QEMU: devcrypto backend")
        v = CBC_AES256
        one = requests()
        check(dev.aes_cbc(v["key"], v["iv"], v["plaintext"]) == v["ciphertext"],
              "inner QEMU: NIST SP 800-38A F.2.5 encrypt")
        # Session, operation, teardown: three inner requests, three outer ones.
        check(requests() - one == 3, f"one inner operation is three outer requests ({requests() - one})")
        check(dev.aes_cbc(v["key"], v["iv"], v["ciphertext"], decrypt=True) == v["plaintext"],
              "inner QEMU: NIST SP 800-38A F.2.6 decrypt")
        h = HMAC_SHA256_CASE2
        check(dev.hmac_sha256(h["key"], h["data"]) == h["mac"], "inner QEMU: RFC 4231 case 2")

        for key_len in (16, 24, 32):
            key = rng.randbytes(key_len)
            session = dev.create_session(cipher=cq.CRYPTO_AES_CBC, key=key)
            for size in (16, 4096, 65536, 1024 * 1024):
                iv, data = rng.randbytes(16), rng.randbytes(size)
                sealed = dev.crypt(session, data, iv=iv)
                check(sealed == sw_aes_cbc(key, iv, data), f"inner QEMU: AES-{key_len * 8}-CBC {size} B")
                check(dev.crypt(session, sealed, op=cq.DECRYPT, iv=iv) == data,
                      f"inner QEMU: AES-{key_len * 8}-CBC {size} B round trip")
            dev.destroy_session(session)
        for alg, mac_id, digest in ((hashes.SHA256(), cq.CRYPTO_SHA2_256_HMAC, 32),
                                    (hashes.SHA1(), cq.CRYPTO_SHA1_HMAC, 20)):
            key = rng.randbytes(rng.choice((20, 32, 64, 100)))
            session = dev.create_session(mac=mac_id, mac_key=key)
            for size in (0, 1, 64, 65536):
                data = rng.randbytes(size)
                check(dev.crypt(session, data, out_len=digest) == sw_hmac(key, data, alg),
                      f"inner QEMU: HMAC-{alg.name} {size} B")
            dev.destroy_session(session)
        key, mac_key, iv, data = rng.randbytes(32), rng.randbytes(32), rng.randbytes(16), rng.randbytes(4096)
        both = dev.create_session(cipher=cq.CRYPTO_AES_CBC, key=key, mac=cq.CRYPTO_SHA2_256_HMAC,
                                  mac_key=mac_key)
        check(dev.crypt(both, data, iv=iv, out_len=len(data) + 32)
              == sw_aes_cbc(key, iv, data) + sw_hmac(mac_key, data, hashes.SHA256()),
              "inner QEMU: cipher+MAC session, MAC over the plaintext")
        authenticated(dev, rng, both, key, mac_key)

        # A hash takes only COP_ENCRYPT. The real cryptodev-linux reads COP_DECRYPT
        # on a hash as "hash dst", NULL here: a host oops. Our node is as strict as a
        # host must be (EINVAL, which would come back as NOTSUPP), so BADREQ proves
        # the inner device refused it before the node was asked.
        for mac_id, mac_key in ((cq.CRYPTO_SHA2_256_HMAC, key), (cq.CRYPTO_SHA2_256, b"")):
            hashing = dev.create_session(mac=mac_id, mac_key=mac_key)
            try:
                dev.crypt(hashing, data, op=cq.DECRYPT, out_len=32)
                check(False, f"inner QEMU: hash {mac_id} with DECRYPT never reaches the node")
            except cq.DeviceError as exc:
                check(exc.status == cq.Status.BADREQ,
                      f"inner QEMU: hash {mac_id} with DECRYPT never reaches the node ({exc})")
            dev.destroy_session(hashing)

        # The inner device allows 2 MiB, the outer node 1 MiB: CRYPT reaches the
        # node in place, in 64 KiB pieces (the IV carried from one to the next),
        # so what the host kernel keeps per session stays small.
        session = dev.create_session(cipher=cq.CRYPTO_AES_CBC, key=key)
        big = rng.randbytes(1536 * 1024)
        one = requests()
        sealed = dev.crypt(session, big, iv=iv)
        check(sealed == sw_aes_cbc(key, iv, big), "inner QEMU: 1.5 MiB AES-CBC, above the node's largest")
        check(requests() - one == 24, f"... reaches the node as 24 pieces of 64 KiB ({requests() - one})")
        check(dev.crypt(session, sealed, op=cq.DECRYPT, iv=iv) == big, "inner QEMU: 1.5 MiB round trip")
        hashing = dev.create_session(mac=cq.CRYPTO_SHA2_256_HMAC, mac_key=mac_key)
        check(dev.crypt(hashing, big, out_len=32) == sw_hmac(mac_key, big, hashes.SHA256()),
              "inner QEMU: HMAC of 1.5 MiB, in pieces")
        dev.crypt(hashing, big[:200_000], out_len=0, flags=cq.F_UPDATE | cq.F_RESET)
        check(dev.crypt(hashing, big[200_000:], out_len=32, flags=cq.F_FINAL)
              == sw_hmac(mac_key, big, hashes.SHA256()), "inner QEMU: multi-part HMAC across pieces")
        dev.destroy_session(hashing)
        check(dev.crypt(session, data, iv=iv) == sw_aes_cbc(key, iv, data),
              "inner QEMU: works after the large requests")

        # A reset frees the device's sessions, and with them the node's.
        dev.init()
        try:
            dev.crypt(session, data, iv=iv)
            check(False, "inner QEMU: sessions are gone after reset")
        except cq.DeviceError as exc:
            check(exc.status == cq.Status.NOSESSION, "inner QEMU: sessions are gone after reset")
        check(not dev.broken and dev.qt.alive(), "inner QEMU: still up")
    # A device whose sessions could hold more host kernel memory than its budget
    # does not start: 65,536 sessions of 16 MiB requests.
    refused = subprocess.run(
        qemu_command(qemu, ["-device", "virtio-cryptodev-pci,backend=devcrypto,"
                            f"devcrypto-path={NODE},max-data-len=16777216,max-sessions=65536"]),
        capture_output=True, text=True, timeout=60, check=False, stdin=subprocess.DEVNULL)
    check(refused.returncode != 0 and "exceed kernel-budget" in refused.stderr,
          f"inner QEMU: too many sessions for the kernel budget refused ({refused.stderr.strip()[-200:]})")
    grown = requests() - before
    # Every inner session, operation and teardown above is one outer request
    # (57 of them, the large ones in pieces).
    check(grown >= 57, f"the outer device served the inner device's work ({grown} requests)")

    # The chain fuzzer with this backend: the node must never see a malformed request.
    with cq.running(qemu, f"backend=devcrypto,devcrypto-path={NODE}") as dev:
        stats = fuzz(dev, FUZZ_SEED, FUZZ_SECONDS)
        print(f"     chain fuzzer on devcrypto, seed {FUZZ_SEED}: {stats.line()}")
        check(stats.wrong == 0 and stats.checked > 0 and dev.qt.alive(),
              "inner QEMU: fuzzed chains left it up and well-formed requests right")

    with cq.running(qemu, "backend=auto") as dev:
        check("virtio-cryptodev: devcrypto backend" in dev.qt.stderr,
              "backend=auto picks /dev/crypto when it opens")
        check(dev.hmac_sha256(h["key"], h["data"]) == h["mac"], "backend=auto: RFC 4231 case 2")
    with cq.running(qemu, "backend=auto,devcrypto-path=/dev/nonexistent") as dev:
        check("virtio-cryptodev: builtin backend" in dev.qt.stderr,
              "backend=auto falls back to builtin without the node")
        check(dev.hmac_sha256(h["key"], h["data"]) == h["mac"], "builtin fallback: RFC 4231 case 2")
    try:
        cq.CryptodevQtest.start(qemu, "backend=devcrypto,devcrypto-path=/dev/nonexistent").qt.close()
        check(False, "backend=devcrypto with a missing node refuses to start")
    except QtestError as exc:
        check("Could not open '/dev/nonexistent'" in str(exc),
              f"backend=devcrypto with a missing node refuses to start: {str(exc).splitlines()[-1]}")


def migration(qemu: Path) -> None:
    """In each mode, A → B on /dev/crypto, then B → C on the builtin backend, as
    tests/vm/test_device_migration.py does: each destination makes every session
    again in its own backend under its old id."""
    data = bytes(range(256)) * 16
    with tempfile.TemporaryDirectory() as directory:
        hosts: list[Host] = []

        def start(device: str, extra: Sequence[str], *, incoming: bool = False) -> Host:
            hosts.append(Host(qemu, Path(directory), f"q{len(hosts)}", device, extra, incoming))
            return hosts[-1]

        try:
            for mode, (properties, extra) in MODES.items():
                devcrypto = f"backend=devcrypto,devcrypto-path={NODE},{properties}"
                a = start(devcrypto, extra)
                dev = cq.CryptodevQtest(a.qt)
                sessions = Sessions(dev)
                check(sessions.check(dev, data) == [], f"migration ({mode}): sessions on the node")
                for destination in ("devcrypto", "builtin"):
                    name = f"({mode}) devcrypto to {destination}"
                    b = start(devcrypto if destination == "devcrypto" else f"backend=builtin,{properties}",
                              extra, incoming=True)
                    posted = in_flight(dev, sessions.cbc, len(hosts))
                    outcome = a.migrate_to(b)
                    check(outcome == ("completed", ""), f"migration {name}: {outcome}")
                    dev = dev.moved_to(b.qt)
                    wrong = mismatches(dev, posted)
                    check(wrong == 0, f"migration {name}: requests in flight answered once ({wrong} wrong)")
                    check(sessions.check(dev, data) == [], f"migration {name}: every session works on")
                    a.qt.close()
                    a = b
                a.qt.close()

            # A digest half done inside the node cannot be carried.
            properties, extra = MODES["main-loop"]
            devcrypto = f"backend=devcrypto,devcrypto-path={NODE},{properties}"
            a = start(devcrypto, extra)
            dev = cq.CryptodevQtest(a.qt)
            session = dev.create_session(mac=cq.CRYPTO_SHA2_256_HMAC, mac_key=MAC_KEY)
            dev.crypt(session, b"first half ", out_len=0, flags=cq.F_UPDATE)
            status, _ = a.migrate_to(start(devcrypto, extra, incoming=True))
            check(status == "failed" and a.status() == "running"
                  and f"session {session} holds a hmac(sha256) digest in progress" in a.qt.stderr,
                  f"migration: a digest in progress in the node refuses by name ({status})")
            check(dev.crypt(session, b"second half", out_len=32, flags=cq.F_FINAL)
                  == hmac_sha256(b"first half second half"), "migration: ... and the source goes on")
        finally:
            for host in hosts:
                host.qt.close()


def engines() -> None:
    software = SoftwareEngine()
    before = requests()
    for label, device in (("CryptodevEngine", CryptodevEngine(NODE)),
                          ("open_engine", open_engine("cryptodev", NODE))):
        print(f"     {label}: {device.describe()}")
        check(isinstance(device, CryptodevEngine) and NODE in device.describe(),
              f"{label}: the engine names {NODE}")
        key, mac_key = os.urandom(32), os.urandom(32)
        dev_cipher, sw_cipher = device.aes_cbc(key), software.aes_cbc(key)
        dev_mac, sw_mac = device.hmac_sha256(mac_key), software.hmac_sha256(mac_key)
        for size in (16, 1024, 65536):
            iv, data = os.urandom(16), os.urandom(size)
            sealed = dev_cipher.encrypt(iv, data)
            check(sealed == sw_cipher.encrypt(iv, data), f"{label}: AES-256-CBC {size} B equals software")
            check(dev_cipher.decrypt(iv, sealed) == data, f"{label}: AES-256-CBC {size} B round trip")
        for size in (0, 100, 65536):
            data = os.urandom(size)
            check(dev_mac.mac(data) == sw_mac.mac(data), f"{label}: HMAC-SHA256 {size} B equals software")
        dev_cipher.close()
        dev_mac.close()
        device.close()
    check(requests() > before, "the engines' work reached the device")


def main() -> int:
    qemu = Lab.load().qemu
    qtest_devcrypto(qemu)
    migration(qemu)
    engines()
    return CHECKS.finish()


if __name__ == "__main__":
    sys.exit(main())
