// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-cryptodev guest driver, the virtio half: probe and remove, the
 * request queue, and the checks on what the device answers.
 *
 * Submitters sleep on a per-request completion; the queue callback only
 * collects finished requests under the queue lock and completes them. On
 * removal the device is reset and every request still queued is completed
 * with -ENODEV, so no caller waits forever. A device that says it needs a
 * reset (NEEDS_RESET) gets one from a work item: the requests it holds fail
 * with -EIO, the queue is set up again, and later requests work.
 */

#include <linux/module.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/virtio.h>
#include <linux/virtio_config.h>
#include "cryptodev.h"

static int vcd_status_to_errno(u32 status)
{
	switch (status) {
	case VIRTIO_CRYPTODEV_S_OK:
		return 0;
	case VIRTIO_CRYPTODEV_S_BADREQ:
	case VIRTIO_CRYPTODEV_S_NOTSUPP:
	case VIRTIO_CRYPTODEV_S_NOSESSION:
		return -EINVAL;
	case VIRTIO_CRYPTODEV_S_NOSPACE:
		return -ENOSPC;
	case VIRTIO_CRYPTODEV_S_BADMSG:
		return -EBADMSG;	/* as cryptodev-linux: a tag did not verify */
	default:
		return -EIO;
	}
}

/* Under the queue lock: the submitter wakes, or an async job is done. */
static void vcd_answered(struct vcd_request *req)
{
	if (req->answered)
		req->answered(req);
	else
		complete(&req->done);
}

static void vcd_queue_done(struct virtqueue *vq)
{
	struct vcd_device *vcd = vq->vdev->priv;
	struct vcd_request *req;
	unsigned long flags;
	unsigned int len;

	spin_lock_irqsave(&vcd->vq_lock, flags);
	do {
		virtqueue_disable_cb(vq);
		while ((req = virtqueue_get_buf(vq, &len))) {
			req->used_len = len;
			vcd_answered(req);
			vcd->ring_full = false;
		}
	} while (!virtqueue_enable_cb(vq));
	spin_unlock_irqrestore(&vcd->vq_lock, flags);
	wake_up_all(&vcd->ring_wait);
}

/* The device may be lying; believe only answers of the expected shape. */
int vcd_check_answer(struct vcd_device *vcd, struct vcd_request *req,
		     u32 expected_out)
{
	u32 status, out_len;

	/* Every answer covers the whole writable part, the response last. */
	if (req->used_len != expected_out + sizeof(req->resp))
		goto bad;
	status = le32_to_cpu(req->resp.status);
	out_len = le32_to_cpu(req->resp.out_len);
	if (status == VIRTIO_CRYPTODEV_S_OK && out_len != expected_out)
		goto bad;
	if (status != VIRTIO_CRYPTODEV_S_OK)
		atomic64_inc(&vcd->stat_errors);
	return vcd_status_to_errno(status);
bad:
	atomic64_inc(&vcd->stat_errors);
	pr_warn_ratelimited("virtio_cryptodev: cryptodev%d: malformed answer (used %u)\n",
			    vcd->minor, req->used_len);
	return -EIO;
}

static bool vcd_ring_usable(struct vcd_device *vcd)
{
	return !READ_ONCE(vcd->ring_full) || READ_ONCE(vcd->removed) ||
	       READ_ONCE(vcd->resetting);
}

/*
 * Queues @req (its buffers already in @sgs); the queue callback, a reset or
 * removal answers it later (@req->answered, or @req->done). Waits for a
 * free ring slot when the ring is full, killably when @killable: a caller
 * that must not give up (a session's destroy) waits for the device, which
 * always ends the wait. @generation: the session's, or VCD_ANY_GENERATION;
 * a session from before a reset is refused with -EIO instead of being sent.
 */
int vcd_queue(struct vcd_device *vcd, struct vcd_request *req,
	      struct scatterlist **sgs, unsigned int out_sgs,
	      unsigned int in_sgs, u32 generation, bool killable)
{
	int err;

	init_completion(&req->done);
	req->error = 0;
	req->used_len = 0;
	req->queued = false;
	for (;;) {
		spin_lock_irq(&vcd->vq_lock);
		if (vcd->removed) {
			spin_unlock_irq(&vcd->vq_lock);
			return -ENODEV;
		}
		if (vcd->resetting || (generation != VCD_ANY_GENERATION &&
					generation != vcd->generation)) {
			spin_unlock_irq(&vcd->vq_lock);
			return -EIO;
		}
		err = virtqueue_add_sgs(vcd->vq, sgs, out_sgs, in_sgs, req,
					GFP_ATOMIC);
		if (err != -ENOSPC)
			break;
		/* Full with nothing in flight: this request can never fit. */
		if (vcd->vq->num_free == virtqueue_get_vring_size(vcd->vq)) {
			err = -ENOMEM;
			break;
		}
		vcd->ring_full = true;
		spin_unlock_irq(&vcd->vq_lock);
		if (!killable)
			wait_event(vcd->ring_wait, vcd_ring_usable(vcd));
		else if (wait_event_killable(vcd->ring_wait, vcd_ring_usable(vcd)))
			return -EINTR;
	}
	if (err) {
		spin_unlock_irq(&vcd->vq_lock);
		return err;
	}
	req->queued = true;
	req->generation = vcd->generation;
	virtqueue_kick(vcd->vq);
	spin_unlock_irq(&vcd->vq_lock);
	atomic64_inc(&vcd->stat_requests);
	return 0;
}

/* Queues @req and sleeps until it is answered; see vcd_queue(). */
int vcd_submit(struct vcd_device *vcd, struct vcd_request *req,
	       struct scatterlist **sgs, unsigned int out_sgs,
	       unsigned int in_sgs, u32 expected_out, u32 generation,
	       bool killable)
{
	int err = vcd_queue(vcd, req, sgs, out_sgs, in_sgs, generation,
			    killable);

	if (err)
		return err;
	wait_for_completion(&req->done);
	if (req->error)
		return req->error;
	return vcd_check_answer(vcd, req, expected_out);
}

/* Completes every request the device still holds with @error. */
static void vcd_fail_queued(struct vcd_device *vcd, int error)
{
	struct vcd_request *req;

	spin_lock_irq(&vcd->vq_lock);
	while (vcd->vq && (req = virtqueue_detach_unused_buf(vcd->vq))) {
		req->error = error;
		vcd_answered(req);
	}
	vcd->ring_full = false;
	spin_unlock_irq(&vcd->vq_lock);
	wake_up_all(&vcd->ring_wait);
}

/* The status dance of probe again, on a device that was just reset. */
static int vcd_restart(struct vcd_device *vcd)
{
	struct virtio_device *vdev = vcd->vdev;
	int err;

	virtio_add_status(vdev, VIRTIO_CONFIG_S_ACKNOWLEDGE);
	virtio_add_status(vdev, VIRTIO_CONFIG_S_DRIVER);
	err = vdev->config->finalize_features(vdev);
	if (err)
		return err;
	virtio_add_status(vdev, VIRTIO_CONFIG_S_FEATURES_OK);
	if (!(vdev->config->get_status(vdev) & VIRTIO_CONFIG_S_FEATURES_OK))
		return -ENODEV;
	vcd->vq = virtio_find_single_vq(vdev, vcd_queue_done, "requests");
	if (IS_ERR(vcd->vq)) {
		err = PTR_ERR(vcd->vq);
		vcd->vq = NULL;
		return err;
	}
	virtio_device_ready(vdev);
	return 0;
}

static void vcd_reset_work(struct work_struct *work)
{
	struct vcd_device *vcd = container_of(work, struct vcd_device,
					      reset_work);
	struct virtio_device *vdev = vcd->vdev;
	int err;

	if (!(vdev->config->get_status(vdev) & VIRTIO_CONFIG_S_NEEDS_RESET))
		return;
	dev_warn(&vdev->dev, "device needs a reset: failing its requests\n");
	spin_lock_irq(&vcd->vq_lock);
	vcd->resetting = true;
	spin_unlock_irq(&vcd->vq_lock);
	wake_up_all(&vcd->ring_wait);

	/* After the reset no callback runs: what the ring holds is ours. */
	virtio_reset_device(vdev);
	vcd_fail_queued(vcd, -EIO);
	vdev->config->del_vqs(vdev);
	err = vcd_restart(vcd);
	atomic64_inc(&vcd->stat_resets);

	spin_lock_irq(&vcd->vq_lock);
	/* The device forgot every session: older ids must never be sent. */
	vcd->generation++;
	if (vcd->generation == VCD_ANY_GENERATION)
		vcd->generation = 0;
	vcd->resetting = err != 0;
	spin_unlock_irq(&vcd->vq_lock);
	if (err)
		dev_err(&vdev->dev, "device did not come back after a reset: %d\n",
			err);
	else
		dev_info(&vdev->dev, "device reset, working again\n");
}

/* Called in interrupt context: the reset itself sleeps, so it is deferred. */
static void vcd_config_changed(struct virtio_device *vdev)
{
	struct vcd_device *vcd = vdev->priv;

	if (vdev->config->get_status(vdev) & VIRTIO_CONFIG_S_NEEDS_RESET)
		schedule_work(&vcd->reset_work);
}

static void vcd_release(struct kref *ref)
{
	kfree(container_of(ref, struct vcd_device, ref));
}

void vcd_put(struct vcd_device *vcd)
{
	kref_put(&vcd->ref, vcd_release);
}

static int vcd_read_config(struct vcd_device *vcd)
{
	struct virtio_device *vdev = vcd->vdev;

	virtio_cread_le(vdev, struct virtio_cryptodev_config, max_data_len,
			&vcd->max_data_len);
	virtio_cread_le(vdev, struct virtio_cryptodev_config, max_sessions,
			&vcd->max_sessions);
	virtio_cread_le(vdev, struct virtio_cryptodev_config, max_key_len,
			&vcd->max_key_len);

	if (vcd->max_data_len < VIRTIO_CRYPTODEV_MIN_DATA_LEN ||
	    vcd->max_data_len > VIRTIO_CRYPTODEV_MAX_DATA_LEN ||
	    vcd->max_data_len % VIRTIO_CRYPTODEV_BLOCK_LEN ||
	    !vcd->max_sessions ||
	    vcd->max_sessions > VIRTIO_CRYPTODEV_MAX_SESSIONS ||
	    vcd->max_key_len < 32 ||
	    vcd->max_key_len > VIRTIO_CRYPTODEV_MAX_KEY_LEN) {
		dev_err(&vdev->dev, "device limits out of range\n");
		return -EINVAL;
	}
	return 0;
}

static int vcd_probe(struct virtio_device *vdev)
{
	struct vcd_device *vcd;
	int err;

	vcd = kzalloc(sizeof(*vcd), GFP_KERNEL);
	if (!vcd)
		return -ENOMEM;
	vcd->vdev = vdev;
	spin_lock_init(&vcd->vq_lock);
	init_waitqueue_head(&vcd->ring_wait);
	spin_lock_init(&vcd->mem_lock);
	init_waitqueue_head(&vcd->mem_wait);
	INIT_WORK(&vcd->reset_work, vcd_reset_work);
	kref_init(&vcd->ref);
	vdev->priv = vcd;

	err = vcd_read_config(vcd);
	if (err)
		goto err_free;
	/* Requests of the largest size can be in flight four at a time. */
	vcd->mem_limit = max_t(size_t, 4 * (size_t)vcd->max_data_len, SZ_32M);

	vcd->vq = virtio_find_single_vq(vdev, vcd_queue_done, "requests");
	if (IS_ERR(vcd->vq)) {
		err = PTR_ERR(vcd->vq);
		goto err_free;
	}
	vcd->max_sgs = virtqueue_get_vring_size(vcd->vq);
	/* The smallest request: fixed descriptors, one read, one written. */
	if (vcd->max_sgs < VCD_FIXED_SGS + 2) {
		dev_err(&vdev->dev, "queue of %u is too short\n", vcd->max_sgs);
		err = -EINVAL;
		goto err_del_vqs;
	}

	/* Ready before the node exists: an open may submit at once. */
	virtio_device_ready(vdev);

	err = vcd_chrdev_add(vcd, &vdev->dev);
	if (err)
		goto err_reset;
	return 0;

err_reset:
	virtio_reset_device(vdev);
err_del_vqs:
	vdev->config->del_vqs(vdev);
err_free:
	vdev->priv = NULL;
	vcd_put(vcd);
	return err;
}

static void vcd_remove(struct virtio_device *vdev)
{
	struct vcd_device *vcd = vdev->priv;

	/* No new opens; open files keep @vcd alive but see @removed. */
	vcd_chrdev_del(vcd);

	spin_lock_irq(&vcd->vq_lock);
	vcd->removed = true;
	spin_unlock_irq(&vcd->vq_lock);
	wake_up_all(&vcd->mem_wait);

	/* A reset in progress finishes first: the queue is one or the other's. */
	cancel_work_sync(&vcd->reset_work);
	virtio_reset_device(vdev);
	vcd_fail_queued(vcd, -ENODEV);

	vdev->config->del_vqs(vdev);
	vdev->priv = NULL;
	vcd->vdev = NULL;
	vcd_put(vcd);
}

static const struct virtio_device_id vcd_id_table[] = {
	{ VIRTIO_ID_CRYPTODEV, VIRTIO_DEV_ANY_ID },
	{ 0 },
};
MODULE_DEVICE_TABLE(virtio, vcd_id_table);

static struct virtio_driver vcd_driver = {
	.driver.name = KBUILD_MODNAME,
	.driver.owner = THIS_MODULE,
	.id_table = vcd_id_table,
	.probe = vcd_probe,
	.remove = vcd_remove,
	.config_changed = vcd_config_changed,
};

static int __init vcd_init(void)
{
	int err;

	err = vcd_chrdev_init();
	if (err)
		return err;
	err = register_virtio_driver(&vcd_driver);
	if (err)
		vcd_chrdev_exit();
	return err;
}

static void __exit vcd_exit(void)
{
	unregister_virtio_driver(&vcd_driver);
	vcd_chrdev_exit();
}

module_init(vcd_init);
module_exit(vcd_exit);

MODULE_DESCRIPTION("virtio-cryptodev: the cryptodev-linux ABI served by the host");
MODULE_LICENSE("GPL");
