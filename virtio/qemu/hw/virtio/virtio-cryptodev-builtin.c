/*
 * virtio-cryptodev builtin backend: QEMU's own crypto layer (qcrypto_*),
 * available on every host. QEMU's cryptodev-builtin backend cannot do HMAC,
 * so this one calls qcrypto_hmac_* directly.
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or
 * (at your option) any later version.  See the COPYING file in the
 * top-level directory.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "crypto/cipher.h"
#include "crypto/hmac.h"
#include "crypto/hash.h"
#include "hw/virtio/virtio-cryptodev.h"
#include "trace.h"

typedef struct BuiltinSession {
    QCryptoCipher *cipher;   /* NULL for none, and for CRYPTO_NULL */
    QCryptoHmac *hmac;       /* NULL for a plain hash */
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

static void builtin_destroy_session(VirtIOCryptodev *s, void *backend_session)
{
    BuiltinSession *session = backend_session;

    qcrypto_cipher_free(session->cipher);
    qcrypto_hmac_free(session->hmac);
    g_free(session);
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
    if (p->mac && p->mac->kind == VIRTIO_CRYPTODEV_ALG_HMAC) {
        session->hmac = qcrypto_hmac_new(p->mac->hash, p->mac_key,
                                         p->mac_key_len, &err);
        if (!session->hmac) {
            goto fail;
        }
    } else if (p->mac && !qcrypto_hash_supports(p->mac->hash)) {
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

static int builtin_digest(VirtIOCryptodevSession *session, BuiltinSession *b,
                          const uint8_t *data, size_t len, uint8_t *digest,
                          Error **errp)
{
    size_t digest_len = session->mac->digest_len;

    if (b->hmac) {
        return qcrypto_hmac_bytes(b->hmac, (const char *)data, len,
                                  &digest, &digest_len, errp);
    }
    return qcrypto_hash_bytes(session->mac->hash, (const char *)data, len,
                              &digest, &digest_len, errp);
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
                              uint32_t op, const uint8_t *iv, const uint8_t *src,
                              uint8_t *dst, size_t len, uint8_t *digest)
{
    BuiltinSession *b = session->backend_session;
    Error *err = NULL;
    int ret = 0;

    /* With a cipher and a MAC, the MAC covers the plaintext. */
    if (digest && (!session->cipher || op == VIRTIO_CRYPTODEV_ENCRYPT)) {
        ret = builtin_digest(session, b, src, len, digest, &err);
    }
    if (!ret && session->cipher) {
        ret = builtin_cipher(session->cipher, b, op, iv, src, dst, len, &err);
    }
    if (!ret && digest && session->cipher && op == VIRTIO_CRYPTODEV_DECRYPT) {
        ret = builtin_digest(session, b, dst, len, digest, &err);
    }
    if (ret) {
        trace_virtio_cryptodev_backend_error(s, error_get_pretty(err));
        error_free(err);
        return VIRTIO_CRYPTODEV_S_BACKEND;
    }
    return VIRTIO_CRYPTODEV_S_OK;
}

const VirtIOCryptodevBackend virtio_cryptodev_builtin_backend = {
    .name = "builtin",
    .open = builtin_open,
    .close = builtin_close,
    .create_session = builtin_create_session,
    .destroy_session = builtin_destroy_session,
    .crypt = builtin_crypt,
};
