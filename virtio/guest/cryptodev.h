/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtio-cryptodev guest driver: what the virtio half (device.c) and the
 * character-device half (chrdev.c) share.
 */
#ifndef VIRTIO_CRYPTODEV_GUEST_H
#define VIRTIO_CRYPTODEV_GUEST_H

#include <linux/atomic.h>
#include <linux/cache.h>
#include <linux/completion.h>
#include <linux/kref.h>
#include <linux/scatterlist.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <linux/workqueue.h>
#include <linux/mutex.h>
#include <linux/xarray.h>
#include <virtio_cryptodev.h>

#define VCD_MAX_DEVICES	64
/*
 * Descriptors of a request besides its data: header, AUTH_CRYPT's header,
 * IV, authenticated data, tag in, digest (or tail) out, response.
 */
#define VCD_FIXED_SGS	7

/*
 * One request queue. A caller submits on its CPU's queue, whose interrupt
 * is affine to that CPU: the answer wakes it where it sleeps.
 */
struct vcd_queue {
	struct virtqueue *vq;
	spinlock_t lock;		/* @vq and @full */
	wait_queue_head_t ring_wait;	/* submitters waiting for a ring slot */
	bool full;
	char name[16];
} ____cacheline_aligned_in_smp;

/* One per virtio-cryptodev device, on vdev->priv; open files hold a ref. */
struct vcd_device {
	struct virtio_device *vdev;	/* valid only while !removed */
	struct vcd_queue *queues;
	unsigned int nqueues;
	u16 *cpu_queue;			/* CPU -> its queue, for every CPU id */
	/*
	 * @removed, @resetting and @generation: written under the write side,
	 * read by submitters under the read side while they queue, so that a
	 * reset or removal that has taken the lock sees every request that
	 * will ever be queued before it.
	 */
	rwlock_t state_lock;
	bool removed;
	bool resetting;			/* NEEDS_RESET seen, @reset_work runs */
	/*
	 * Bumped by every reset, which empties the device's session table:
	 * a session of an older generation is never sent, so its id, which
	 * the device may have handed out again, cannot reach another's key.
	 */
	u32 generation;
	struct work_struct reset_work;
	struct kref ref;
	int minor;

	/* Limits from the config space, checked before any allocation. */
	u32 max_data_len;
	u32 max_sessions;
	u32 max_key_len;
	unsigned int max_sgs;		/* descriptors one chain may use */

	/* User memory pinned or bounced for requests in flight, bounded. */
	spinlock_t mem_lock;
	size_t mem_in_flight;
	size_t mem_limit;
	wait_queue_head_t mem_wait;

	atomic64_t stat_requests;
	atomic64_t stat_bytes;
	atomic64_t stat_errors;
	atomic64_t stat_resets;
	atomic64_t stat_bounced;
	atomic64_t stat_ring_waits;	/* submitters that found their ring full */
};

/*
 * One request in flight. Allocated (never on the stack: the device reads and
 * writes it) by the submitter, which sleeps on @done until the queue
 * callback, a reset or device removal completes it. The device writes
 * @digest and @resp: each has a cache line of its own.
 */
struct vcd_request {
	struct virtio_cryptodev_req hdr;
	struct virtio_cryptodev_auth auth;	/* AUTH_CRYPT */
	u8 iv[VIRTIO_CRYPTODEV_BLOCK_LEN];
	u8 tag[VIRTIO_CRYPTODEV_MAX_DIGEST_LEN];	/* AUTH_CRYPT's to check */
	/* The digest; AUTH_CRYPT's tail: a tag, encrypted TLS padding. */
	u8 digest[VIRTIO_CRYPTODEV_MAX_TAIL_LEN] ____cacheline_aligned;
	struct virtio_cryptodev_resp resp ____cacheline_aligned;
	struct completion done ____cacheline_aligned;
	/* Asynchronous requests: called instead of completing @done. */
	void (*answered)(struct vcd_request *req);
	void *owner;
	unsigned int used_len;
	u32 generation;			/* the device's, when it was queued */
	bool queued;			/* the device was handed the buffers */
	int error;			/* -ENODEV gone, -EIO reset */
};

/* Any generation: for requests that do not name a session. */
#define VCD_ANY_GENERATION	U32_MAX

int vcd_queue(struct vcd_device *vcd, struct vcd_request *req,
	      struct scatterlist **sgs, unsigned int out_sgs,
	      unsigned int in_sgs, u32 generation, bool killable);
int vcd_check_answer(struct vcd_device *vcd, struct vcd_request *req,
		     u32 expected_out);
int vcd_submit(struct vcd_device *vcd, struct vcd_request *req,
	       struct scatterlist **sgs, unsigned int out_sgs,
	       unsigned int in_sgs, u32 expected_out, u32 generation,
	       bool killable);
void vcd_put(struct vcd_device *vcd);

/*
 * A request's source and destination in user memory, as the device sees
 * them: the caller's pages pinned in place (charged to its RLIMIT_MEMLOCK),
 * or, when they would not fit in one chain or the charge is refused, a
 * kernel bounce buffer of large chunks. Either way the bytes in flight per
 * device are bounded (buffers.c).
 */
struct vcd_data {
	struct vcd_device *vcd;
	struct page **pages;		/* pinned: source, then destination */
	unsigned int src_pages;
	unsigned int dst_pages;
	struct page **chunks;		/* bounced */
	unsigned int nchunks;
	unsigned int order;
	struct scatterlist *src_sg;	/* what the device reads */
	struct scatterlist *dst_sg;	/* writes; NULL for none, == src in place */
	struct scatterlist *sg_mem;
	size_t charged;
	struct mm_struct *mm;		/* the caller's, held while pinned */
	unsigned long locked;		/* pages charged to @mm */
	void __user *dst;
	u32 len;
	bool bounced;
};

int vcd_data_get(struct vcd_data *data, struct vcd_device *vcd,
		 const void __user *src, void __user *dst, u32 len, bool has_dst);
int vcd_data_finish(struct vcd_data *data, bool answered);
void vcd_data_put(struct vcd_data *data, bool written);


/* The character-device half (chrdev.c, authcrypt.c). */
enum vcd_alg_kind { VCD_CIPHER, VCD_HMAC, VCD_HASH };
enum vcd_mode { VCD_NONE, VCD_CBC, VCD_CTR, VCD_ECB, VCD_XTS, VCD_NULL, VCD_GCM };

struct vcd_alg {
	u32 id;
	const char *name;
	enum vcd_alg_kind kind;
	u32 digest_len;			/* HMAC and hash */
	enum vcd_mode mode;		/* cipher */
	u32 iv_len;			/* cipher: 16, 12 for GCM, 0 for ECB, NULL */
	u32 block_len;			/* cipher: data is a multiple of it */
};

struct vcd_session {
	struct kref ref;		/* the file's, and one per request */
	struct vcd_device *vcd;
	u32 id;				/* the device's */
	u32 generation;			/* the device's, when it was created */
	const struct vcd_alg *cipher;
	const struct vcd_alg *mac;
	struct vcd_request *destroy;	/* destroying never waits for memory */
};

/* Asynchronous jobs per file, queued or answered but not fetched. */
#define VCD_ASYNC_MAX	16

struct vcd_file {
	struct vcd_device *vcd;
	struct mutex lock;		/* @sessions lookups against removal */
	struct xarray sessions;		/* session handle -> vcd_session */

	spinlock_t async_lock;		/* the counts and @async_done */
	struct list_head async_done;	/* answered, in answer order */
	unsigned int async_jobs;	/* queued or answered, not fetched */
	unsigned int async_in_flight;	/* queued, not answered */
	wait_queue_head_t async_wait;	/* poll(), and release */
};

struct vcd_request *vcd_request_alloc(u32 opcode, u32 session_id);
struct vcd_session *vcd_get_session(struct vcd_file *file, u32 id);
void vcd_session_put(struct vcd_session *session);
int vcd_next_iv_before(const struct vcd_alg *alg, u16 op, u32 len,
		       const u8 __user *src, const u8 *iv, u8 *next_iv);
int vcd_auth_crypt(struct vcd_file *file, struct crypt_auth_op *caop);

int vcd_chrdev_init(void);
void vcd_chrdev_exit(void);
int vcd_chrdev_add(struct vcd_device *vcd, struct device *parent);
void vcd_chrdev_del(struct vcd_device *vcd);

#endif /* VIRTIO_CRYPTODEV_GUEST_H */
