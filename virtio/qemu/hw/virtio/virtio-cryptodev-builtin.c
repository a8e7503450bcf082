/*
 * virtio-cryptodev builtin backend: libgcrypt, on every host. Not QEMU's
 * crypto layer: the device keeps a running state per session (multi-part
 * hashing, and copying a state), which QEMU 7.2's qcrypto_hash/hmac cannot
 * (they hash whole buffers); qcrypto has no GCM; and which modes qcrypto
 * offers depends on the library QEMU was configured with (on GnuTLS, as
 * QEMU 10.2 prefers, no CTR and no AES-192 XTS).
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or
 * (at your option) any later version.  See the COPYING file in the
 * top-level directory.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include <gcrypt.h>
#include "hw/virtio/virtio-cryptodev.h"
#include "trace.h"

/* The largest block of a hash we offer (SHA-384 and SHA-512). */
#define BUILTIN_MAX_BLOCK 128

typedef struct BuiltinSession {
    gcry_cipher_hd_t cipher; /* NULL for none and CRYPTO_NULL */
    gcry_md_hd_t md;         /* NULL for no hash or HMAC */
    int md_algo;
    /* libgcrypt refuses input after a digest is read: start over first. */
    bool md_read;
    /*
     * HMAC is done here over plain hashes, as the kernel's hmac template
     * does it, so that copying a state (CIOCCPHASH) copies the inner hash
     * alone and the destination finishes with its own key: @md is the inner
     * hash, @outer a scratch handle, the pads the session's key.
     */
    gcry_md_hd_t outer;
    size_t pad_len;          /* the hash's block size; 0 for a plain hash */
    uint8_t ipad[BUILTIN_MAX_BLOCK];
    uint8_t opad[BUILTIN_MAX_BLOCK];
} BuiltinSession;

static bool builtin_open(VirtIOCryptodev *s, Error **errp)
{
    return true;
}

static void builtin_close(VirtIOCryptodev *s)
{
}

/* @key_len: of one AES key (XTS takes two). */
static int builtin_aes(size_t key_len)
{
    switch (key_len) {
    case 16:
        return GCRY_CIPHER_AES128;
    case 24:
        return GCRY_CIPHER_AES192;
    default:
        return GCRY_CIPHER_AES256;
    }
}

static int builtin_mode(int mode)
{
    switch (mode) {
    case QCRYPTO_CIPHER_MODE_ECB:
        return GCRY_CIPHER_MODE_ECB;
    case QCRYPTO_CIPHER_MODE_CBC:
        return GCRY_CIPHER_MODE_CBC;
    case QCRYPTO_CIPHER_MODE_CTR:
        return GCRY_CIPHER_MODE_CTR;
    case QCRYPTO_CIPHER_MODE_XTS:
        return GCRY_CIPHER_MODE_XTS;
    case VIRTIO_CRYPTODEV_MODE_GCM:
        return GCRY_CIPHER_MODE_GCM;
    default:
        return GCRY_CIPHER_MODE_NONE;
    }
}

static int builtin_md_algo(QCryptoHashAlgo hash)
{
    switch (hash) {
    case QCRYPTO_HASH_ALGO_MD5:
        return GCRY_MD_MD5;
    case QCRYPTO_HASH_ALGO_SHA1:
        return GCRY_MD_SHA1;
    case QCRYPTO_HASH_ALGO_SHA224:
        return GCRY_MD_SHA224;
    case QCRYPTO_HASH_ALGO_SHA256:
        return GCRY_MD_SHA256;
    case QCRYPTO_HASH_ALGO_SHA384:
        return GCRY_MD_SHA384;
    case QCRYPTO_HASH_ALGO_SHA512:
        return GCRY_MD_SHA512;
    default:
        return GCRY_MD_NONE;
    }
}

static void builtin_destroy_session(VirtIOCryptodev *s, void *backend_session)
{
    BuiltinSession *session = backend_session;

    gcry_cipher_close(session->cipher);
    gcry_md_close(session->md);
    gcry_md_close(session->outer);
    explicit_bzero(session, sizeof(*session));
    g_free(session);
}

/* The running state starts over: empty, or for HMAC the key's inner pad. */
static void builtin_md_restart(BuiltinSession *b)
{
    gcry_md_reset(b->md);
    gcry_md_write(b->md, b->ipad, b->pad_len);
    b->md_read = false;
}

/* The digest of what was written since the restart, into @digest. */
static void builtin_md_final(VirtIOCryptodevSession *session, BuiltinSession *b,
                             uint8_t *digest)
{
    const uint8_t *inner = gcry_md_read(b->md, b->md_algo);

    b->md_read = true;
    if (b->pad_len) {
        gcry_md_reset(b->outer);
        gcry_md_write(b->outer, b->opad, b->pad_len);
        gcry_md_write(b->outer, inner, session->mac->digest_len);
        inner = gcry_md_read(b->outer, b->md_algo);
    }
    memcpy(digest, inner, session->mac->digest_len);
}

/* RFC 2104's pads from the key: a key longer than a block is hashed first. */
static bool builtin_hmac_key(const VirtIOCryptodevSessionParams *p,
                             BuiltinSession *session)
{
    uint8_t key[BUILTIN_MAX_BLOCK] = { 0 };
    size_t i;

    /* SHA-384 and SHA-512 work on 128-byte blocks, the others on 64. */
    session->pad_len = session->md_algo == GCRY_MD_SHA384 ||
                       session->md_algo == GCRY_MD_SHA512 ? 128 : 64;
    if (gcry_md_open(&session->outer, session->md_algo, 0)) {
        session->outer = NULL;
        return false;
    }
    if (p->mac_key_len > session->pad_len) {
        gcry_md_hash_buffer(session->md_algo, key, p->mac_key, p->mac_key_len);
    } else {
        memcpy(key, p->mac_key, p->mac_key_len);
    }
    for (i = 0; i < session->pad_len; i++) {
        session->ipad[i] = key[i] ^ 0x36;
        session->opad[i] = key[i] ^ 0x5c;
    }
    explicit_bzero(key, sizeof(key));
    return true;
}

static bool builtin_open_md(const VirtIOCryptodevSessionParams *p,
                            BuiltinSession *session)
{
    session->md_algo = builtin_md_algo(p->mac->hash);
    if (session->md_algo == GCRY_MD_NONE ||
        gcry_md_open(&session->md, session->md_algo, 0)) {
        session->md = NULL;
        return false;
    }
    if (p->mac->kind == VIRTIO_CRYPTODEV_ALG_HMAC &&
        !builtin_hmac_key(p, session)) {
        return false;
    }
    builtin_md_restart(session);
    return true;
}

static bool builtin_open_cipher(const VirtIOCryptodevSessionParams *p,
                                BuiltinSession *session)
{
    int mode = builtin_mode(p->cipher->mode);
    size_t aes_key_len = mode == GCRY_CIPHER_MODE_XTS ? p->key_len / 2 :
                                                        p->key_len;

    if (mode == GCRY_CIPHER_MODE_NONE ||
        gcry_cipher_open(&session->cipher, builtin_aes(aes_key_len), mode, 0)) {
        session->cipher = NULL;
        return false;
    }
    return !gcry_cipher_setkey(session->cipher, p->key, p->key_len);
}

static uint32_t builtin_create_session(VirtIOCryptodev *s,
                                       const VirtIOCryptodevSessionParams *p,
                                       void **backend_session)
{
    BuiltinSession *session = g_new0(BuiltinSession, 1);

    if (p->cipher && p->cipher->mode != VIRTIO_CRYPTODEV_MODE_NULL &&
        !builtin_open_cipher(p, session)) {
        trace_virtio_cryptodev_backend_error(s, "gcry_cipher_open/setkey");
        builtin_destroy_session(s, session);
        return VIRTIO_CRYPTODEV_S_NOTSUPP;
    }
    if (p->mac && !builtin_open_md(p, session)) {
        trace_virtio_cryptodev_backend_error(s, "gcry_md_open/setkey");
        builtin_destroy_session(s, session);
        return VIRTIO_CRYPTODEV_S_NOTSUPP;
    }
    *backend_session = session;
    return VIRTIO_CRYPTODEV_S_OK;
}

/* Adds @data to the running state; with @digest, writes it and starts over. */
static void builtin_digest(VirtIOCryptodevSession *session, BuiltinSession *b,
                           uint32_t flags, const uint8_t *data, size_t len,
                           uint8_t *digest)
{
    if (!flags || (flags & VIRTIO_CRYPTODEV_F_RESET) || b->md_read) {
        builtin_md_restart(b);
    }
    gcry_md_write(b->md, data, len);
    if (digest) {
        builtin_md_final(session, b, digest);
    }
}

/* One request: CTR counts from @iv, the other modes start from it. */
static int builtin_cipher(const VirtIOCryptodevAlg *alg, BuiltinSession *b,
                          uint32_t op, const uint8_t *iv, const uint8_t *src,
                          uint8_t *dst, size_t len)
{
    /* libgcrypt works in place when given no input buffer. */
    const uint8_t *in = src == dst ? NULL : src;
    size_t in_len = in ? len : 0;
    gcry_error_t err = 0;

    if (alg->mode == VIRTIO_CRYPTODEV_MODE_NULL) {
        memmove(dst, src, len);
        return 0;
    }
    if (alg->mode == QCRYPTO_CIPHER_MODE_CTR) {
        err = gcry_cipher_setctr(b->cipher, iv, alg->iv_len);
    } else if (alg->iv_len) {
        err = gcry_cipher_setiv(b->cipher, iv, alg->iv_len);
    }
    if (!err) {
        err = op == VIRTIO_CRYPTODEV_ENCRYPT ?
              gcry_cipher_encrypt(b->cipher, dst, len, in, in_len) :
              gcry_cipher_decrypt(b->cipher, dst, len, in, in_len);
    }
    return err ? -1 : 0;
}

static uint32_t builtin_crypt(VirtIOCryptodev *s, VirtIOCryptodevSession *session,
                              uint32_t op, uint32_t flags, const uint8_t *iv,
                              const uint8_t *src, uint8_t *dst, size_t len,
                              uint8_t *digest)
{
    BuiltinSession *b = session->backend_session;
    int ret = 0;

    /* With a cipher and a MAC, the MAC covers the plaintext. */
    if (b->md && (!session->cipher || op == VIRTIO_CRYPTODEV_ENCRYPT)) {
        builtin_digest(session, b, flags, src, len, digest);
    }
    if (session->cipher) {
        ret = builtin_cipher(session->cipher, b, op, iv, src, dst, len);
    }
    if (!ret && b->md && session->cipher && op == VIRTIO_CRYPTODEV_DECRYPT) {
        builtin_digest(session, b, flags, dst, len, digest);
    }
    if (ret) {
        trace_virtio_cryptodev_backend_error(s, "gcry_cipher");
        return VIRTIO_CRYPTODEV_S_BACKEND;
    }
    return VIRTIO_CRYPTODEV_S_OK;
}

/* Compares in constant time: a tag check must not say where it differs. */
static bool builtin_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
    uint8_t diff = 0;
    size_t i;

    for (i = 0; i < len; i++) {
        diff |= a[i] ^ b[i];
    }
    return !diff;
}

/* The MAC of A[0, data_off), @data, A[data_off, auth_len), into @digest. */
static void builtin_auth_mac(VirtIOCryptodevSession *session, BuiltinSession *b,
                             const VirtIOCryptodevAuthOp *a,
                             const uint8_t *data, size_t len, uint8_t *digest)
{
    builtin_md_restart(b);
    gcry_md_write(b->md, a->auth, a->data_off);
    gcry_md_write(b->md, data, len);
    gcry_md_write(b->md, a->auth + a->data_off, a->auth_len - a->data_off);
    builtin_md_final(session, b, digest);
}

static uint32_t builtin_gcm(BuiltinSession *b, VirtIOCryptodevAuthOp *a)
{
    gcry_error_t err;

    err = gcry_cipher_reset(b->cipher);
    if (!err) {
        err = gcry_cipher_setiv(b->cipher, a->iv, VIRTIO_CRYPTODEV_GCM_IV_LEN);
    }
    if (!err) {
        err = gcry_cipher_authenticate(b->cipher, a->auth, a->auth_len);
    }
    if (!err && a->op == VIRTIO_CRYPTODEV_ENCRYPT) {
        err = gcry_cipher_encrypt(b->cipher, a->out, a->len, a->src, a->len);
        if (!err) {
            err = gcry_cipher_gettag(b->cipher, a->out + a->len, a->tag_len);
        }
        a->result_len = a->len + a->tag_len;
    } else if (!err) {
        err = gcry_cipher_decrypt(b->cipher, a->out, a->len, a->src, a->len);
        if (!err) {
            err = gcry_cipher_checktag(b->cipher, a->tag, a->tag_len);
            if (gcry_err_code(err) == GPG_ERR_CHECKSUM) {
                return VIRTIO_CRYPTODEV_S_BADMSG;
            }
        }
        a->result_len = a->len;
    }
    return err ? VIRTIO_CRYPTODEV_S_BACKEND : VIRTIO_CRYPTODEV_S_OK;
}

/*
 * Whether the last @n bytes of @out end in TLS padding (pad + 1 bytes, each
 * equal to pad), read in the same time whatever it holds: every byte a
 * padding can cover is looked at.
 */
static bool builtin_tls_pad_ok(const uint8_t *out, size_t n)
{
    size_t pad = out[n - 1], reach = MIN(n - 1, (size_t)UINT8_MAX), i;
    uint8_t diff = 0;

    for (i = 0; i < reach; i++) {
        /* All ones where byte n - 2 - i is padding, else zero. */
        uint8_t in_pad = (uint8_t)(((i - pad) >> (sizeof(size_t) * 8 - 1)) & 1) * 0xff;

        diff |= in_pad & (out[n - 2 - i] ^ (uint8_t)pad);
    }
    return pad + 1 <= n && !diff;
}

/*
 * TLS's MAC-then-encrypt, as cryptodev-linux does it. Decrypting, a bad
 * padding still has the MAC computed (over the record as if it had no
 * padding), so both failures look alike.
 */
static uint32_t builtin_tls(VirtIOCryptodevSession *session, BuiltinSession *b,
                            VirtIOCryptodevAuthOp *a)
{
    const VirtIOCryptodevAlg *alg = session->cipher;
    uint8_t digest[VIRTIO_CRYPTODEV_MAX_DIGEST_LEN];
    size_t n = a->len, pad;
    bool bad = false;

    if (a->op == VIRTIO_CRYPTODEV_ENCRYPT) {
        memcpy(a->out, a->src, n);
        if (b->md) {
            builtin_auth_mac(session, b, a, a->src, n, digest);
            memcpy(a->out + n, digest, a->tag_len);
            n += a->tag_len;
        }
        if (alg->block_len > 1) {
            pad = alg->block_len - n % alg->block_len;
            memset(a->out + n, pad - 1, pad);
            n += pad;
        }
        a->result_len = n;
        return builtin_cipher(alg, b, VIRTIO_CRYPTODEV_ENCRYPT, a->iv, a->out,
                              a->out, n) ?
               VIRTIO_CRYPTODEV_S_BACKEND : VIRTIO_CRYPTODEV_S_OK;
    }

    if (builtin_cipher(alg, b, VIRTIO_CRYPTODEV_DECRYPT, a->iv, a->src,
                       a->out, n)) {
        return VIRTIO_CRYPTODEV_S_BACKEND;
    }
    if (alg->block_len > 1) {
        bad = !builtin_tls_pad_ok(a->out, n);
        n -= bad ? 0 : a->out[n - 1] + 1;
    }
    if (b->md) {
        if (a->tag_len > n) {
            return VIRTIO_CRYPTODEV_S_BADMSG;
        }
        n -= a->tag_len;
        builtin_auth_mac(session, b, a, a->out, n, digest);
        bad |= !builtin_equal(digest, a->out + n, a->tag_len);
    }
    a->result_len = n;
    return bad ? VIRTIO_CRYPTODEV_S_BADMSG : VIRTIO_CRYPTODEV_S_OK;
}

/* SRTP and ETM: encrypt-then-MAC; decrypting, nothing before the tag checks. */
static uint32_t builtin_etm(VirtIOCryptodevSession *session, BuiltinSession *b,
                            VirtIOCryptodevAuthOp *a)
{
    uint8_t digest[VIRTIO_CRYPTODEV_MAX_DIGEST_LEN];

    a->result_len = a->len;
    if (a->op == VIRTIO_CRYPTODEV_ENCRYPT) {
        if (builtin_cipher(session->cipher, b, a->op, a->iv, a->src, a->out,
                           a->len)) {
            return VIRTIO_CRYPTODEV_S_BACKEND;
        }
        if (b->md) {
            builtin_auth_mac(session, b, a, a->out, a->len, digest);
            memcpy(a->out + a->len, digest, a->tag_len);
        }
        return VIRTIO_CRYPTODEV_S_OK;
    }
    if (b->md) {
        builtin_auth_mac(session, b, a, a->src, a->len, digest);
        if (!builtin_equal(digest, a->tag, a->tag_len)) {
            return VIRTIO_CRYPTODEV_S_BADMSG;
        }
    }
    return builtin_cipher(session->cipher, b, a->op, a->iv, a->src, a->out,
                          a->len) ?
           VIRTIO_CRYPTODEV_S_BACKEND : VIRTIO_CRYPTODEV_S_OK;
}

static uint32_t builtin_auth_crypt(VirtIOCryptodev *s,
                                   VirtIOCryptodevSession *session,
                                   VirtIOCryptodevAuthOp *a)
{
    BuiltinSession *b = session->backend_session;
    uint32_t status;

    switch (a->mode) {
    case VIRTIO_CRYPTODEV_AUTH_AEAD:
        status = builtin_gcm(b, a);
        break;
    case VIRTIO_CRYPTODEV_AUTH_TLS:
        status = builtin_tls(session, b, a);
        break;
    default:
        status = builtin_etm(session, b, a);
        break;
    }
    if (status == VIRTIO_CRYPTODEV_S_BACKEND) {
        trace_virtio_cryptodev_backend_error(s, "gcry_cipher");
    }
    return status;
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
    /* The inner state only: @dst finishes with its own key, as in Linux. */
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
    .auth_crypt = builtin_auth_crypt,
    .copy_hash = builtin_copy_hash,
};
