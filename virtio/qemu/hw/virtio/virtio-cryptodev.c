/*
 * virtio-cryptodev: performs cryptodev-linux operations for the guest.
 *
 * The guest is hostile: every chain, header field and length is checked
 * against what the guest made available and against the configured limits
 * before anything is allocated or copied; a malformed request is answered
 * with an error status, and only a chain with no room for the answer breaks
 * the device. Session ids are the device's own and are checked on every
 * request; nothing of the host (file descriptors, pointers) reaches the guest.
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or
 * (at your option) any later version.  See the COPYING file in the
 * top-level directory.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include "qemu/error-report.h"
#include "qemu/iov.h"
#include "qemu/main-loop.h"
#include "block/aio-wait.h"
#include "qemu/lockable.h"
#include "qemu/module.h"
#include "hw/qdev-properties.h"
#include "migration/vmstate.h"
#include "hw/virtio/virtio.h"
#include "hw/virtio/virtio-cryptodev.h"
#include "standard-headers/linux/virtio_config.h"
#include "cryptochat/crypto/cryptodev.h"
#include "trace.h"

/* virtio-blk's largest: a 1 MiB request zero-copy in one legal chain. */
#define VIRTIO_CRYPTODEV_QUEUE_SIZE 1024
#define VIRTIO_CRYPTODEV_DEFAULT_DATA_LEN (1024 * 1024)
#define VIRTIO_CRYPTODEV_DEFAULT_SESSIONS 1024
/* The defaults' worst case (1,024 sessions of 1 MiB requests) is 21 MB. */
#define VIRTIO_CRYPTODEV_DEFAULT_KERNEL_BUDGET (64 * 1024 * 1024)

#define CIPHER(id_, name_, mode_, iv_len_, block_len_) \
    { .id = id_, .name = name_, .kind = VIRTIO_CRYPTODEV_ALG_CIPHER, \
      .mode = mode_, .iv_len = iv_len_, .block_len = block_len_ }
#define DIGEST(id_, name_, kind_, len_, hash_) \
    { .id = id_, .name = name_, .kind = VIRTIO_CRYPTODEV_ALG_##kind_, \
      .digest_len = len_, .hash = QCRYPTO_HASH_ALGO_##hash_ }

static const VirtIOCryptodevAlg virtio_cryptodev_algs[] = {
    CIPHER(CRYPTO_AES_CBC, "cbc(aes)", QCRYPTO_CIPHER_MODE_CBC, 16, 16),
    CIPHER(CRYPTO_AES_CTR, "ctr(aes)", QCRYPTO_CIPHER_MODE_CTR, 16, 1),
    CIPHER(CRYPTO_AES_ECB, "ecb(aes)", QCRYPTO_CIPHER_MODE_ECB, 0, 16),
    CIPHER(CRYPTO_AES_XTS, "xts(aes)", QCRYPTO_CIPHER_MODE_XTS, 16, 16),
    CIPHER(CRYPTO_NULL, "ecb(cipher_null)", VIRTIO_CRYPTODEV_MODE_NULL, 0, 1),
    CIPHER(CRYPTO_AES_GCM, "gcm(aes)", VIRTIO_CRYPTODEV_MODE_GCM,
           VIRTIO_CRYPTODEV_GCM_IV_LEN, 1),
    DIGEST(CRYPTO_MD5_HMAC, "hmac(md5)", HMAC, 16, MD5),
    DIGEST(CRYPTO_SHA1_HMAC, "hmac(sha1)", HMAC, 20, SHA1),
    DIGEST(CRYPTO_SHA2_224_HMAC, "hmac(sha224)", HMAC, 28, SHA224),
    DIGEST(CRYPTO_SHA2_256_HMAC, "hmac(sha256)", HMAC, 32, SHA256),
    DIGEST(CRYPTO_SHA2_384_HMAC, "hmac(sha384)", HMAC, 48, SHA384),
    DIGEST(CRYPTO_SHA2_512_HMAC, "hmac(sha512)", HMAC, 64, SHA512),
    DIGEST(CRYPTO_MD5, "md5", HASH, 16, MD5),
    DIGEST(CRYPTO_SHA1, "sha1", HASH, 20, SHA1),
    DIGEST(CRYPTO_SHA2_224, "sha224", HASH, 28, SHA224),
    DIGEST(CRYPTO_SHA2_256, "sha256", HASH, 32, SHA256),
    DIGEST(CRYPTO_SHA2_384, "sha384", HASH, 48, SHA384),
    DIGEST(CRYPTO_SHA2_512, "sha512", HASH, 64, SHA512),
};


static const VirtIOCryptodevAlg *virtio_cryptodev_find_alg(uint32_t id)
{
    size_t i;

    for (i = 0; i < ARRAY_SIZE(virtio_cryptodev_algs); i++) {
        if (virtio_cryptodev_algs[i].id == id) {
            return &virtio_cryptodev_algs[i];
        }
    }
    return NULL;
}

/* A reference to session @id, or NULL: the session outlives its use. */
static VirtIOCryptodevSession *virtio_cryptodev_session_get(VirtIOCryptodev *s,
                                                            uint32_t id)
{
    VirtIOCryptodevSession *session;

    QEMU_LOCK_GUARD(&s->sessions_lock);
    session = g_hash_table_lookup(s->sessions, GUINT_TO_POINTER(id));
    if (session) {
        session->refs++;
    }
    return session;
}

/* The last reference frees the backend's state, then the session. */
static void virtio_cryptodev_session_put(VirtIOCryptodev *s,
                                         VirtIOCryptodevSession *session)
{
    bool last;

    WITH_QEMU_LOCK_GUARD(&s->sessions_lock) {
        last = !--session->refs;
    }
    if (last) {
        s->backend->destroy_session(s, session->backend_session);
        trace_virtio_cryptodev_session_destroy(s, session->id);
        qemu_mutex_destroy(&session->lock);
        explicit_bzero(session->keys, session->key_len + session->mac_key_len);
        g_free(session->keys);
        g_free(session);
    }
}

/* Once nothing works on the queues (reset, unrealize): the table's refs go. */
static void virtio_cryptodev_destroy_all_sessions(VirtIOCryptodev *s)
{
    GHashTableIter iter;
    gpointer value;

    g_hash_table_iter_init(&iter, s->sessions);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        g_hash_table_iter_steal(&iter);
        virtio_cryptodev_session_put(s, value);
    }
}

/*
 * The algorithms of a session to create, checked; @params' keys are the
 * caller's to set. Guest requests and the migration stream go through it.
 */
static uint32_t virtio_cryptodev_session_params(VirtIOCryptodev *s,
                                                uint32_t cipher_id,
                                                uint32_t mac_id,
                                                uint32_t key_len,
                                                uint32_t mac_key_len,
                                                VirtIOCryptodevSessionParams *params)
{
    if (!cipher_id && !mac_id) {
        trace_virtio_cryptodev_bad_request(s, "session without algorithm");
        return VIRTIO_CRYPTODEV_S_BADREQ;
    }
    if (key_len > VIRTIO_CRYPTODEV_MAX_KEY_LEN ||
        mac_key_len > VIRTIO_CRYPTODEV_MAX_KEY_LEN) {
        trace_virtio_cryptodev_bad_request(s, "key lengths");
        return VIRTIO_CRYPTODEV_S_BADREQ;
    }
    if (cipher_id) {
        params->cipher = virtio_cryptodev_find_alg(cipher_id);
        if (!params->cipher ||
            params->cipher->kind != VIRTIO_CRYPTODEV_ALG_CIPHER ||
            !virtio_cryptodev_cipher_key_len_ok(cipher_id, key_len)) {
            return VIRTIO_CRYPTODEV_S_NOTSUPP;
        }
    } else if (key_len) {
        return VIRTIO_CRYPTODEV_S_BADREQ;
    }
    if (mac_id) {
        params->mac = virtio_cryptodev_find_alg(mac_id);
        if (!params->mac || params->mac->kind == VIRTIO_CRYPTODEV_ALG_CIPHER) {
            return VIRTIO_CRYPTODEV_S_NOTSUPP;
        }
        if (params->mac->kind == VIRTIO_CRYPTODEV_ALG_HASH && mac_key_len) {
            return VIRTIO_CRYPTODEV_S_BADREQ;
        }
        /* GCM authenticates itself: a second MAC would have no use. */
        if (params->cipher &&
            params->cipher->mode == VIRTIO_CRYPTODEV_MODE_GCM) {
            return VIRTIO_CRYPTODEV_S_NOTSUPP;
        }
    } else if (mac_key_len) {
        return VIRTIO_CRYPTODEV_S_BADREQ;
    }
    params->key_len = key_len;
    params->mac_key_len = mac_key_len;
    return VIRTIO_CRYPTODEV_S_OK;
}

/* A new session in the backend, keeping its keys; not in the table yet. */
static uint32_t virtio_cryptodev_session_new(VirtIOCryptodev *s,
                                             const VirtIOCryptodevSessionParams *params,
                                             VirtIOCryptodevSession **out)
{
    VirtIOCryptodevSession *session = g_new0(VirtIOCryptodevSession, 1);
    uint32_t status;

    session->cipher = params->cipher;
    session->mac = params->mac;
    status = s->backend->create_session(s, params, &session->backend_session);
    if (status != VIRTIO_CRYPTODEV_S_OK) {
        g_free(session);
        return status;
    }
    session->key_len = params->key_len;
    session->mac_key_len = params->mac_key_len;
    session->keys = g_malloc(params->key_len + params->mac_key_len + 1);
    if (params->key_len) {
        memcpy(session->keys, params->key, params->key_len);
    }
    if (params->mac_key_len) {
        memcpy(session->keys + params->key_len, params->mac_key,
               params->mac_key_len);
    }
    qemu_mutex_init(&session->lock);
    session->refs = 1;
    *out = session;
    return VIRTIO_CRYPTODEV_S_OK;
}

static uint32_t virtio_cryptodev_create_session(VirtIOCryptodev *s,
                                                const struct virtio_cryptodev_req *req,
                                                const VirtQueueElement *elem,
                                                size_t payload_len,
                                                struct virtio_cryptodev_resp *resp)
{
    uint32_t cipher_id = le32_to_cpu(req->cipher);
    uint32_t mac_id = le32_to_cpu(req->mac);
    uint32_t key_len = le32_to_cpu(req->key_len);
    uint32_t mac_key_len = le32_to_cpu(req->mac_key_len);
    uint8_t keys[2 * VIRTIO_CRYPTODEV_MAX_KEY_LEN];
    VirtIOCryptodevSessionParams params = { 0 };
    VirtIOCryptodevSession *session;
    uint32_t status;

    status = virtio_cryptodev_session_params(s, cipher_id, mac_id, key_len,
                                             mac_key_len, &params);
    if (status != VIRTIO_CRYPTODEV_S_OK) {
        return status;
    }
    if (payload_len != (size_t)key_len + mac_key_len) {
        trace_virtio_cryptodev_bad_request(s, "key lengths");
        return VIRTIO_CRYPTODEV_S_BADREQ;
    }
    WITH_QEMU_LOCK_GUARD(&s->sessions_lock) {
        if (g_hash_table_size(s->sessions) >= s->max_sessions) {
            return VIRTIO_CRYPTODEV_S_NOSPACE;
        }
    }

    if (iov_to_buf(elem->out_sg, elem->out_num, sizeof(*req),
                   keys, payload_len) != payload_len) {
        explicit_bzero(keys, sizeof(keys));
        return VIRTIO_CRYPTODEV_S_BADREQ;
    }
    params.key = keys;
    params.mac_key = keys + key_len;
    status = virtio_cryptodev_session_new(s, &params, &session);
    explicit_bzero(keys, sizeof(keys));
    if (status != VIRTIO_CRYPTODEV_S_OK) {
        return status;
    }

    qemu_mutex_lock(&s->sessions_lock);
    /* Checked again: another queue may have filled the table meanwhile. */
    if (g_hash_table_size(s->sessions) >= s->max_sessions) {
        qemu_mutex_unlock(&s->sessions_lock);
        virtio_cryptodev_session_put(s, session);
        return VIRTIO_CRYPTODEV_S_NOSPACE;
    }
    /* Ids are never 0 and never reused while live; wrap-around is fine. */
    do {
        session->id = ++s->next_session_id;
    } while (!session->id ||
             g_hash_table_contains(s->sessions, GUINT_TO_POINTER(session->id)));
    g_hash_table_insert(s->sessions, GUINT_TO_POINTER(session->id), session);
    qemu_mutex_unlock(&s->sessions_lock);
    trace_virtio_cryptodev_session_create(s, session->id, cipher_id, mac_id);
    resp->session_id = cpu_to_le32(session->id);
    return VIRTIO_CRYPTODEV_S_OK;
}

static uint32_t virtio_cryptodev_destroy_session(VirtIOCryptodev *s,
                                                 const struct virtio_cryptodev_req *req,
                                                 size_t payload_len)
{
    uint32_t id = le32_to_cpu(req->session_id);
    VirtIOCryptodevSession *session;

    if (payload_len) {
        return VIRTIO_CRYPTODEV_S_BADREQ;
    }
    WITH_QEMU_LOCK_GUARD(&s->sessions_lock) {
        session = g_hash_table_lookup(s->sessions, GUINT_TO_POINTER(id));
        if (!session) {
            return VIRTIO_CRYPTODEV_S_NOSESSION;
        }
        g_hash_table_steal(s->sessions, GUINT_TO_POINTER(id));
    }
    /* Requests still working on it keep it until they are done. */
    virtio_cryptodev_session_put(s, session);
    return VIRTIO_CRYPTODEV_S_OK;
}

static uint32_t virtio_cryptodev_copy_hash(VirtIOCryptodev *s,
                                           const struct virtio_cryptodev_req *req,
                                           const VirtQueueElement *elem,
                                           size_t payload_len)
{
    VirtIOCryptodevSession *dst, *src, *first, *second;
    uint32_t src_id, status;

    if (payload_len != sizeof(src_id) ||
        iov_to_buf(elem->out_sg, elem->out_num, sizeof(*req), &src_id,
                   sizeof(src_id)) != sizeof(src_id)) {
        trace_virtio_cryptodev_bad_request(s, "copy hash payload");
        return VIRTIO_CRYPTODEV_S_BADREQ;
    }
    dst = virtio_cryptodev_session_get(s, le32_to_cpu(req->session_id));
    src = virtio_cryptodev_session_get(s, le32_to_cpu(src_id));
    if (!dst || !src) {
        status = VIRTIO_CRYPTODEV_S_NOSESSION;
    } else if (dst == src || !dst->mac || dst->mac != src->mac ||
               dst->cipher || src->cipher) {
        trace_virtio_cryptodev_bad_request(s, "copy hash sessions");
        status = VIRTIO_CRYPTODEV_S_BADREQ;
    } else {
        /* Both states held, always in one order: no two copies deadlock. */
        first = dst < src ? dst : src;
        second = dst < src ? src : dst;
        qemu_mutex_lock(&first->lock);
        qemu_mutex_lock(&second->lock);
        status = s->backend->copy_hash(s, dst, src);
        if (status == VIRTIO_CRYPTODEV_S_OK) {
            dst->mac_pending = src->mac_pending;
        }
        qemu_mutex_unlock(&second->lock);
        qemu_mutex_unlock(&first->lock);
    }
    if (dst) {
        virtio_cryptodev_session_put(s, dst);
    }
    if (src) {
        virtio_cryptodev_session_put(s, src);
    }
    return status;
}

/* A host buffer that may hold plaintext: none stays in freed memory. */
static void virtio_cryptodev_wipe_free(uint8_t *buf, size_t len)
{
    explicit_bzero(buf, len);
    g_free(buf);
}

/* A request's output into the chain's writable buffers, once it succeeded. */
static void virtio_cryptodev_write_output(VirtIOCryptodev *s,
                                          VirtQueueElement *elem,
                                          const uint8_t *out, size_t out_len,
                                          uint32_t data_len,
                                          struct virtio_cryptodev_resp *resp)
{
    iov_from_buf(elem->in_sg, elem->in_num, 0, out, out_len);
    resp->out_len = cpu_to_le32(out_len);
    qatomic_add(&s->stat_bytes, data_len);
}

static uint32_t virtio_cryptodev_crypt_on(VirtIOCryptodev *s,
                                          VirtIOCryptodevSession *session,
                                          const struct virtio_cryptodev_req *req,
                                          VirtQueueElement *elem,
                                          size_t payload_len, size_t out_room,
                                          struct virtio_cryptodev_resp *resp)
{
    uint32_t op = le32_to_cpu(req->op);
    uint32_t iv_len = le32_to_cpu(req->iv_len);
    uint32_t data_len = le32_to_cpu(req->data_len);
    uint32_t flags = le32_to_cpu(req->flags);
    uint8_t iv[VIRTIO_CRYPTODEV_BLOCK_LEN];
    uint8_t *src, *out;
    size_t cipher_out, out_len;
    bool digest_out;
    uint32_t status;

    if (data_len > s->max_data_len ||
        payload_len != (size_t)iv_len + data_len) {
        trace_virtio_cryptodev_bad_request(s, "data length");
        return VIRTIO_CRYPTODEV_S_BADREQ;
    }
    /*
     * Every field is checked against the session's kind before a backend
     * sees it: cryptodev-linux reads COP_DECRYPT on a hash session as "hash
     * the destination", which is NULL here and oopses the host's kernel.
     */
    if (op != VIRTIO_CRYPTODEV_ENCRYPT && op != VIRTIO_CRYPTODEV_DECRYPT) {
        trace_virtio_cryptodev_bad_request(s, "direction");
        return VIRTIO_CRYPTODEV_S_BADREQ;
    }
    if (session->cipher) {
        if (iv_len != session->cipher->iv_len || !data_len ||
            data_len % session->cipher->block_len ||
            session->cipher->mode == VIRTIO_CRYPTODEV_MODE_GCM) {
            trace_virtio_cryptodev_bad_request(s, "cipher operation");
            return VIRTIO_CRYPTODEV_S_BADREQ;
        }
    } else if (iv_len || op != VIRTIO_CRYPTODEV_ENCRYPT) {
        trace_virtio_cryptodev_bad_request(s, "hash operation");
        return VIRTIO_CRYPTODEV_S_BADREQ;
    }
    if ((flags & ~VIRTIO_CRYPTODEV_F_ALL) || (flags && !session->mac)) {
        trace_virtio_cryptodev_bad_request(s, "flags");
        return VIRTIO_CRYPTODEV_S_BADREQ;
    }

    digest_out = session->mac && virtio_cryptodev_digest_out(flags, data_len);
    cipher_out = session->cipher ? data_len : 0;
    out_len = cipher_out + (digest_out ? session->mac->digest_len : 0);
    if (out_len > out_room) {
        trace_virtio_cryptodev_bad_request(s, "output buffers too short");
        return VIRTIO_CRYPTODEV_S_BADREQ;
    }

    /* Lengths are now bounded by max_data_len: safe to allocate. */
    src = g_malloc(data_len ? data_len : 1);
    out = g_malloc(out_len ? out_len : 1);
    if (iov_to_buf(elem->out_sg, elem->out_num, sizeof(*req),
                   iv, iv_len) != iv_len ||
        iov_to_buf(elem->out_sg, elem->out_num, sizeof(*req) + iv_len,
                   src, data_len) != data_len) {
        status = VIRTIO_CRYPTODEV_S_BADREQ;
        goto out;
    }

    qemu_mutex_lock(&session->lock);
    status = s->backend->crypt(s, session, op, flags, iv_len ? iv : NULL, src,
                               session->cipher ? out : NULL, data_len,
                               digest_out ? out + cipher_out : NULL);
    if (status == VIRTIO_CRYPTODEV_S_OK && session->mac) {
        session->mac_pending = !digest_out;
    }
    qemu_mutex_unlock(&session->lock);
    if (status != VIRTIO_CRYPTODEV_S_OK) {
        goto out;
    }
    virtio_cryptodev_write_output(s, elem, out, out_len, data_len, resp);
out:
    virtio_cryptodev_wipe_free(src, data_len);
    virtio_cryptodev_wipe_free(out, out_len);
    return status;
}

/* The AUTH_CRYPT mode a session can do, and its rules for the fields. */
static bool virtio_cryptodev_auth_ok(const VirtIOCryptodevSession *session,
                                     uint32_t mode, uint32_t op,
                                     uint32_t auth_len, uint32_t data_off,
                                     uint32_t data_len, uint32_t tag_len)
{
    const VirtIOCryptodevAlg *cipher = session->cipher;
    bool gcm = cipher && cipher->mode == VIRTIO_CRYPTODEV_MODE_GCM;

    if (!cipher || auth_len > VIRTIO_CRYPTODEV_MAX_AUTH_LEN ||
        data_off > auth_len ||
        (op != VIRTIO_CRYPTODEV_ENCRYPT && op != VIRTIO_CRYPTODEV_DECRYPT)) {
        return false;
    }
    if (mode == VIRTIO_CRYPTODEV_AUTH_AEAD) {
        return gcm && data_off == auth_len &&
               virtio_cryptodev_gcm_tag_len_ok(tag_len);
    }
    if (gcm || tag_len > (session->mac ? session->mac->digest_len : 0) ||
        (session->mac && !tag_len)) {
        return false;
    }
    switch (mode) {
    case VIRTIO_CRYPTODEV_AUTH_TLS:
        /* Decrypting, a record is whole blocks, at least one. */
        return data_off == auth_len &&
               (op == VIRTIO_CRYPTODEV_ENCRYPT ||
                (data_len && data_len % cipher->block_len == 0));
    case VIRTIO_CRYPTODEV_AUTH_SRTP:
        if (cipher->block_len != 1) {
            return false;
        }
        /* fall through */
    case VIRTIO_CRYPTODEV_AUTH_ETM:
        /* The data starts where every backend can take it (devcrypto's host too). */
        return data_len && data_len % cipher->block_len == 0 &&
               data_off <= VIRTIO_CRYPTODEV_MAX_DATA_OFF;
    default:
        return false;
    }
}

static uint32_t virtio_cryptodev_auth_crypt_on(VirtIOCryptodev *s,
                                               VirtIOCryptodevSession *session,
                                               const struct virtio_cryptodev_req *req,
                                               VirtQueueElement *elem,
                                               size_t payload_len, size_t out_room,
                                               struct virtio_cryptodev_resp *resp)
{
    uint32_t iv_len = le32_to_cpu(req->iv_len);
    uint32_t data_len = le32_to_cpu(req->data_len);
    uint8_t iv[VIRTIO_CRYPTODEV_BLOCK_LEN];
    uint8_t tag[VIRTIO_CRYPTODEV_MAX_DIGEST_LEN];
    struct virtio_cryptodev_auth auth;
    VirtIOCryptodevAuthOp a = { 0 };
    uint8_t *in = NULL;
    size_t tag_in, in_len, out_len = 0, off = sizeof(*req);
    uint32_t status;

    if (payload_len < sizeof(auth) ||
        iov_to_buf(elem->out_sg, elem->out_num, off, &auth,
                   sizeof(auth)) != sizeof(auth)) {
        trace_virtio_cryptodev_bad_request(s, "auth header");
        return VIRTIO_CRYPTODEV_S_BADREQ;
    }
    off += sizeof(auth);
    a.mode = le32_to_cpu(auth.mode);
    a.op = le32_to_cpu(req->op);
    a.auth_len = le32_to_cpu(auth.auth_len);
    a.data_off = le32_to_cpu(auth.data_off);
    a.tag_len = le32_to_cpu(auth.tag_len);
    a.len = data_len;
    if (data_len > s->max_data_len ||
        !virtio_cryptodev_auth_ok(session, a.mode, a.op, a.auth_len,
                                  a.data_off, data_len, a.tag_len) ||
        iv_len != session->cipher->iv_len) {
        trace_virtio_cryptodev_bad_request(s, "auth operation");
        return VIRTIO_CRYPTODEV_S_BADREQ;
    }
    tag_in = virtio_cryptodev_auth_tag_in_len(a.mode, a.op, a.tag_len);
    in_len = a.auth_len + data_len;
    out_len = data_len +
              virtio_cryptodev_auth_tail_len(a.mode, a.op,
                                             session->cipher->block_len,
                                             data_len, a.tag_len);
    if (payload_len != sizeof(auth) + iv_len + in_len + tag_in ||
        out_len > out_room) {
        trace_virtio_cryptodev_bad_request(s, "auth lengths");
        return VIRTIO_CRYPTODEV_S_BADREQ;
    }

    /* Bounded by max_data_len and the auth and tail limits: safe to allocate. */
    in = g_malloc(in_len + 1);
    a.out = g_malloc(out_len + 1);
    if (iov_to_buf(elem->out_sg, elem->out_num, off, iv, iv_len) != iv_len ||
        iov_to_buf(elem->out_sg, elem->out_num, off + iv_len,
                   in, in_len) != in_len ||
        iov_to_buf(elem->out_sg, elem->out_num, off + iv_len + in_len,
                   tag, tag_in) != tag_in) {
        status = VIRTIO_CRYPTODEV_S_BADREQ;
        goto out;
    }
    a.iv = iv;
    a.auth = in;
    a.src = in + a.auth_len;
    a.tag = tag;

    qemu_mutex_lock(&session->lock);
    status = s->backend->auth_crypt(s, session, &a);
    /* AUTH_CRYPT starts the running MAC over and ends it. */
    session->mac_pending = false;
    qemu_mutex_unlock(&session->lock);
    if (status != VIRTIO_CRYPTODEV_S_OK) {
        goto out;
    }
    virtio_cryptodev_write_output(s, elem, a.out, out_len, data_len, resp);
    resp->result_len = cpu_to_le32(a.result_len);
out:
    virtio_cryptodev_wipe_free(in, in_len);
    virtio_cryptodev_wipe_free(a.out, out_len);
    return status;
}

typedef uint32_t VirtIOCryptodevSessionOp(VirtIOCryptodev *s,
                                          VirtIOCryptodevSession *session,
                                          const struct virtio_cryptodev_req *req,
                                          VirtQueueElement *elem,
                                          size_t payload_len, size_t out_room,
                                          struct virtio_cryptodev_resp *resp);

/* Runs @fn on the request's session, held for the time it takes. */
static uint32_t virtio_cryptodev_on_session(VirtIOCryptodev *s,
                                            VirtIOCryptodevSessionOp *fn,
                                            const struct virtio_cryptodev_req *req,
                                            VirtQueueElement *elem,
                                            size_t payload_len, size_t out_room,
                                            struct virtio_cryptodev_resp *resp)
{
    VirtIOCryptodevSession *session;
    uint32_t status;

    session = virtio_cryptodev_session_get(s, le32_to_cpu(req->session_id));
    if (!session) {
        return VIRTIO_CRYPTODEV_S_NOSESSION;
    }
    status = fn(s, session, req, elem, payload_len, out_room, resp);
    virtio_cryptodev_session_put(s, session);
    return status;
}

/*
 * Answers one request into the guest's buffers, and says the used length to
 * report. Touches no virtio state, so an iothread may run it. Returns false
 * only when the chain cannot carry an answer at all: a broken driver.
 */
static bool virtio_cryptodev_answer(VirtIOCryptodev *s, VirtQueueElement *elem,
                                    unsigned int *used)
{
    struct virtio_cryptodev_resp resp = { 0 };
    struct virtio_cryptodev_req req;
    size_t in_len = iov_size(elem->in_sg, elem->in_num);
    size_t out_len = iov_size(elem->out_sg, elem->out_num);
    size_t payload_len, out_room;
    uint32_t status, written;

    if (in_len < sizeof(resp)) {
        return false;
    }
    out_room = in_len - sizeof(resp);

    qatomic_inc(&s->stat_requests);
    if (out_len < sizeof(req) ||
        iov_to_buf(elem->out_sg, elem->out_num, 0, &req, sizeof(req)) != sizeof(req)) {
        trace_virtio_cryptodev_bad_request(s, "short header");
        status = VIRTIO_CRYPTODEV_S_BADREQ;
    } else if (req.flags &&
               le32_to_cpu(req.opcode) != VIRTIO_CRYPTODEV_OP_CRYPT) {
        /* Refused now, so the field can be given a meaning later. */
        trace_virtio_cryptodev_bad_request(s, "flags outside CRYPT");
        status = VIRTIO_CRYPTODEV_S_BADREQ;
    } else {
        payload_len = out_len - sizeof(req);
        trace_virtio_cryptodev_request(s, le32_to_cpu(req.opcode),
                                       le32_to_cpu(req.session_id),
                                       le32_to_cpu(req.data_len));
        switch (le32_to_cpu(req.opcode)) {
        case VIRTIO_CRYPTODEV_OP_CREATE_SESSION:
            status = virtio_cryptodev_create_session(s, &req, elem,
                                                     payload_len, &resp);
            break;
        case VIRTIO_CRYPTODEV_OP_DESTROY_SESSION:
            status = virtio_cryptodev_destroy_session(s, &req, payload_len);
            break;
        case VIRTIO_CRYPTODEV_OP_CRYPT:
            status = virtio_cryptodev_on_session(s, virtio_cryptodev_crypt_on,
                                                 &req, elem, payload_len,
                                                 out_room, &resp);
            break;
        case VIRTIO_CRYPTODEV_OP_COPY_HASH:
            status = virtio_cryptodev_copy_hash(s, &req, elem, payload_len);
            break;
        case VIRTIO_CRYPTODEV_OP_AUTH_CRYPT:
            status = virtio_cryptodev_on_session(s, virtio_cryptodev_auth_crypt_on,
                                                 &req, elem, payload_len,
                                                 out_room, &resp);
            break;
        default:
            trace_virtio_cryptodev_bad_request(s, "unknown opcode");
            status = VIRTIO_CRYPTODEV_S_BADREQ;
            break;
        }
    }

    if (status != VIRTIO_CRYPTODEV_S_OK) {
        qatomic_inc(&s->stat_errors);
        resp.out_len = 0;
        resp.result_len = 0;
    }
    resp.status = cpu_to_le32(status);
    written = le32_to_cpu(resp.out_len);
    iov_from_buf(elem->in_sg, elem->in_num, out_room, &resp, sizeof(resp));
    trace_virtio_cryptodev_response(s, status, written);
    /*
     * The used length covers the response at the end of the writable part.
     * The output room before it is written only on success: a failed
     * request leaves the guest's buffers as they were.
     */
    *used = out_room + sizeof(resp);
    return true;
}

/* Hands an answered request back, or breaks the device for an unanswerable one. */
static bool virtio_cryptodev_complete(VirtIOCryptodevQueue *q,
                                      VirtQueueElement *elem,
                                      bool answered, unsigned int used)
{
    if (answered) {
        virtqueue_push(q->vq, elem, used);
    } else {
        virtqueue_detach_element(q->vq, elem, 0);
        virtio_error(VIRTIO_DEVICE(q->s),
                     "virtio-cryptodev: request without room for a response");
    }
    g_free(elem);
    return answered;
}

/* Whether a batch that took @requests and @bytes has used its turn. */
static bool virtio_cryptodev_batch_full(unsigned int requests, size_t bytes)
{
    return requests >= VIRTIO_CRYPTODEV_BATCH_REQUESTS ||
           bytes >= VIRTIO_CRYPTODEV_BATCH_BYTES;
}

/*
 * Answers one batch. Returns true when the batch's budget ran out with
 * requests possibly left, false when the ring is empty or the device broke.
 */
static bool virtio_cryptodev_run_batch(VirtIOCryptodevQueue *q)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(q->s);
    VirtQueueElement *elem;
    unsigned int requests = 0;
    size_t bytes = 0;
    bool more = false;

    while ((elem = virtqueue_pop(q->vq, sizeof(VirtQueueElement)))) {
        unsigned int used = 0;
        bool answered;

        bytes += iov_size(elem->out_sg, elem->out_num);
        answered = virtio_cryptodev_answer(q->s, elem, &used);
        if (!virtio_cryptodev_complete(q, elem, answered, used)) {
            break;
        }
        if (virtio_cryptodev_batch_full(++requests, bytes)) {
            more = true;
            break;
        }
    }
    if (requests) {
        virtio_notify(vdev, q->vq);
    }
    return more && !vdev->broken;
}

/*
 * One turn of a queue's work: a bounded batch, answered in the context that
 * noticed it (the notifying vCPU's, under TCG, for the lowest latency); what
 * is left goes to a bottom half after the main loop has turned, with guest
 * notifications off meanwhile.
 */
static void virtio_cryptodev_run(VirtIOCryptodevQueue *q)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(q->s);

    if (!(vdev->status & VIRTIO_CONFIG_S_DRIVER_OK) || vdev->broken ||
        q->s->stopped) {
        virtio_queue_set_notification(q->vq, 1);
        return;
    }
    if (!virtio_cryptodev_run_batch(q)) {
        /* Re-arm, then look once more: the guest may have added and not kicked. */
        virtio_queue_set_notification(q->vq, 1);
        if (virtio_queue_empty(q->vq) || vdev->broken) {
            return;
        }
    }
    virtio_queue_set_notification(q->vq, 0);
    qemu_bh_schedule(q->bh);
}

static void virtio_cryptodev_bh(void *opaque)
{
    virtio_cryptodev_run(opaque);
}

/*
 * With an iothread, or with "parallel", the work of a batch leaves the BQL:
 * the notifying vCPU (or whoever holds the BQL) pops a bounded batch, the
 * iothread (or a thread of QEMU's pool) answers it into the guest's buffers,
 * and a bottom half in the main loop hands it back, notifies and pops the
 * next. A worker never takes the BQL and touches nothing but its batch and
 * the sessions it references, so a drain under the BQL can always wait for
 * it. One batch per queue is out at a time, so a queue's requests are
 * answered in order; on the pool different queues' batches are worked at
 * once, which the session table's lock and the sessions' references and
 * locks allow; every call into virtio's core is made under the BQL.
 */
static void virtio_cryptodev_offload(VirtIOCryptodevQueue *q);
static void virtio_cryptodev_handle_queue(VirtIODevice *vdev, VirtQueue *vq);

/* In the main loop, under the BQL: the worked batch back to the guest. */
static void virtio_cryptodev_batch_done(void *opaque)
{
    VirtIOCryptodevBatch *b = opaque;
    VirtIOCryptodevQueue *q = b->q;
    unsigned int answered = 0;

    /*
     * A guest may point a response at the device's own registers, so a push
     * can reset the device: the reset's drain then takes what is not handed
     * back yet (from b->next on) and marks the batch stale.
     */
    while (!b->stale && b->next < b->len) {
        unsigned int i = b->next++;

        answered += virtio_cryptodev_complete(q, b->elem[i], b->answered[i],
                                              b->used[i]);
    }
    if (b->stale) {
        g_free(b);
        return;
    }
    q->batch = NULL;
    g_free(b);
    if (answered) {
        virtio_notify(VIRTIO_DEVICE(q->s), q->vq);
    }
    virtio_cryptodev_offload(q);
}

/* In the iothread or a pool thread, without the BQL. */
static void virtio_cryptodev_work(void *opaque)
{
    VirtIOCryptodevBatch *b = opaque;
    unsigned int i;

    for (i = 0; i < b->len; i++) {
        b->answered[i] = virtio_cryptodev_answer(b->q->s, b->elem[i],
                                                 &b->used[i]);
    }
    /*
     * From here on the batch belongs to the main loop: a drain waiting for
     * it may go on, and may even unrealize the device, so nothing but the
     * batch itself is touched after this store.
     */
    qatomic_store_release(&b->worked, true);
    aio_wait_kick();
    aio_bh_schedule_oneshot(qemu_get_aio_context(),
                            virtio_cryptodev_batch_done, b);
}

static int virtio_cryptodev_pool_work(void *opaque)
{
    virtio_cryptodev_work(opaque);
    return 0;
}

static void virtio_cryptodev_offload(VirtIOCryptodevQueue *q)
{
    VirtIOCryptodev *s = q->s;
    VirtIODevice *vdev = VIRTIO_DEVICE(s);
    VirtIOCryptodevBatch *b;
    VirtQueueElement *elem;
    size_t bytes = 0;

    if (q->batch || s->draining || s->stopped ||
        !(vdev->status & VIRTIO_CONFIG_S_DRIVER_OK) || vdev->broken) {
        return;     /* the batch out looks again when it is back */
    }
    b = g_new0(VirtIOCryptodevBatch, 1);
    b->q = q;
    virtio_queue_set_notification(q->vq, 0);
    while (!virtio_cryptodev_batch_full(b->len, bytes) &&
           (elem = virtqueue_pop(q->vq, sizeof(VirtQueueElement)))) {
        bytes += iov_size(elem->out_sg, elem->out_num);
        b->elem[b->len++] = elem;
    }
    if (!b->len) {
        g_free(b);
        /* Re-armed, then looked at once more, as in virtio_cryptodev_run(). */
        virtio_queue_set_notification(q->vq, 1);
        if (!virtio_queue_empty(q->vq) && !vdev->broken) {
            virtio_cryptodev_offload(q);
        }
        return;
    }
    q->batch = b;
    if (s->iothread) {
        aio_bh_schedule_oneshot(iothread_get_aio_context(s->iothread),
                                virtio_cryptodev_work, b);
    } else {
        virtio_cryptodev_pool_submit(virtio_cryptodev_pool_work, b);
    }
}

/*
 * In the main loop, under the BQL, before the sessions or the queues change
 * (reset, unrealize): waits for every batch out to be worked, which takes
 * bounded time since no worker waits for anything, and drops what of each
 * is not handed back yet. Nothing goes out meanwhile.
 */
static void virtio_cryptodev_drain(VirtIOCryptodev *s)
{
    unsigned int i, n;

    s->draining = true;
    for (n = 0; n < s->num_queues; n++) {
        VirtIOCryptodevQueue *q = &s->queues[n];
        VirtIOCryptodevBatch *b;

        /* The batch may come back (and be freed) while we wait: ask q. */
        AIO_WAIT_WHILE(NULL, q->batch && !qatomic_load_acquire(&q->batch->worked));
        b = q->batch;
        if (!b) {
            continue;
        }
        for (i = b->next; i < b->len; i++) {
            virtqueue_detach_element(q->vq, b->elem[i], 0);
            g_free(b->elem[i]);
        }
        b->next = b->len;
        b->stale = true;        /* its bottom half frees it */
        q->batch = NULL;
    }
    s->draining = false;
}

/*
 * The VM stops (for a migration, a snapshot, a pause) or runs again. Before
 * it stops, every batch out is worked and handed back to the guest, so no
 * request is in flight while RAM and the device's state are saved, and none
 * is taken until it runs again; then every queue looks at its ring, since
 * the guest may have added requests it will not notify about.
 */
static void virtio_cryptodev_vm_state_change(void *opaque, bool running,
                                             RunState state)
{
    VirtIOCryptodev *s = opaque;
    uint32_t n;

    if (!running) {
        s->stopped = true;
        for (n = 0; n < s->num_queues; n++) {
            VirtIOCryptodevQueue *q = &s->queues[n];

            /* Each comes back through virtio_cryptodev_batch_done(). */
            AIO_WAIT_WHILE(NULL, q->batch);
            qemu_bh_cancel(q->bh);
        }
        return;
    }
    s->stopped = false;
    for (n = 0; n < s->num_queues; n++) {
        virtio_cryptodev_handle_queue(VIRTIO_DEVICE(s), s->queues[n].vq);
    }
}

static void virtio_cryptodev_handle_queue(VirtIODevice *vdev, VirtQueue *vq)
{
    VirtIOCryptodev *s = VIRTIO_CRYPTODEV(vdev);
    VirtIOCryptodevQueue *q = &s->queues[virtio_get_queue_index(vq)];

    if (s->iothread || s->parallel) {
        virtio_cryptodev_offload(q);
    } else {
        virtio_cryptodev_run(q);
    }
}

static void virtio_cryptodev_get_config(VirtIODevice *vdev, uint8_t *config)
{
    VirtIOCryptodev *s = VIRTIO_CRYPTODEV(vdev);
    struct virtio_cryptodev_config cfg = {
        .max_data_len = cpu_to_le32(s->max_data_len),
        .max_sessions = cpu_to_le32(s->max_sessions),
        .max_key_len = cpu_to_le32(VIRTIO_CRYPTODEV_MAX_KEY_LEN),
        .num_queues = cpu_to_le32(s->num_queues),
    };

    memcpy(config, &cfg, sizeof(cfg));
}

static uint64_t virtio_cryptodev_get_features(VirtIODevice *vdev,
                                              uint64_t features, Error **errp)
{
    virtio_add_feature(&features, VIRTIO_CRYPTODEV_F_MQ);
    return features;
}

static void virtio_cryptodev_reset(VirtIODevice *vdev)
{
    VirtIOCryptodev *s = VIRTIO_CRYPTODEV(vdev);
    uint32_t i;

    virtio_cryptodev_drain(s);
    for (i = 0; i < s->num_queues; i++) {
        qemu_bh_cancel(s->queues[i].bh);
    }
    virtio_cryptodev_destroy_all_sessions(s);
}

static bool virtio_cryptodev_open_backend(VirtIOCryptodev *s, Error **errp)
{
    Error *local_err = NULL;

    if (!strcmp(s->backend_name, "builtin")) {
        s->backend = &virtio_cryptodev_builtin_backend;
    } else if (!strcmp(s->backend_name, "devcrypto")) {
        s->backend = &virtio_cryptodev_devcrypto_backend;
    } else {
        /* auto: the host's /dev/crypto when it opens, else QEMU's own. */
        if (virtio_cryptodev_devcrypto_backend.open(s, &local_err)) {
            s->backend = &virtio_cryptodev_devcrypto_backend;
            goto opened;
        }
        trace_virtio_cryptodev_backend_fallback(s, error_get_pretty(local_err));
        error_free(local_err);
        s->backend = &virtio_cryptodev_builtin_backend;
    }
    if (!s->backend->open(s, errp)) {
        return false;
    }
opened:
    if (s->backend->session_cost) {
        uint64_t cost = s->backend->session_cost(s);

        if (cost * s->max_sessions > s->kernel_budget) {
            error_setg(errp, "max-sessions=%u sessions of up to %" PRIu64 " bytes "
                       "of host kernel memory each (with max-data-len=%u) "
                       "exceed kernel-budget=%" PRIu64 ": lower max-sessions "
                       "or max-data-len, or raise kernel-budget",
                       s->max_sessions, cost, s->max_data_len, s->kernel_budget);
            s->backend->close(s);
            return false;
        }
    }
    info_report("virtio-cryptodev: %s backend", s->backend->name);
    trace_virtio_cryptodev_backend(s, s->backend->name);
    return true;
}

static void virtio_cryptodev_realize(DeviceState *dev, Error **errp)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(dev);
    VirtIOCryptodev *s = VIRTIO_CRYPTODEV(dev);
    uint32_t i;

    if (s->num_queues == VIRTIO_CRYPTODEV_AUTO_NUM_QUEUES) {
        s->num_queues = 1;
    }
    if (s->iothread && s->parallel) {
        error_setg(errp, "'parallel' and 'iothread' exclude each other");
        return;
    }
    if (s->num_queues < 1 || s->num_queues > VIRTIO_CRYPTODEV_MAX_QUEUES) {
        error_setg(errp, "'num-queues' must be in [1, %d]",
                   VIRTIO_CRYPTODEV_MAX_QUEUES);
        return;
    }
    if (s->max_data_len < VIRTIO_CRYPTODEV_MIN_DATA_LEN ||
        s->max_data_len > VIRTIO_CRYPTODEV_MAX_DATA_LEN ||
        s->max_data_len % VIRTIO_CRYPTODEV_BLOCK_LEN) {
        error_setg(errp, "'max-data-len' must be a multiple of %d in [%d, %d]",
                   VIRTIO_CRYPTODEV_BLOCK_LEN, VIRTIO_CRYPTODEV_MIN_DATA_LEN,
                   VIRTIO_CRYPTODEV_MAX_DATA_LEN);
        return;
    }
    if (s->max_sessions < 1 || s->max_sessions > VIRTIO_CRYPTODEV_MAX_SESSIONS) {
        error_setg(errp, "'max-sessions' must be in [1, %d]",
                   VIRTIO_CRYPTODEV_MAX_SESSIONS);
        return;
    }
    if (!s->backend_name) {
        s->backend_name = g_strdup("auto");
    }
    if (!s->devcrypto_path) {
        s->devcrypto_path = g_strdup("/dev/crypto");
    }
    if (strcmp(s->backend_name, "auto") && strcmp(s->backend_name, "builtin") &&
        strcmp(s->backend_name, "devcrypto")) {
        error_setg(errp, "'backend' must be auto, builtin or devcrypto");
        return;
    }

    s->devcrypto_fd = -1;
    if (!virtio_cryptodev_open_backend(s, errp)) {
        return;
    }
    qemu_mutex_init(&s->sessions_lock);
    /* Values are references, dropped by hand: see virtio_cryptodev_session_put(). */
    s->sessions = g_hash_table_new(g_direct_hash, g_direct_equal);
    virtio_init(vdev, VIRTIO_ID_CRYPTODEV, sizeof(struct virtio_cryptodev_config));
    s->queues = g_new0(VirtIOCryptodevQueue, s->num_queues);
    for (i = 0; i < s->num_queues; i++) {
        VirtIOCryptodevQueue *q = &s->queues[i];

        q->s = s;
        q->vq = virtio_add_queue(vdev, VIRTIO_CRYPTODEV_QUEUE_SIZE,
                                 virtio_cryptodev_handle_queue);
        q->bh = qemu_bh_new_guarded(virtio_cryptodev_bh, q,
                                    &DEVICE(s)->mem_reentrancy_guard);
    }
    if (s->iothread) {
        object_ref(OBJECT(s->iothread));
    }
    s->vm_state = qemu_add_vm_change_state_handler(
        virtio_cryptodev_vm_state_change, s);
}

static void virtio_cryptodev_unrealize(DeviceState *dev)
{
    VirtIODevice *vdev = VIRTIO_DEVICE(dev);
    VirtIOCryptodev *s = VIRTIO_CRYPTODEV(dev);
    uint32_t i;

    qemu_del_vm_change_state_handler(s->vm_state);
    virtio_cryptodev_drain(s);
    if (s->iothread) {
        object_unref(OBJECT(s->iothread));
    }
    for (i = 0; i < s->num_queues; i++) {
        qemu_bh_delete(s->queues[i].bh);
        virtio_delete_queue(s->queues[i].vq);
    }
    g_free(s->queues);
    virtio_cleanup(vdev);
    virtio_cryptodev_destroy_all_sessions(s);
    g_hash_table_destroy(s->sessions);
    qemu_mutex_destroy(&s->sessions_lock);
    s->backend->close(s);
}

/*
 * A host-side test hook (QMP qom-set, never reachable from the guest): puts
 * the device in NEEDS_RESET, so the guest driver's recovery can be tested.
 */
static void virtio_cryptodev_set_inject_error(Object *obj, bool value,
                                              Error **errp)
{
    if (value) {
        virtio_error(VIRTIO_DEVICE(obj),
                     "virtio-cryptodev: error injected by the host");
    }
}

static void virtio_cryptodev_instance_init(Object *obj)
{
    VirtIOCryptodev *s = VIRTIO_CRYPTODEV(obj);

    object_property_add_uint64_ptr(obj, "stat-requests", &s->stat_requests,
                                   OBJ_PROP_FLAG_READ);
    object_property_add_uint64_ptr(obj, "stat-bytes", &s->stat_bytes,
                                   OBJ_PROP_FLAG_READ);
    object_property_add_uint64_ptr(obj, "stat-errors", &s->stat_errors,
                                   OBJ_PROP_FLAG_READ);
    object_property_add_bool(obj, "x-inject-error", NULL,
                             virtio_cryptodev_set_inject_error);
}

/* The stream's copy of the sessions: freed, keys wiped, once used. */
static void virtio_cryptodev_mig_free(VirtIOCryptodev *s)
{
    int32_t i;

    for (i = 0; i < s->mig_num_sessions; i++) {
        VirtIOCryptodevMigSession *m = &s->mig_sessions[i];

        /* The stream's array is not zeroed: keys exist only when it had some. */
        if (m->keys_len) {
            explicit_bzero(m->keys, m->keys_len);
            g_free(m->keys);
        }
    }
    g_free(s->mig_sessions);
    s->mig_sessions = NULL;
    s->mig_num_sessions = 0;
}

/*
 * The VM is stopped and no batch is out (virtio_cryptodev_vm_state_change):
 * the sessions go into the stream with their keys. A MAC half done inside
 * a backend cannot be exported, so such a session refuses the migration,
 * by name; the source then runs on.
 */
static int virtio_cryptodev_pre_save(void *opaque)
{
    VirtIOCryptodev *s = opaque;
    GHashTableIter iter;
    gpointer value;
    int32_t n = 0;
    uint32_t i;

    for (i = 0; i < s->num_queues; i++) {
        if (s->queues[i].batch) {
            error_report("virtio-cryptodev: queue %u still has requests in "
                         "flight; migration refused", i);
            return -EBUSY;
        }
    }
    QEMU_LOCK_GUARD(&s->sessions_lock);
    g_hash_table_iter_init(&iter, s->sessions);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        VirtIOCryptodevSession *session = value;

        if (session->mac_pending) {
            error_report("virtio-cryptodev: session %u holds a %s digest in "
                         "progress (CRYPT with F_UPDATE and no digest yet), "
                         "which the %s backend cannot export; migration "
                         "refused", session->id, session->mac->name,
                         s->backend->name);
            return -EBUSY;
        }
    }
    s->mig_num_sessions = g_hash_table_size(s->sessions);
    s->mig_sessions = g_new0(VirtIOCryptodevMigSession, s->mig_num_sessions);
    g_hash_table_iter_init(&iter, s->sessions);
    while (g_hash_table_iter_next(&iter, NULL, &value)) {
        VirtIOCryptodevSession *session = value;
        VirtIOCryptodevMigSession *m = &s->mig_sessions[n++];

        m->id = session->id;
        m->cipher = session->cipher ? session->cipher->id : 0;
        m->mac = session->mac ? session->mac->id : 0;
        m->key_len = session->key_len;
        m->mac_key_len = session->mac_key_len;
        m->keys_len = session->key_len + session->mac_key_len;
        m->keys = g_memdup2(session->keys, m->keys_len);
    }
    return 0;
}

static int virtio_cryptodev_post_save(void *opaque)
{
    virtio_cryptodev_mig_free(opaque);
    return 0;
}

/*
 * On the destination, before the guest runs: each session is made again in
 * this device's backend, under its old id, so the guest's ids keep working.
 * The stream is checked like a guest request: it may come from anywhere.
 */
static int virtio_cryptodev_post_load(void *opaque, int version_id)
{
    VirtIOCryptodev *s = opaque;
    int32_t i;
    int ret = 0;

    if (s->mig_num_sessions < 0 || s->mig_num_sessions > s->max_sessions) {
        error_report("virtio-cryptodev: the stream carries %d sessions, more "
                     "than max-sessions=%u", s->mig_num_sessions,
                     s->max_sessions);
        ret = -EINVAL;
    }
    for (i = 0; !ret && i < s->mig_num_sessions; i++) {
        VirtIOCryptodevMigSession *m = &s->mig_sessions[i];
        VirtIOCryptodevSessionParams params = { 0 };
        VirtIOCryptodevSession *session;
        uint32_t status;

        status = virtio_cryptodev_session_params(s, m->cipher, m->mac,
                                                 m->key_len, m->mac_key_len,
                                                 &params);
        if (status == VIRTIO_CRYPTODEV_S_OK &&
            (m->keys_len != m->key_len + m->mac_key_len || !m->id ||
             g_hash_table_contains(s->sessions, GUINT_TO_POINTER(m->id)))) {
            status = VIRTIO_CRYPTODEV_S_BADREQ;
        }
        if (status == VIRTIO_CRYPTODEV_S_OK) {
            params.key = m->keys_len ? m->keys : NULL;
            params.mac_key = m->keys_len ? m->keys + m->key_len : NULL;
            status = virtio_cryptodev_session_new(s, &params, &session);
        }
        if (status != VIRTIO_CRYPTODEV_S_OK) {
            error_report("virtio-cryptodev: session %u (cipher %u, mac %u) "
                         "cannot be made again in the %s backend: status %u",
                         m->id, m->cipher, m->mac, s->backend->name, status);
            ret = -EINVAL;
            break;
        }
        session->id = m->id;
        g_hash_table_insert(s->sessions, GUINT_TO_POINTER(m->id), session);
    }
    virtio_cryptodev_mig_free(s);
    return ret;
}

/* A hash session has no key: an empty buffer is left out of the stream. */
static bool virtio_cryptodev_mig_has_keys(void *opaque, int version_id)
{
    VirtIOCryptodevMigSession *m = opaque;

    return m->keys_len > 0;
}

static const VMStateDescription vmstate_virtio_cryptodev_session = {
    .name = "virtio-cryptodev/session",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (VMStateField[]) {
        VMSTATE_UINT32(id, VirtIOCryptodevMigSession),
        VMSTATE_UINT32(cipher, VirtIOCryptodevMigSession),
        VMSTATE_UINT32(mac, VirtIOCryptodevMigSession),
        VMSTATE_UINT32(key_len, VirtIOCryptodevMigSession),
        VMSTATE_UINT32(mac_key_len, VirtIOCryptodevMigSession),
        VMSTATE_UINT32(keys_len, VirtIOCryptodevMigSession),
        VMSTATE_VBUFFER_ALLOC_UINT32(keys, VirtIOCryptodevMigSession, 0,
                                     virtio_cryptodev_mig_has_keys, keys_len),
        VMSTATE_END_OF_LIST()
    },
};

/* The device's own state, inside virtio's (see VMSTATE_VIRTIO_DEVICE). */
static const VMStateDescription vmstate_virtio_cryptodev_device = {
    .name = "virtio-cryptodev-device",
    .version_id = 1,
    .minimum_version_id = 1,
    .pre_save = virtio_cryptodev_pre_save,
    .post_save = virtio_cryptodev_post_save,
    .post_load = virtio_cryptodev_post_load,
    .fields = (VMStateField[]) {
        /* What the guest was told in the config space must not change. */
        VMSTATE_UINT32_EQUAL(num_queues, VirtIOCryptodev,
                             "num-queues must match the source's"),
        VMSTATE_UINT32_EQUAL(max_data_len, VirtIOCryptodev,
                             "max-data-len must match the source's"),
        VMSTATE_UINT32_EQUAL(max_sessions, VirtIOCryptodev,
                             "max-sessions must match the source's"),
        VMSTATE_UINT32(next_session_id, VirtIOCryptodev),
        VMSTATE_UINT64(stat_requests, VirtIOCryptodev),
        VMSTATE_UINT64(stat_bytes, VirtIOCryptodev),
        VMSTATE_UINT64(stat_errors, VirtIOCryptodev),
        VMSTATE_INT32(mig_num_sessions, VirtIOCryptodev),
        VMSTATE_STRUCT_VARRAY_ALLOC(mig_sessions, VirtIOCryptodev,
                                    mig_num_sessions, 0,
                                    vmstate_virtio_cryptodev_session,
                                    VirtIOCryptodevMigSession),
        VMSTATE_END_OF_LIST()
    },
};

static const VMStateDescription vmstate_virtio_cryptodev = {
    .name = "virtio-cryptodev",
    .version_id = 1,
    .minimum_version_id = 1,
    .fields = (VMStateField[]) {
        VMSTATE_VIRTIO_DEVICE,
        VMSTATE_END_OF_LIST()
    },
};

static VirtIOCryptodevProperty virtio_cryptodev_properties[] = {
    DEFINE_PROP_UINT32("max-data-len", VirtIOCryptodev, max_data_len,
                       VIRTIO_CRYPTODEV_DEFAULT_DATA_LEN),
    DEFINE_PROP_UINT32("max-sessions", VirtIOCryptodev, max_sessions,
                       VIRTIO_CRYPTODEV_DEFAULT_SESSIONS),
    DEFINE_PROP_SIZE("kernel-budget", VirtIOCryptodev, kernel_budget,
                     VIRTIO_CRYPTODEV_DEFAULT_KERNEL_BUDGET),
    DEFINE_PROP_UINT32("num-queues", VirtIOCryptodev, num_queues,
                       VIRTIO_CRYPTODEV_AUTO_NUM_QUEUES),
    DEFINE_PROP_STRING("backend", VirtIOCryptodev, backend_name),
    DEFINE_PROP_STRING("devcrypto-path", VirtIOCryptodev, devcrypto_path),
    DEFINE_PROP_LINK("iothread", VirtIOCryptodev, iothread, TYPE_IOTHREAD,
                     IOThread *),
    DEFINE_PROP_BOOL("parallel", VirtIOCryptodev, parallel, false),
    VIRTIO_CRYPTODEV_PROPS_END
};

static void virtio_cryptodev_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    VirtioDeviceClass *vdc = VIRTIO_DEVICE_CLASS(klass);

    device_class_set_props(dc, virtio_cryptodev_properties);
    dc->vmsd = &vmstate_virtio_cryptodev;
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
    vdc->realize = virtio_cryptodev_realize;
    vdc->unrealize = virtio_cryptodev_unrealize;
    vdc->get_config = virtio_cryptodev_get_config;
    vdc->get_features = virtio_cryptodev_get_features;
    vdc->reset = virtio_cryptodev_reset;
    vdc->vmsd = &vmstate_virtio_cryptodev_device;
}

static const TypeInfo virtio_cryptodev_info = {
    .name = TYPE_VIRTIO_CRYPTODEV,
    .parent = TYPE_VIRTIO_DEVICE,
    .instance_size = sizeof(VirtIOCryptodev),
    .instance_init = virtio_cryptodev_instance_init,
    .class_init = virtio_cryptodev_class_init,
};

static void virtio_cryptodev_register_types(void)
{
    type_register_static(&virtio_cryptodev_info);
}

type_init(virtio_cryptodev_register_types)
