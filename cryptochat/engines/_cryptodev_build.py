"""cffi build of the cryptodev binding, in out-of-line API mode against the
project's ABI headers (virtio/include/crypto/cryptodev.h, and
virtio_cryptodev.h for our CIOCAUTHCRYPT extension), so the C compiler
checks every struct layout and constant we use.

Small C wrappers fill the ioctl structs and return 0 or -errno: one C call
per operation, the GIL released around it, no struct juggling in Python.
"""

from __future__ import annotations

from pathlib import Path

from cffi import FFI

INCLUDE = Path(__file__).resolve().parents[2] / "virtio" / "include"

CDEF = """
#define CRYPTO_AES_CBC ...
#define CRYPTO_SHA1_HMAC ...
#define CRYPTO_SHA2_256_HMAC ...
#define CRYPTO_SHA2_256 ...
#define COP_ENCRYPT ...
#define COP_DECRYPT ...
#define VIRTIO_CRYPTODEV_COP_FLAG_AEAD_ETM_TYPE ...
#define CRYPTODEV_MAX_ALG_NAME ...

struct alg_info {
    char cra_name[...];
    char cra_driver_name[...];
};

struct session_info_op {
    uint32_t ses;
    struct alg_info cipher_info;
    struct alg_info hash_info;
    uint16_t alignmask;
    uint32_t flags;
    ...;
};

int cc_new_session(int fd, uint32_t cipher, const uint8_t *key, uint32_t keylen,
                   uint32_t mac, const uint8_t *mackey, uint32_t mackeylen, uint32_t *ses);
int cc_free_session(int fd, uint32_t ses);
int cc_session_info(int fd, struct session_info_op *info);
int cc_crypt(int fd, uint32_t ses, uint16_t op, const uint8_t *src, uint8_t *dst,
             uint32_t len, uint8_t *iv, uint8_t *mac);
int cc_auth_crypt(int fd, uint32_t ses, uint16_t op, uint16_t flags, uint8_t *auth,
                  uint32_t auth_len, uint32_t data_off, uint32_t len, uint8_t *tag,
                  uint32_t tag_len, uint8_t *iv);
"""

SOURCE = """
#include <errno.h>
#include <string.h>
#include <sys/ioctl.h>
#include <crypto/cryptodev.h>
#include <virtio_cryptodev.h>

static int cc_ioctl(int fd, unsigned long request, void *arg)
{
    return ioctl(fd, request, arg) < 0 ? -errno : 0;
}

static int cc_new_session(int fd, uint32_t cipher, const uint8_t *key, uint32_t keylen,
                          uint32_t mac, const uint8_t *mackey, uint32_t mackeylen, uint32_t *ses)
{
    struct session_op sop;
    int err;

    memset(&sop, 0, sizeof(sop));
    sop.cipher = cipher;
    sop.key = (__u8 *)key;
    sop.keylen = keylen;
    sop.mac = mac;
    sop.mackey = (__u8 *)mackey;
    sop.mackeylen = mackeylen;
    err = cc_ioctl(fd, CIOCGSESSION, &sop);
    *ses = sop.ses;
    return err;
}

static int cc_free_session(int fd, uint32_t ses)
{
    return cc_ioctl(fd, CIOCFSESSION, &ses);
}

static int cc_session_info(int fd, struct session_info_op *info)
{
    return cc_ioctl(fd, CIOCGSESSINFO, info);
}

static int cc_crypt(int fd, uint32_t ses, uint16_t op, const uint8_t *src, uint8_t *dst,
                    uint32_t len, uint8_t *iv, uint8_t *mac)
{
    struct crypt_op cop;

    memset(&cop, 0, sizeof(cop));
    cop.ses = ses;
    cop.op = op;
    cop.len = len;
    cop.src = (__u8 *)src;
    cop.dst = dst;
    cop.iv = iv;
    cop.mac = mac;
    return cc_ioctl(fd, CIOCCRYPT, &cop);
}

/* The SRTP layout: len bytes at auth + data_off, in place, inside auth_len. */
static int cc_auth_crypt(int fd, uint32_t ses, uint16_t op, uint16_t flags, uint8_t *auth,
                         uint32_t auth_len, uint32_t data_off, uint32_t len, uint8_t *tag,
                         uint32_t tag_len, uint8_t *iv)
{
    struct crypt_auth_op cao;

    memset(&cao, 0, sizeof(cao));
    cao.ses = ses;
    cao.op = op;
    cao.flags = flags;
    cao.len = len;
    cao.auth_src = auth;
    cao.auth_len = auth_len;
    cao.src = auth + data_off;
    cao.dst = auth + data_off;
    cao.tag = tag;
    cao.tag_len = tag_len;
    cao.iv = iv;
    return cc_ioctl(fd, CIOCAUTHCRYPT, &cao);
}
"""

ffi = FFI()
ffi.cdef(CDEF)
ffi.set_source("cryptochat.engines._cryptodev", SOURCE, include_dirs=[str(INCLUDE)])

if __name__ == "__main__":
    ffi.compile(verbose=True)
