/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtio-cryptodev guest driver: what the virtio half (device.c) and the
 * character-device half (chrdev.c) share.
 */
#ifndef VIRTIO_CRYPTODEV_GUEST_H
#define VIRTIO_CRYPTODEV_GUEST_H

#include <linux/atomic.h>
#include <linux/completion.h>
#include <linux/kref.h>
#include <linux/scatterlist.h>
#include <linux/spinlock.h>
#include <linux/wait.h>
#include <virtio_cryptodev.h>

#define VCD_MAX_DEVICES	64

/* One per virtio-cryptodev device, on vdev->priv; open files hold a ref. */
struct vcd_device {
	struct virtio_device *vdev;	/* valid only while !removed */
	struct virtqueue *vq;
	spinlock_t vq_lock;		/* the queue, @ring_full, @removed */
	wait_queue_head_t ring_wait;	/* submitters waiting for a ring slot */
	bool ring_full;
	bool removed;
	struct kref ref;
	int minor;

	/* Limits from the config space, checked before any allocation. */
	u32 max_data_len;
	u32 max_sessions;
	u32 max_key_len;

	atomic64_t stat_requests;
	atomic64_t stat_bytes;
	atomic64_t stat_errors;
};

/*
 * One request in flight. Allocated (never on the stack: the device reads and
 * writes it) by the submitter, which sleeps on @done until the queue
 * callback or device removal completes it.
 */
struct vcd_request {
	struct virtio_cryptodev_req hdr;
	u8 iv[VIRTIO_CRYPTODEV_BLOCK_LEN];
	u8 digest[VIRTIO_CRYPTODEV_MAX_DIGEST_LEN];
	struct virtio_cryptodev_resp resp;
	struct completion done;
	unsigned int used_len;
	int error;			/* -ENODEV when the device went away */
};

int vcd_submit(struct vcd_device *vcd, struct vcd_request *req,
	       struct scatterlist **sgs, unsigned int out_sgs,
	       unsigned int in_sgs, u32 expected_out);
void vcd_put(struct vcd_device *vcd);

int vcd_chrdev_init(void);
void vcd_chrdev_exit(void);
int vcd_chrdev_add(struct vcd_device *vcd, struct device *parent);
void vcd_chrdev_del(struct vcd_device *vcd);

#endif /* VIRTIO_CRYPTODEV_GUEST_H */
