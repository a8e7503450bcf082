/*
 * virtio-cryptodev builtin backend: the crypto QEMU is built with, on every
 * host. Ciphers go through QEMU's crypto layer (qcrypto_cipher_*). Hashes and
 * HMACs go to libgcrypt, which QEMU links already (--enable-gcrypt), because
 * the device keeps a running state per session (multi-part hashing, and
 * copying a state) and QEMU 7.2's qcrypto_hash/hmac only hash whole buffers.
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or
 * (at your option) any later version.  See the COPYING file in the
 * top-level directory.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include <gcrypt.h>
#include "crypto/cipher.h"
#include "hw/virtio/virtio-cryptodev.h"
#include "trace.h"

typedef struct BuiltinSession {
    QCryptoCipher *cipher;   /* NULL for none, and for CRYPTO_NULL */
    gcry_md_hd_t md;         /* NULL for no hash or HMAC */
    int md_algo;
    /* libgcrypt refuses input after a digest is read: start over first. */
    bool md_read;
} BuiltinSession;

static bool builtin_open(VirtIOCryptodev *s, Error **errp)
{
    return true;
}

static void builtin_close(VirtIOCryptodev *s)
{
}

/* @key_len: of one AES key (XTS takes two). */
static QCryptoCipherAlgorithm builtin_aes(size_t key_len)
{
    switch (key_len) {
    case 16:
        return QCRYPTO_CIPHER_ALG_AES_128;
    case 24:
        return QCRYPTO_CIPHER_ALG_AES_192;
    default:
        return QCRYPTO_CIPHER_ALG_AES_256;
    }
}

static int builtin_md_algo(QCryptoHashAlgorithm hash)
{
    switch (hash) {
    case QCRYPTO_HASH_ALG_MD5:
        return GCRY_MD_MD5;
    case QCRYPTO_HASH_ALG_SHA1:
        return GCRY_MD_SHA1;
    case QCRYPTO_HASH_ALG_SHA224:
        return GCRY_MD_SHA224;
    case QCRYPTO_HASH_ALG_SHA256:
        return GCRY_MD_SHA256;
    case QCRYPTO_HASH_ALG_SHA384:
        return GCRY_MD_SHA384;
    case QCRYPTO_HASH_ALG_SHA512:
        return GCRY_MD_SHA512;
    default:
        return GCRY_MD_NONE;
    }
}

static void builtin_destroy_session(VirtIOCryptodev *s, void *backend_session)
{
    BuiltinSession *session = backend_session;

    qcrypto_cipher_free(session->cipher);
    gcry_md_close(session->md);
    g_free(session);
}

static bool builtin_open_md(const VirtIOCryptodevSessionParams *p,
                            BuiltinSession *session)
{
    bool keyed = p->mac->kind == VIRTIO_CRYPTODEV_ALG_HMAC;

    session->md_algo = builtin_md_algo(p->mac->hash);
    if (session->md_algo == GCRY_MD_NONE ||
        gcry_md_open(&session->md, session->md_algo,
                     keyed ? GCRY_MD_FLAG_HMAC : 0)) {
        session->md = NULL;
        return false;
    }
    return !keyed || !gcry_md_setkey(session->md, p->mac_key, p->mac_key_len);
}

static uint32_t builtin_create_session(VirtIOCryptodev *s,
                                       const VirtIOCryptodevSessionParams *p,
                                       void **backend_session)
{
    BuiltinSession *session = g_new0(BuiltinSession, 1);
    Error *err = NULL;

    if (p->cipher && p->cipher->mode != VIRTIO_CRYPTODEV_MODE_NULL) {
        size_t aes_key_len = p->cipher->mode == QCRYPTO_CIPHER_MODE_XTS ?
                             p->key_len / 2 : p->key_len;

        session->cipher = qcrypto_cipher_new(builtin_aes(aes_key_len),
                                             p->cipher->mode,
                                             p->key, p->key_len, &err);
        if (!session->cipher) {
            goto fail;
        }
    }
    if (p->mac && !builtin_open_md(p, session)) {
        trace_virtio_cryptodev_backend_error(s, "gcry_md_open/setkey");
        builtin_destroy_session(s, session);
        return VIRTIO_CRYPTODEV_S_NOTSUPP;
    }
    *backend_session = session;
    return VIRTIO_CRYPTODEV_S_OK;

fail:
    trace_virtio_cryptodev_backend_error(s, error_get_pretty(err));
    error_free(err);
    builtin_destroy_session(s, session);
    return VIRTIO_CRYPTODEV_S_NOTSUPP;
}

/* Adds @data to the running state; with @digest, writes it and starts over. */
static void builtin_digest(VirtIOCryptodevSession *session, BuiltinSession *b,
                           uint32_t flags, const uint8_t *data, size_t len,
                           uint8_t *digest)
{
    if (!flags || (flags & VIRTIO_CRYPTODEV_F_RESET) || b->md_read) {
        gcry_md_reset(b->md);
        b->md_read = false;
    }
    gcry_md_write(b->md, data, len);
    if (digest) {
        memcpy(digest, gcry_md_read(b->md, b->md_algo),
               session->mac->digest_len);
        b->md_read = true;
    }
}

/*
 * QEMU's CTR takes whole blocks only; CTR is a keystream XORed in, so a
 * tail is done as a zero-padded block whose extra bytes are dropped.
 */
static int builtin_ctr_tail(QCryptoCipher *cipher, const uint8_t *src,
                            uint8_t *dst, size_t len, Error **errp)
{
    size_t whole = QEMU_ALIGN_DOWN(len, VIRTIO_CRYPTODEV_BLOCK_LEN);
    uint8_t block[VIRTIO_CRYPTODEV_BLOCK_LEN] = { 0 };
    int ret = 0;

    if (whole) {
        ret = qcrypto_cipher_encrypt(cipher, src, dst, whole, errp);
    }
    if (!ret && len > whole) {
        memcpy(block, src + whole, len - whole);
        ret = qcrypto_cipher_encrypt(cipher, block, block, sizeof(block), errp);
        memcpy(dst + whole, block, len - whole);
        explicit_bzero(block, sizeof(block));
    }
    return ret;
}

static int builtin_cipher(const VirtIOCryptodevAlg *alg, BuiltinSession *b,
                          uint32_t op, const uint8_t *iv, const uint8_t *src,
                          uint8_t *dst, size_t len, Error **errp)
{
    int ret;

    if (alg->mode == VIRTIO_CRYPTODEV_MODE_NULL) {
        memcpy(dst, src, len);
        return 0;
    }
    if (alg->iv_len) {
        ret = qcrypto_cipher_setiv(b->cipher, iv, alg->iv_len, errp);
        if (ret) {
            return ret;
        }
    }
    if (alg->mode == QCRYPTO_CIPHER_MODE_CTR) {
        return builtin_ctr_tail(b->cipher, src, dst, len, errp);
    }
    return op == VIRTIO_CRYPTODEV_ENCRYPT ?
        qcrypto_cipher_encrypt(b->cipher, src, dst, len, errp) :
        qcrypto_cipher_decrypt(b->cipher, src, dst, len, errp);
}

static uint32_t builtin_crypt(VirtIOCryptodev *s, VirtIOCryptodevSession *session,
                              uint32_t op, uint32_t flags, const uint8_t *iv,
                              const uint8_t *src, uint8_t *dst, size_t len,
                              uint8_t *digest)
{
    BuiltinSession *b = session->backend_session;
    Error *err = NULL;
    int ret = 0;

    /* With a cipher and a MAC, the MAC covers the plaintext. */
    if (b->md && (!session->cipher || op == VIRTIO_CRYPTODEV_ENCRYPT)) {
        builtin_digest(session, b, flags, src, len, digest);
    }
    if (session->cipher) {
        ret = builtin_cipher(session->cipher, b, op, iv, src, dst, len, &err);
    }
    if (!ret && b->md && session->cipher && op == VIRTIO_CRYPTODEV_DECRYPT) {
        builtin_digest(session, b, flags, dst, len, digest);
    }
    if (ret) {
        trace_virtio_cryptodev_backend_error(s, error_get_pretty(err));
        error_free(err);
        return VIRTIO_CRYPTODEV_S_BACKEND;
    }
    return VIRTIO_CRYPTODEV_S_OK;
}

static uint32_t builtin_copy_hash(VirtIOCryptodev *s,
                                  VirtIOCryptodevSession *dst,
                                  VirtIOCryptodevSession *src)
{
    BuiltinSession *to = dst->backend_session, *from = src->backend_session;
    gcry_md_hd_t copy;

    if (gcry_md_copy(&copy, from->md)) {
        trace_virtio_cryptodev_backend_error(s, "gcry_md_copy");
        return VIRTIO_CRYPTODEV_S_BACKEND;
    }
    gcry_md_close(to->md);
    to->md = copy;
    to->md_read = from->md_read;
    return VIRTIO_CRYPTODEV_S_OK;
}

const VirtIOCryptodevBackend virtio_cryptodev_builtin_backend = {
    .name = "builtin",
    .open = builtin_open,
    .close = builtin_close,
    .create_session = builtin_create_session,
    .destroy_session = builtin_destroy_session,
    .crypt = builtin_crypt,
    .copy_hash = builtin_copy_hash,
};
