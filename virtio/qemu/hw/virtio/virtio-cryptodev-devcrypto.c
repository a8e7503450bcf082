/*
 * virtio-cryptodev devcrypto backend: the host's /dev/crypto
 * (cryptodev-linux ioctl ABI), so the guest's work reaches the host's crypto
 * drivers and accelerators. The descriptor stays inside QEMU: the guest only
 * ever sees the device's own session ids.
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or
 * (at your option) any later version.  See the COPYING file in the
 * top-level directory.
 */

#include "qemu/osdep.h"
#include "qapi/error.h"
#include <sys/ioctl.h>
#include "hw/virtio/virtio-cryptodev.h"
#include "cryptochat/crypto/cryptodev.h"
#include "trace.h"

typedef struct DevcryptoSession {
    uint32_t ses;
} DevcryptoSession;

static bool devcrypto_open(VirtIOCryptodev *s, Error **errp)
{
    int fd = qemu_open(s->devcrypto_path, O_RDWR, errp);

    if (fd < 0) {
        return false;
    }
    s->devcrypto_fd = fd;
    return true;
}

static void devcrypto_close(VirtIOCryptodev *s)
{
    if (s->devcrypto_fd >= 0) {
        close(s->devcrypto_fd);
        s->devcrypto_fd = -1;
    }
}

static uint32_t devcrypto_status(VirtIOCryptodev *s, const char *what)
{
    int err = errno;

    trace_virtio_cryptodev_backend_error(s, what);
    return err == EINVAL || err == ENOTSUP ? VIRTIO_CRYPTODEV_S_NOTSUPP :
                                             VIRTIO_CRYPTODEV_S_BACKEND;
}

static uint32_t devcrypto_create_session(VirtIOCryptodev *s,
                                         const VirtIOCryptodevSessionParams *p,
                                         void **backend_session)
{
    struct session_op sop = {
        .cipher = p->cipher ? p->cipher->id : 0,
        .mac = p->mac ? p->mac->id : 0,
        .keylen = p->key_len,
        .key = (__u8 *)p->key,
        .mackeylen = p->mac_key_len,
        .mackey = (__u8 *)p->mac_key,
    };
    DevcryptoSession *session;

    if (ioctl(s->devcrypto_fd, CIOCGSESSION, &sop) < 0) {
        return devcrypto_status(s, "CIOCGSESSION");
    }
    session = g_new0(DevcryptoSession, 1);
    session->ses = sop.ses;
    *backend_session = session;
    return VIRTIO_CRYPTODEV_S_OK;
}

static void devcrypto_destroy_session(VirtIOCryptodev *s, void *backend_session)
{
    DevcryptoSession *session = backend_session;

    if (ioctl(s->devcrypto_fd, CIOCFSESSION, &session->ses) < 0) {
        trace_virtio_cryptodev_backend_error(s, "CIOCFSESSION");
    }
    g_free(session);
}

/*
 * cryptodev-linux keeps, per session, the arrays of user pages it pinned for
 * the largest request the session carried, source and destination, until the
 * session ends: a guest could make every session hold arrays for max-data-len.
 * So requests reach it in place (one buffer, one array) and, where the
 * algorithm carries its state from one call to the next, in pieces of at most
 * DEVCRYPTO_PIECE: a cipher's IV comes back with COP_FLAG_WRITE_IV, a hash's
 * running state stays in its session.
 */
#define DEVCRYPTO_PIECE (64 * 1024)

static uint32_t devcrypto_run(VirtIOCryptodev *s, struct crypt_op *cop)
{
    if (ioctl(s->devcrypto_fd, CIOCCRYPT, cop) < 0) {
        return devcrypto_status(s, "CIOCCRYPT");
    }
    return VIRTIO_CRYPTODEV_S_OK;
}

/* A cipher alone, but XTS (its tweak covers the whole request): in place, in pieces. */
static uint32_t devcrypto_cipher_pieces(VirtIOCryptodev *s, struct crypt_op *cop,
                                        const uint8_t *src, uint8_t *dst,
                                        size_t len)
{
    uint32_t status = VIRTIO_CRYPTODEV_S_OK;
    size_t off, n;

    memcpy(dst, src, len);
    cop->flags = cop->iv ? COP_FLAG_WRITE_IV : 0;
    for (off = 0; off < len && status == VIRTIO_CRYPTODEV_S_OK; off += n) {
        n = MIN(len - off, DEVCRYPTO_PIECE);
        cop->src = cop->dst = dst + off;
        cop->len = n;
        status = devcrypto_run(s, cop);
    }
    return status;
}

/*
 * A hash or HMAC alone, longer than a piece: the first piece starts over
 * when the request did, the last writes the digest when the request does.
 */
static uint32_t devcrypto_hash_pieces(VirtIOCryptodev *s, struct crypt_op *cop,
                                      uint32_t flags, const uint8_t *src,
                                      size_t len, uint8_t *digest)
{
    bool restart = !flags || (flags & VIRTIO_CRYPTODEV_F_RESET);
    uint32_t status = VIRTIO_CRYPTODEV_S_OK;
    size_t off, n;

    for (off = 0; off < len && status == VIRTIO_CRYPTODEV_S_OK; off += n) {
        n = MIN(len - off, DEVCRYPTO_PIECE);
        cop->flags = COP_FLAG_UPDATE | (!off && restart ? COP_FLAG_RESET : 0);
        cop->mac = NULL;
        if (off + n == len && digest) {
            cop->flags = COP_FLAG_FINAL;
            cop->mac = digest;
        }
        cop->src = (__u8 *)src + off;
        cop->dst = NULL;
        cop->len = n;
        status = devcrypto_run(s, cop);
    }
    return status;
}

static uint32_t devcrypto_crypt(VirtIOCryptodev *s, VirtIOCryptodevSession *session,
                                uint32_t op, uint32_t flags, const uint8_t *iv,
                                const uint8_t *src, uint8_t *dst, size_t len,
                                uint8_t *digest)
{
    DevcryptoSession *d = session->backend_session;
    uint8_t iv_copy[VIRTIO_CRYPTODEV_BLOCK_LEN];
    /*
     * The host's cryptodev-linux keeps the running state, and writes a
     * digest by the rule the device used to decide that @digest is wanted.
     */
    struct crypt_op cop = {
        .ses = d->ses,
        .op = op,
        .flags = (flags & VIRTIO_CRYPTODEV_F_UPDATE ? COP_FLAG_UPDATE : 0) |
                 (flags & VIRTIO_CRYPTODEV_F_FINAL ? COP_FLAG_FINAL : 0) |
                 (flags & VIRTIO_CRYPTODEV_F_RESET ? COP_FLAG_RESET : 0),
        .len = len,
        .src = (__u8 *)src,
        .dst = dst,
        .mac = digest,
    };

    if (iv) {
        /* cryptodev-linux writes the IV back: hand it a copy. */
        memcpy(iv_copy, iv, sizeof(iv_copy));
        cop.iv = iv_copy;
    }
    if (session->cipher && !session->mac &&
        session->cipher->mode != QCRYPTO_CIPHER_MODE_XTS) {
        return devcrypto_cipher_pieces(s, &cop, src, dst, len);
    }
    if (session->mac && !session->cipher && len > DEVCRYPTO_PIECE) {
        return devcrypto_hash_pieces(s, &cop, flags, src, len, digest);
    }
    /* XTS, a cipher with a MAC, a short hash: one call, as the request came. */
    return devcrypto_run(s, &cop);
}

static uint32_t devcrypto_auth_crypt(VirtIOCryptodev *s,
                                     VirtIOCryptodevSession *session,
                                     VirtIOCryptodevAuthOp *a)
{
    DevcryptoSession *d = session->backend_session;
    uint8_t iv[VIRTIO_CRYPTODEV_BLOCK_LEN];
    bool decrypt = a->op == VIRTIO_CRYPTODEV_DECRYPT;
    struct crypt_auth_op cao = {
        .ses = d->ses,
        .op = a->op,
        .len = a->len,
        .auth_len = a->auth_len,
        .auth_src = (__u8 *)a->auth,
        .src = (__u8 *)a->src,
        .dst = a->out,
        .tag_len = a->tag_len,
        .iv = iv,
    };
    size_t buf_len = 0;
    uint8_t *buf = NULL;
    uint32_t status = VIRTIO_CRYPTODEV_S_OK;
    const uint8_t *result = NULL;   /* where the output is, when not in a->out */

    /* Every mode runs in place: one array of pinned pages in the host kernel. */
    memcpy(iv, a->iv, session->cipher->iv_len);
    switch (a->mode) {
    case VIRTIO_CRYPTODEV_AUTH_AEAD:
        if (decrypt) {
            /* cryptodev-linux reads the tag after the ciphertext. */
            buf_len = a->len + a->tag_len;
            buf = g_malloc(buf_len);
            memcpy(buf, a->src, a->len);
            memcpy(buf + a->len, a->tag, a->tag_len);
            cao.src = cao.dst = buf;
            cao.len = buf_len;
            result = buf;
        } else {
            /* a->out has room for the tag after the ciphertext. */
            memcpy(a->out, a->src, a->len);
            cao.src = a->out;
        }
        break;
    case VIRTIO_CRYPTODEV_AUTH_TLS:
        memcpy(a->out, a->src, a->len);
        cao.src = a->out;
        cao.flags = COP_FLAG_AEAD_TLS_TYPE;
        break;
    default:
        buf_len = a->auth_len + a->len;
        buf = g_malloc(buf_len);
        memcpy(buf, a->auth, a->data_off);
        memcpy(buf + a->data_off, a->src, a->len);
        memcpy(buf + a->data_off + a->len, a->auth + a->data_off,
               a->auth_len - a->data_off);
        result = buf + a->data_off;
        cao.auth_src = buf;
        cao.auth_len = buf_len;
        cao.src = cao.dst = buf + a->data_off;
        cao.tag = decrypt ? (__u8 *)a->tag : a->out + a->len;
        cao.flags = a->mode == VIRTIO_CRYPTODEV_AUTH_SRTP ?
                    COP_FLAG_AEAD_SRTP_TYPE :
                    VIRTIO_CRYPTODEV_COP_FLAG_AEAD_ETM_TYPE;
        break;
    }

    if (ioctl(s->devcrypto_fd, CIOCAUTHCRYPT, &cao) < 0) {
        status = errno == EBADMSG ? VIRTIO_CRYPTODEV_S_BADMSG :
                 devcrypto_status(s, "CIOCAUTHCRYPT");
    } else if (cao.len > a->len + VIRTIO_CRYPTODEV_MAX_TAIL_LEN) {
        /* Never trust a length, not even the host's. */
        status = VIRTIO_CRYPTODEV_S_BACKEND;
    } else {
        a->result_len = cao.len;
        if (result) {
            memcpy(a->out, result, a->len);
        }
    }
    if (buf) {
        explicit_bzero(buf, buf_len);
        g_free(buf);
    }
    return status;
}

static uint32_t devcrypto_copy_hash(VirtIOCryptodev *s,
                                    VirtIOCryptodevSession *dst,
                                    VirtIOCryptodevSession *src)
{
    DevcryptoSession *to = dst->backend_session, *from = src->backend_session;
    struct cphash_op op = { .dst_ses = to->ses, .src_ses = from->ses };

    if (ioctl(s->devcrypto_fd, CIOCCPHASH, &op) < 0) {
        return devcrypto_status(s, "CIOCCPHASH");
    }
    return VIRTIO_CRYPTODEV_S_OK;
}

/*
 * What cryptodev-linux keeps for a session: about 80 bytes of arrays per page
 * of the largest request (measured: 633 KiB a session after a 16 MiB request
 * with separate source and destination, 8,194 pages). Requests come in place,
 * CRYPT in pieces; AUTH_CRYPT is one call, data, A and the tail together.
 */
#define DEVCRYPTO_COST_PER_PAGE 80

static uint64_t devcrypto_session_cost(VirtIOCryptodev *s)
{
    uint64_t largest = MAX((uint64_t)DEVCRYPTO_PIECE,
                           (uint64_t)s->max_data_len + VIRTIO_CRYPTODEV_MAX_AUTH_LEN +
                           VIRTIO_CRYPTODEV_MAX_TAIL_LEN);

    /* A buffer not page-aligned spans one page more, A one more again. */
    return (DIV_ROUND_UP(largest, qemu_real_host_page_size()) + 2) *
           DEVCRYPTO_COST_PER_PAGE;
}

const VirtIOCryptodevBackend virtio_cryptodev_devcrypto_backend = {
    .name = "devcrypto",
    .open = devcrypto_open,
    .close = devcrypto_close,
    .create_session = devcrypto_create_session,
    .destroy_session = devcrypto_destroy_session,
    .crypt = devcrypto_crypt,
    .auth_crypt = devcrypto_auth_crypt,
    .copy_hash = devcrypto_copy_hash,
    .session_cost = devcrypto_session_cost,
};
