"""Runs inside a guest with /dev/cryptodev0: the cryptodev engine against the
software engine, and a device-engine channel against a software-engine one.
Prints one line per check and exits non-zero on any failure."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from checklist import Checklist

from cryptochat.engines import Engine, SoftwareEngine, open_engine
from cryptochat.engines.cryptodev import CryptodevEngine
from cryptochat.errors import ConfigError
from cryptochat.wire.channel import Channel, DataReceived, Role

DEVICE = "/dev/cryptodev0"
COUNTER = Path("/sys/class/virtio_cryptodev/cryptodev0/requests")
CHECKS = Checklist("engine_check")
check = CHECKS.check


def pump(a: Channel, b: Channel) -> list[bytes]:
    """Moves bytes both ways until both sides are quiet; returns what b received."""
    received = []
    while True:
        to_b, to_a = a.data_to_send(), b.data_to_send()
        if not to_b and not to_a:
            return received
        if to_b:
            received += [e.data for e in b.receive_data(to_b) if isinstance(e, DataReceived)]
        if to_a:
            a.receive_data(to_a)


def interop(client_engine: Engine, server_engine: Engine, label: str) -> None:
    psk = os.urandom(32)
    client = Channel(Role.CLIENT, psk, client_engine)
    server = Channel(Role.SERVER, psk, server_engine)
    pump(client, server)
    check(client.established and server.established, f"{label}: handshake")
    lines = [os.urandom(n) for n in (0, 1, 15, 16, 17, 1000, client.max_plaintext)]
    for line in lines:
        client.send(line)
    check(pump(client, server) == lines, f"{label}: client to server, every size")
    for line in lines:
        server.send(line)
    check(pump(server, client) == lines, f"{label}: server to client, every size")


def main() -> int:
    software = SoftwareEngine()
    device = CryptodevEngine(DEVICE)
    print("     engine:", device.describe())
    check("virtio-cryptodev" in device.describe(), "the device names its driver")
    check(device.one_request_records, "the device seals a record in one request")

    key, mac_key = os.urandom(32), os.urandom(32)
    dev_cipher, sw_cipher = device.aes_cbc(key), software.aes_cbc(key)
    dev_mac, sw_mac = device.hmac_sha256(mac_key), software.hmac_sha256(mac_key)
    for size in (16, 64, 1024, 16384, 65536):
        iv, data = os.urandom(16), os.urandom(size)
        sealed = dev_cipher.encrypt(iv, data)
        check(sealed == sw_cipher.encrypt(iv, data), f"AES-256-CBC {size} B equals software")
        check(dev_cipher.decrypt(iv, sealed) == data, f"AES-256-CBC {size} B round trip")
    for size in (0, 1, 64, 65536):
        data = os.urandom(size)
        check(dev_mac.mac(data) == sw_mac.mac(data), f"HMAC-SHA256 {size} B equals software")
    for session in (dev_cipher, dev_mac):
        session.close()

    dev_seal, sw_seal = device.aes_cbc_hmac_sha256(key, mac_key), software.aes_cbc_hmac_sha256(key, mac_key)
    for size in (16, 1024, 65536):
        prefix, iv, data = os.urandom(26), os.urandom(16), os.urandom(size)
        before = int(COUNTER.read_text())
        sealed = dev_seal.seal(prefix, iv, data)
        check(int(COUNTER.read_text()) - before == 1, f"encrypt-then-MAC {size} B is one request")
        check(sealed == sw_seal.seal(prefix, iv, data), f"encrypt-then-MAC {size} B equals software")
        ciphertext, tag = sealed[:-32], sealed[-32:]
        check(dev_seal.open(prefix, iv, ciphertext, tag) == data, f"encrypt-then-MAC {size} B opens")
        forged = bytes([tag[0] ^ 1]) + tag[1:]
        check(dev_seal.open(prefix, iv, ciphertext, forged) is None,
              f"encrypt-then-MAC {size} B: a forged tag is refused")
    dev_seal.close()

    before = int(COUNTER.read_text())
    interop(device, software, "device client, software server")
    interop(software, device, "software client, device server")
    after = int(COUNTER.read_text())
    # Each interop has the device side seal 7 records and open 7: one request each.
    check(after - before >= 28, f"the channel's records went through the device ({after - before} requests)")

    auto = open_engine("auto")
    check(isinstance(auto, CryptodevEngine) and auto.path == DEVICE, f"auto picks {DEVICE}")
    auto.close()
    try:
        open_engine("cryptodev", "/dev/cryptodev9")
        check(False, "a missing device is an error")
    except ConfigError as exc:
        check("/dev/cryptodev9" in str(exc), f"a missing device is an error: {exc}")
    device.close()
    return CHECKS.finish()


if __name__ == "__main__":
    sys.exit(main())
