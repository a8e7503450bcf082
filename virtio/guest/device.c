// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-cryptodev guest driver, the virtio half: probe and remove, the
 * request queue, and the checks on what the device answers.
 *
 * Submitters sleep on a per-request completion; the queue callback only
 * collects finished requests under the queue lock and completes them. On
 * removal the device is reset and every request still queued is completed
 * with -ENODEV, so no caller waits forever.
 */

#include <linux/module.h>
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
	default:
		return -EIO;
	}
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
			complete(&req->done);
			vcd->ring_full = false;
		}
	} while (!virtqueue_enable_cb(vq));
	spin_unlock_irqrestore(&vcd->vq_lock, flags);
	wake_up_all(&vcd->ring_wait);
}

/* The device may be lying; believe only answers of the expected shape. */
static int vcd_check_answer(struct vcd_device *vcd, struct vcd_request *req,
			    u32 expected_out)
{
	u32 status, out_len;

	if (req->used_len < sizeof(req->resp))
		goto bad;
	status = le32_to_cpu(req->resp.status);
	out_len = le32_to_cpu(req->resp.out_len);
	if (status == VIRTIO_CRYPTODEV_S_OK &&
	    (out_len != expected_out ||
	     req->used_len != expected_out + sizeof(req->resp)))
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

/*
 * Queues @req (its buffers already in @sgs) and sleeps until the device
 * answers or goes away. Waits for a free ring slot when the ring is full.
 */
int vcd_submit(struct vcd_device *vcd, struct vcd_request *req,
	       struct scatterlist **sgs, unsigned int out_sgs,
	       unsigned int in_sgs, u32 expected_out)
{
	int err;

	init_completion(&req->done);
	req->error = 0;
	req->used_len = 0;
	for (;;) {
		spin_lock_irq(&vcd->vq_lock);
		if (vcd->removed) {
			spin_unlock_irq(&vcd->vq_lock);
			return -ENODEV;
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
		if (wait_event_killable(vcd->ring_wait,
					!READ_ONCE(vcd->ring_full) ||
					READ_ONCE(vcd->removed)))
			return -EINTR;
	}
	if (err) {
		spin_unlock_irq(&vcd->vq_lock);
		return err;
	}
	virtqueue_kick(vcd->vq);
	spin_unlock_irq(&vcd->vq_lock);

	atomic64_inc(&vcd->stat_requests);
	wait_for_completion(&req->done);
	if (req->error)
		return req->error;
	return vcd_check_answer(vcd, req, expected_out);
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
	kref_init(&vcd->ref);
	vdev->priv = vcd;

	err = vcd_read_config(vcd);
	if (err)
		goto err_free;

	vcd->vq = virtio_find_single_vq(vdev, vcd_queue_done, "requests");
	if (IS_ERR(vcd->vq)) {
		err = PTR_ERR(vcd->vq);
		goto err_free;
	}

	/* Ready before the node exists: an open may submit at once. */
	virtio_device_ready(vdev);

	err = vcd_chrdev_add(vcd, &vdev->dev);
	if (err)
		goto err_reset;
	return 0;

err_reset:
	virtio_reset_device(vdev);
	vdev->config->del_vqs(vdev);
err_free:
	vdev->priv = NULL;
	vcd_put(vcd);
	return err;
}

static void vcd_remove(struct virtio_device *vdev)
{
	struct vcd_device *vcd = vdev->priv;
	struct vcd_request *req;

	/* No new opens; open files keep @vcd alive but see @removed. */
	vcd_chrdev_del(vcd);

	spin_lock_irq(&vcd->vq_lock);
	vcd->removed = true;
	spin_unlock_irq(&vcd->vq_lock);

	virtio_reset_device(vdev);

	spin_lock_irq(&vcd->vq_lock);
	while ((req = virtqueue_detach_unused_buf(vcd->vq))) {
		req->error = -ENODEV;
		complete(&req->done);
	}
	spin_unlock_irq(&vcd->vq_lock);
	wake_up_all(&vcd->ring_wait);

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
