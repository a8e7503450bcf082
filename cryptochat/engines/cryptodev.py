"""The cryptodev engine: AES-CBC and HMAC-SHA256 through the cryptodev-linux ioctl ABI.

The same code serves ``/dev/crypto`` on a host with cryptodev-linux and ``/dev/cryptodevN`` in a guest
with the virtio-cryptodev driver, which hands each operation to the host. :class:`CryptodevDevice` is
the binding on its own (usable without the chat); :class:`CryptodevEngine` puts it behind the
:class:`~cryptochat.engines.base.Engine` interface. Arguments are checked here before they cross into C,
and a failed ioctl raises :class:`CryptodevError` naming its errno at once.
"""

from __future__ import annotations

import dataclasses
import errno
import os

from ._cryptodev import ffi, lib
from .base import AES_BLOCK, CipherSession, Engine, MacSession, SealSession

__all__ = [
    "CRYPTO_AES_CBC",
    "CRYPTO_SHA2_256_HMAC",
    "CryptodevDevice",
    "CryptodevEngine",
    "CryptodevError",
    "SessionInfo",
]

CRYPTO_AES_CBC = 11
CRYPTO_SHA2_256_HMAC = 18
_AES_KEY_SIZES = frozenset({16, 24, 32})
_SHA256_LEN = 32
_MAX_KEY_LEN = 512


class CryptodevError(OSError):
    """An ioctl on the device failed; ``errno`` says why."""

    def __init__(self, err: int, what: str, path: str) -> None:
        name = errno.errorcode.get(err, str(err))
        super().__init__(err, f"{what} on {path} failed: {name} ({os.strerror(err)})")


@dataclasses.dataclass(frozen=True, slots=True)
class SessionInfo:
    """What the driver says about a session: the algorithms and the drivers doing the work."""

    cipher_name: str
    cipher_driver: str
    hash_name: str
    hash_driver: str


class CryptodevDevice:
    """One open cryptodev device file; sessions created on it belong to it."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)

    def _check(self, err: int, what: str) -> None:
        if err:
            raise CryptodevError(-err, what, self.path)

    def create_session(self, *, cipher: int = 0, key: bytes = b"", mac: int = 0, mac_key: bytes = b"") -> int:
        """A new session (cipher and/or MAC); returns its id."""
        if not cipher and not mac:
            raise ValueError("a session needs a cipher, a MAC or both")
        if len(key) > _MAX_KEY_LEN or len(mac_key) > _MAX_KEY_LEN:
            raise ValueError("key longer than the ABI allows")
        ses = ffi.new("uint32_t *")
        self._check(
            lib.cc_new_session(self._fd, cipher, key, len(key), mac, mac_key, len(mac_key), ses),
            "CIOCGSESSION",
        )
        return int(ses[0])

    def free_session(self, ses: int) -> None:
        self._check(lib.cc_free_session(self._fd, ses), "CIOCFSESSION")

    def session_info(self, ses: int) -> SessionInfo:
        info = ffi.new("struct session_info_op *")
        info.ses = ses
        self._check(lib.cc_session_info(self._fd, info), "CIOCGSESSINFO")
        return SessionInfo(
            cipher_name=ffi.string(info.cipher_info.cra_name).decode(errors="replace"),
            cipher_driver=ffi.string(info.cipher_info.cra_driver_name).decode(errors="replace"),
            hash_name=ffi.string(info.hash_info.cra_name).decode(errors="replace"),
            hash_driver=ffi.string(info.hash_info.cra_driver_name).decode(errors="replace"),
        )

    def cipher(self, ses: int, *, decrypt: bool, iv: bytes, data: bytes) -> bytes:
        """AES-CBC over ``data`` (a whole number of blocks) with ``iv``; the IV is not written back."""
        if len(iv) != AES_BLOCK:
            raise ValueError(f"IV must be {AES_BLOCK} bytes, not {len(iv)}")
        if not data or len(data) % AES_BLOCK:
            raise ValueError(f"data length {len(data)} is not a positive multiple of {AES_BLOCK}")
        out = ffi.new("uint8_t[]", len(data))
        iv_buf = ffi.new("uint8_t[]", iv)
        op = lib.COP_DECRYPT if decrypt else lib.COP_ENCRYPT
        self._check(lib.cc_crypt(self._fd, ses, op, data, out, len(data), iv_buf, ffi.NULL), "CIOCCRYPT")
        return bytes(ffi.buffer(out))

    def _etm(self, ses: int, decrypt: bool, prefix: bytes, iv: bytes, data: bytes,
             tag: bytes) -> tuple[int, bytearray]:
        if len(iv) != AES_BLOCK:
            raise ValueError(f"IV must be {AES_BLOCK} bytes, not {len(iv)}")
        if not data or len(data) % AES_BLOCK:
            raise ValueError(f"data length {len(data)} is not a positive multiple of {AES_BLOCK}")
        p, n = len(prefix), len(data)
        # One buffer, in place as the layout wants: the prefix, the data, and when sealing the tag after it,
        # so the result is one slice.
        buf = bytearray(p + n + (0 if decrypt else _SHA256_LEN))
        buf[:p] = prefix
        buf[p:p + n] = data
        cbuf = ffi.from_buffer("uint8_t[]", buf)
        tag_ptr = ffi.from_buffer("uint8_t[]", tag) if decrypt else cbuf + p + n
        err = lib.cc_auth_crypt(self._fd, ses, lib.COP_DECRYPT if decrypt else lib.COP_ENCRYPT,
                                lib.VIRTIO_CRYPTODEV_COP_FLAG_AEAD_ETM_TYPE, cbuf, p + n, p, n, tag_ptr,
                                _SHA256_LEN, ffi.from_buffer("uint8_t[]", iv))
        return err, buf

    def seal_etm(self, ses: int, prefix: bytes, iv: bytes, data: bytes) -> bytes:
        """Encrypt-then-MAC in one CIOCAUTHCRYPT (our ETM flag) on an AES-CBC + HMAC-SHA256 session:
        ``ciphertext || HMAC(prefix || ciphertext)`` for ``data`` (whole blocks). Prefixes over 256 bytes
        are refused, as with cryptodev-linux's SRTP layout."""
        err, buf = self._etm(ses, False, prefix, iv, data, b"")
        self._check(err, "CIOCAUTHCRYPT")
        return bytes(memoryview(buf)[len(prefix):])

    def open_etm(self, ses: int, prefix: bytes, iv: bytes, ciphertext: bytes, tag: bytes) -> bytes | None:
        """The other way, in one request: the plaintext, or None when ``tag`` does not verify (the device
        checks it before it decrypts anything)."""
        if len(tag) != _SHA256_LEN:
            return None
        err, buf = self._etm(ses, True, prefix, iv, ciphertext, tag)
        if err == -errno.EBADMSG:
            return None
        self._check(err, "CIOCAUTHCRYPT")
        return bytes(memoryview(buf)[len(prefix):])

    def digest(self, ses: int, data: bytes, length: int) -> bytes:
        """The MAC or hash of ``data`` for a MAC-only session whose digest is ``length`` bytes."""
        out = ffi.new("uint8_t[]", length)
        self._check(
            lib.cc_crypt(self._fd, ses, lib.COP_ENCRYPT, data, ffi.NULL, len(data), ffi.NULL, out),
            "CIOCCRYPT",
        )
        return bytes(ffi.buffer(out))

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1

    def __enter__(self) -> CryptodevDevice:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _check_aes_key(key: bytes) -> None:
    if len(key) not in _AES_KEY_SIZES:
        raise ValueError(f"AES key must be 16, 24 or 32 bytes, not {len(key)}")


def _check_mac_key(key: bytes) -> None:
    if not key:
        raise ValueError("HMAC key must not be empty")


class _CryptodevCipher:
    __slots__ = ("_device", "_ses")

    def __init__(self, device: CryptodevDevice, key: bytes) -> None:
        _check_aes_key(key)
        self._device = device
        self._ses = device.create_session(cipher=CRYPTO_AES_CBC, key=key)

    def encrypt(self, iv: bytes, data: bytes) -> bytes:
        return self._device.cipher(self._ses, decrypt=False, iv=iv, data=data)

    def decrypt(self, iv: bytes, data: bytes) -> bytes:
        return self._device.cipher(self._ses, decrypt=True, iv=iv, data=data)

    def close(self) -> None:
        self._device.free_session(self._ses)


class _CryptodevMac:
    __slots__ = ("_device", "_ses")

    def __init__(self, device: CryptodevDevice, key: bytes) -> None:
        _check_mac_key(key)
        self._device = device
        self._ses = device.create_session(mac=CRYPTO_SHA2_256_HMAC, mac_key=key)

    def mac(self, data: bytes) -> bytes:
        return self._device.digest(self._ses, data, _SHA256_LEN)

    def close(self) -> None:
        self._device.free_session(self._ses)


class _CryptodevSeal:
    """Encrypt-then-MAC in one device request per record, on one AES-CBC + HMAC-SHA256 session."""

    __slots__ = ("_device", "_ses")

    def __init__(self, device: CryptodevDevice, key: bytes, mac_key: bytes) -> None:
        _check_aes_key(key)
        _check_mac_key(mac_key)
        self._device = device
        self._ses = device.create_session(cipher=CRYPTO_AES_CBC, key=key, mac=CRYPTO_SHA2_256_HMAC,
                                          mac_key=mac_key)

    def seal(self, prefix: bytes, iv: bytes, data: bytes) -> bytes:
        return self._device.seal_etm(self._ses, prefix, iv, data)

    def open(self, prefix: bytes, iv: bytes, ciphertext: bytes, tag: bytes) -> bytes | None:
        return self._device.open_etm(self._ses, prefix, iv, ciphertext, tag)

    def close(self) -> None:
        self._device.free_session(self._ses)


class CryptodevEngine(Engine):
    """AES-CBC and HMAC-SHA256 on a cryptodev device (``/dev/cryptodevN`` in a guest, ``/dev/crypto``)."""

    name = "cryptodev"
    one_request_records: bool

    def __init__(self, path: str) -> None:
        self.path = path
        self._device = CryptodevDevice(path)
        try:
            self._driver = self._probe_driver()
        except BaseException:
            self._device.close()
            raise

    def _probe_driver(self) -> str:
        """Who does the work, from a throwaway session: it also proves both algorithms are there, and
        whether the device seals a record in one request (our ETM flag; cryptodev-linux says EINVAL)."""
        ses = self._device.create_session(
            cipher=CRYPTO_AES_CBC, key=bytes(32), mac=CRYPTO_SHA2_256_HMAC, mac_key=bytes(32)
        )
        try:
            try:
                self._device.seal_etm(ses, b"", bytes(AES_BLOCK), bytes(AES_BLOCK))
                self.one_request_records = True
            except CryptodevError as exc:
                if exc.errno != errno.EINVAL:
                    raise
                self.one_request_records = False
            return self._device.session_info(ses).cipher_driver
        finally:
            self._device.free_session(ses)

    def describe(self) -> str:
        records = "one request per record" if self.one_request_records else "two requests per record"
        return f"cryptodev {self.path} ({self._driver}, {records})"

    def cipher_supported(self, algorithm: str, key_size: int) -> bool:
        return algorithm == "aes-cbc" and key_size in _AES_KEY_SIZES

    def mac_supported(self, algorithm: str) -> bool:
        return algorithm == "hmac-sha256"

    def aes_cbc(self, key: bytes) -> CipherSession:
        return _CryptodevCipher(self._device, key)

    def hmac_sha256(self, key: bytes) -> MacSession:
        return _CryptodevMac(self._device, key)

    def aes_cbc_hmac_sha256(self, key: bytes, mac_key: bytes) -> SealSession:
        if not self.one_request_records:
            return super().aes_cbc_hmac_sha256(key, mac_key)
        return _CryptodevSeal(self._device, key, mac_key)

    def close(self) -> None:
        self._device.close()
