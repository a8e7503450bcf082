"""Published test vectors shared by the host-side qtest tests and the guest checks."""

from __future__ import annotations

__all__ = ["CBC_AES256", "HMAC_SHA256_CASE2"]

# NIST SP 800-38A, F.2.5 CBC-AES256.Encrypt (F.2.6 is the same vector decrypted).
CBC_AES256 = {
    "key": bytes.fromhex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4"),
    "iv": bytes.fromhex("000102030405060708090a0b0c0d0e0f"),
    "plaintext": bytes.fromhex(
        "6bc1bee22e409f96e93d7e117393172a" "ae2d8a571e03ac9c9eb76fac45af8e51"
        "30c81c46a35ce411e5fbc1191a0a52ef" "f69f2445df4f9b17ad2b417be66c3710"
    ),
    "ciphertext": bytes.fromhex(
        "f58c4c04d6e5f1ba779eabfb5f7bfbd6" "9cfc4e967edb808d679f777bc6702c7d"
        "39f23369a9d9bacfa530e26304231461" "b2eb05e2c39be9fcda6c19078c6a9d1b"
    ),
}

# RFC 4231, test case 2: HMAC-SHA-256.
HMAC_SHA256_CASE2 = {
    "key": b"Jefe",
    "data": b"what do ya want for nothing?",
    "mac": bytes.fromhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"),
}
