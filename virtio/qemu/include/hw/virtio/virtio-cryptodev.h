/*
 * virtio-cryptodev: a paravirtual device that performs cryptodev-linux
 * operations (AES-CBC, HMAC, hashes) for the guest with the host's crypto.
 * The guest ABI is defined once, in cryptochat/virtio_cryptodev.h.
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or
 * (at your option) any later version.  See the COPYING file in the
 * top-level directory.
 */

#ifndef QEMU_VIRTIO_CRYPTODEV_H
#define QEMU_VIRTIO_CRYPTODEV_H

#include "hw/virtio/virtio.h"
#include "crypto/cipher.h"
#include "crypto/hash.h"
#include "qom/object.h"
#include "hw/virtio/virtio-cryptodev-compat.h"
#include "cryptochat/virtio_cryptodev.h"

#define TYPE_VIRTIO_CRYPTODEV "virtio-cryptodev-device"
OBJECT_DECLARE_SIMPLE_TYPE(VirtIOCryptodev, VIRTIO_CRYPTODEV)

/*
 * One turn answers at most this many requests, or this many source bytes
 * (but always at least one request), then yields: a guest that keeps the
 * ring full cannot starve QMP or other devices.
 */
#define VIRTIO_CRYPTODEV_BATCH_REQUESTS 32
#define VIRTIO_CRYPTODEV_BATCH_BYTES (2 * 1024 * 1024)

typedef enum VirtIOCryptodevAlgKind {
    VIRTIO_CRYPTODEV_ALG_CIPHER,
    VIRTIO_CRYPTODEV_ALG_HMAC,
    VIRTIO_CRYPTODEV_ALG_HASH,
} VirtIOCryptodevAlgKind;

/* A cipher with no transformation: CRYPTO_NULL copies, for benchmarks. */
#define VIRTIO_CRYPTODEV_MODE_NULL QCRYPTO_CIPHER_MODE__MAX
/* AES-GCM, which QEMU 7.2's qcrypto lacks: AUTH_CRYPT only. */
#define VIRTIO_CRYPTODEV_MODE_GCM (QCRYPTO_CIPHER_MODE__MAX + 1)

/* One row of the algorithm table: what the device supports, by cryptodev id. */
typedef struct VirtIOCryptodevAlg {
    uint32_t id;                 /* cryptodev-linux's CRYPTO_* */
    const char *name;
    VirtIOCryptodevAlgKind kind;
    uint32_t digest_len;         /* HMAC and hash */
    QCryptoHashAlgo hash;   /* HMAC and hash */
    int mode;                    /* QCryptoCipherMode, or _MODE_NULL/_GCM */
    uint32_t iv_len;             /* cipher: 16, 12 for GCM, 0 for ECB, NULL */
    uint32_t block_len;          /* cipher: data is a multiple of it */
} VirtIOCryptodevAlg;

/* What a backend is asked to set up: keys already validated by the device. */
typedef struct VirtIOCryptodevSessionParams {
    const VirtIOCryptodevAlg *cipher;   /* NULL for none */
    const VirtIOCryptodevAlg *mac;      /* NULL for none */
    const uint8_t *key;
    size_t key_len;
    const uint8_t *mac_key;
    size_t mac_key_len;
} VirtIOCryptodevSessionParams;

typedef struct VirtIOCryptodevSession {
    uint32_t id;
    const VirtIOCryptodevAlg *cipher;
    const VirtIOCryptodevAlg *mac;
    void *backend_session;
    unsigned int refs;            /* the table's, one per request on it */
    QemuMutex lock;               /* one operation at a time on its state */
    /* Kept to re-create the session after a migration; wiped when freed. */
    uint8_t *keys;                /* key_len bytes of key, then the MAC key */
    uint32_t key_len;
    uint32_t mac_key_len;
    /* A multi-part MAC with data but no digest yet: no backend exports it. */
    bool mac_pending;
} VirtIOCryptodevSession;

/* A session as the migration stream carries it. */
typedef struct VirtIOCryptodevMigSession {
    uint32_t id;
    uint32_t cipher;              /* cryptodev ids, 0 for none */
    uint32_t mac;
    uint32_t key_len;
    uint32_t mac_key_len;
    uint32_t keys_len;            /* key_len + mac_key_len */
    uint8_t *keys;
} VirtIOCryptodevMigSession;

/*
 * One AUTH_CRYPT, its lengths checked by the device against the session
 * (see VIRTIO_CRYPTODEV_OP_AUTH_CRYPT for what each mode does).
 */
typedef struct VirtIOCryptodevAuthOp {
    uint32_t mode;               /* VIRTIO_CRYPTODEV_AUTH_* */
    uint32_t op;                 /* VIRTIO_CRYPTODEV_ENCRYPT/DECRYPT */
    const uint8_t *iv;           /* the cipher's iv_len bytes */
    const uint8_t *auth;         /* A */
    size_t auth_len;
    size_t data_off;             /* where in A the data sits */
    const uint8_t *src;          /* the data */
    size_t len;
    const uint8_t *tag;          /* decrypting AEAD, SRTP, ETM: to check */
    size_t tag_len;
    uint8_t *out;                /* len bytes, then the tail */
    size_t result_len;           /* set on success */
} VirtIOCryptodevAuthOp;

/*
 * A backend performs the operations. Every call returns a
 * VIRTIO_CRYPTODEV_S_* status; inputs have been checked by the device.
 */
typedef struct VirtIOCryptodevBackend {
    const char *name;
    /* Returns false (with errp set) when the backend cannot be had. */
    bool (*open)(VirtIOCryptodev *s, Error **errp);
    void (*close)(VirtIOCryptodev *s);
    uint32_t (*create_session)(VirtIOCryptodev *s,
                               const VirtIOCryptodevSessionParams *params,
                               void **backend_session);
    void (*destroy_session)(VirtIOCryptodev *s, void *backend_session);
    /*
     * dst holds len bytes for a cipher session. A MAC session keeps a
     * running state: flags (VIRTIO_CRYPTODEV_F_*) say when it starts
     * over; digest, when not NULL, takes the MAC's digest_len bytes and
     * the state starts over after it.
     */
    uint32_t (*crypt)(VirtIOCryptodev *s, VirtIOCryptodevSession *session,
                      uint32_t op, uint32_t flags, const uint8_t *iv,
                      const uint8_t *src, uint8_t *dst, size_t len,
                      uint8_t *digest);
    /* S_BADMSG when a tag or TLS padding does not verify. */
    uint32_t (*auth_crypt)(VirtIOCryptodev *s, VirtIOCryptodevSession *session,
                           VirtIOCryptodevAuthOp *op);
    /* Copies src's running MAC state into dst (same algorithm). */
    uint32_t (*copy_hash)(VirtIOCryptodev *s, VirtIOCryptodevSession *dst,
                          VirtIOCryptodevSession *src);
    /*
     * The host kernel memory one session may come to hold, at most, with
     * the device's limits (NULL: none; QEMU's own memory is its process's).
     */
    uint64_t (*session_cost)(VirtIOCryptodev *s);
} VirtIOCryptodevBackend;

extern const VirtIOCryptodevBackend virtio_cryptodev_builtin_backend;
extern const VirtIOCryptodevBackend virtio_cryptodev_devcrypto_backend;

/* num-queues' default: one per vCPU on PCI (the wrapper decides), else one. */
#define VIRTIO_CRYPTODEV_AUTO_NUM_QUEUES UINT32_MAX

typedef struct VirtIOCryptodevQueue VirtIOCryptodevQueue;

/*
 * A batch answered off the BQL (iothread or thread pool). Its owner, in
 * turn: the main loop, which pops it; the worker, until it sets @worked;
 * then a bottom half in the main loop, which hands it back and frees it.
 * A drain that finds it worked takes what is not handed back and marks it
 * @stale: the bottom half then only frees it, touching neither queue nor
 * device, which may be gone by then.
 */
typedef struct VirtIOCryptodevBatch {
    VirtIOCryptodevQueue *q;
    bool worked;                  /* set by the worker, last */
    bool stale;                   /* a drain dropped it */
    unsigned int len;
    unsigned int next;            /* the first not handed back to the guest */
    VirtQueueElement *elem[VIRTIO_CRYPTODEV_BATCH_REQUESTS];
    bool answered[VIRTIO_CRYPTODEV_BATCH_REQUESTS];
    unsigned int used[VIRTIO_CRYPTODEV_BATCH_REQUESTS];
} VirtIOCryptodevBatch;

/*
 * One request queue. Its requests are answered in the order they were
 * taken, a bounded batch at a time; queues do not wait for each other.
 */
struct VirtIOCryptodevQueue {
    VirtIOCryptodev *s;
    VirtQueue *vq;
    QEMUBH *bh;                   /* runs the queue, a bounded batch a turn */
    VirtIOCryptodevBatch *batch;  /* with a worker: the one batch out */
};

struct VirtIOCryptodev {
    VirtIODevice parent_obj;

    VirtIOCryptodevQueue *queues;
    uint32_t num_queues;
    IOThread *iothread;
    bool parallel;                /* queues' batches on QEMU's thread pool */
    bool draining;                /* no batch goes out until the drain ends */
    bool stopped;                 /* the VM is stopped: no request is taken */
    VMChangeStateEntry *vm_state;
    /*
     * The session table, and the id counter: with "parallel" two queues'
     * requests may create, use and destroy sessions at once.
     */
    QemuMutex sessions_lock;
    GHashTable *sessions;         /* id -> VirtIOCryptodevSession */
    uint32_t next_session_id;

    /* Properties, mirrored in the config space. */
    uint32_t max_data_len;
    uint32_t max_sessions;
    uint64_t kernel_budget;       /* host kernel memory all sessions may hold */
    char *backend_name;           /* "auto", "builtin" or "devcrypto" */
    char *devcrypto_path;

    const VirtIOCryptodevBackend *backend;
    int devcrypto_fd;             /* the devcrypto backend's; -1 otherwise */

    /* Read-only QOM properties, so a test can see the work came here. */
    uint64_t stat_requests;
    uint64_t stat_bytes;
    uint64_t stat_errors;

    /* The sessions while the device's state is saved or loaded. */
    VirtIOCryptodevMigSession *mig_sessions;
    int32_t mig_num_sessions;
};

#endif
