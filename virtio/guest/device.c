// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-cryptodev guest driver, the virtio half: probe and remove, the
 * request queue, and the checks on what the device answers.
 *
 * With VIRTIO_CRYPTODEV_F_MQ the device has a queue per CPU (or fewer): a
 * caller submits on its CPU's queue, whose MSI-X vector is affine to the
 * CPUs that share it, so the answer is taken where the caller sleeps and
 * callers on different CPUs share no lock. Submitters sleep on a
 * per-request completion; the queue callback only collects finished
 * requests under the queue lock and completes them. On
 * removal the device is reset and every request still queued is completed
 * with -ENODEV, so no caller waits forever. A device that says it needs a
 * reset (NEEDS_RESET) gets one from a work item: the requests it holds fail
 * with -EIO, the queue is set up again, and later requests work.
 */

#include <linux/cpumask.h>
#include <linux/module.h>
#include <linux/sizes.h>
#include <linux/slab.h>
#include <linux/virtio.h>
#include <linux/virtio_config.h>
#include "compat.h"
#include "cryptodev.h"

static bool multiqueue = true;
module_param(multiqueue, bool, 0444);
MODULE_PARM_DESC(multiqueue,
		 "use the device's queue per CPU when it offers them (default: yes)");

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
	struct vcd_queue *q = &vcd->queues[vq->index];
	struct vcd_request *req;
	unsigned long flags;
	unsigned int len;

	spin_lock_irqsave(&q->lock, flags);
	do {
		virtqueue_disable_cb(vq);
		while ((req = virtqueue_get_buf(vq, &len))) {
			req->used_len = len;
			vcd_answered(req);
			q->full = false;
		}
	} while (!virtqueue_enable_cb(vq));
	spin_unlock_irqrestore(&q->lock, flags);
	wake_up_all(&q->ring_wait);
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

static bool vcd_ring_usable(struct vcd_device *vcd, struct vcd_queue *q)
{
	return !READ_ONCE(q->full) || READ_ONCE(vcd->removed) ||
	       READ_ONCE(vcd->resetting);
}

/* The queue of the CPU we run on: only a hint, a move later costs nothing. */
static struct vcd_queue *vcd_this_queue(struct vcd_device *vcd)
{
	return &vcd->queues[vcd->cpu_queue[raw_smp_processor_id()]];
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
	struct vcd_queue *q;
	bool kick;
	int err;

	init_completion(&req->done);
	req->error = 0;
	req->used_len = 0;
	req->queued = false;
	for (;;) {
		q = vcd_this_queue(vcd);
		read_lock(&vcd->state_lock);
		if (vcd->removed) {
			err = -ENODEV;
			goto unlock_state;
		}
		if (vcd->resetting || (generation != VCD_ANY_GENERATION &&
					generation != vcd->generation)) {
			err = -EIO;
			goto unlock_state;
		}
		spin_lock_irq(&q->lock);
		err = virtqueue_add_sgs(q->vq, sgs, out_sgs, in_sgs, req,
					GFP_ATOMIC);
		if (err != -ENOSPC)
			break;
		/* Full with nothing in flight: this request can never fit. */
		if (q->vq->num_free == virtqueue_get_vring_size(q->vq)) {
			err = -ENOMEM;
			break;
		}
		q->full = true;
		spin_unlock_irq(&q->lock);
		read_unlock(&vcd->state_lock);
		atomic64_inc(&vcd->stat_ring_waits);
		if (!killable)
			wait_event(q->ring_wait, vcd_ring_usable(vcd, q));
		else if (wait_event_killable(q->ring_wait,
					     vcd_ring_usable(vcd, q)))
			return -EINTR;
	}
	if (err) {
		spin_unlock_irq(&q->lock);
		goto unlock_state;
	}
	req->queued = true;
	req->generation = vcd->generation;
	/* With event-idx, a burst the device is still working through costs no exit. */
	kick = virtqueue_kick_prepare(q->vq);
	spin_unlock_irq(&q->lock);
	/* Under the state lock still: a reset may not free the queue first. */
	if (kick)
		virtqueue_notify(q->vq);
	read_unlock(&vcd->state_lock);
	atomic64_inc(&vcd->stat_requests);
	return 0;

unlock_state:
	read_unlock(&vcd->state_lock);
	return err;
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
	unsigned int i;

	for (i = 0; i < vcd->nqueues; i++) {
		struct vcd_queue *q = &vcd->queues[i];

		spin_lock_irq(&q->lock);
		while (q->vq && (req = virtqueue_detach_unused_buf(q->vq))) {
			req->error = error;
			vcd_answered(req);
		}
		q->full = false;
		spin_unlock_irq(&q->lock);
		wake_up_all(&q->ring_wait);
	}
}

/* Wakes every submitter waiting for a ring slot, to see the new state. */
static void vcd_wake_submitters(struct vcd_device *vcd)
{
	unsigned int i;

	for (i = 0; i < vcd->nqueues; i++)
		wake_up_all(&vcd->queues[i].ring_wait);
}

/*
 * Every CPU gets the queue of its rank among the possible CPUs, modulo the
 * queues; each queue's interrupt is affine to the CPUs that use it. The
 * affinity is a plain one, not a managed one: when its CPUs go offline the
 * interrupt moves elsewhere, and no request is left unanswered.
 */
static void vcd_map_queues(struct vcd_device *vcd)
{
	unsigned int cpu, rank = 0;

	for_each_possible_cpu(cpu)
		vcd->cpu_queue[cpu] = rank++ % vcd->nqueues;
}

static void vcd_set_affinity(struct vcd_device *vcd)
{
	cpumask_var_t mask;
	unsigned int i, cpu;

	if (vcd->nqueues == 1 || !zalloc_cpumask_var(&mask, GFP_KERNEL))
		return;
	for (i = 0; i < vcd->nqueues; i++) {
		cpumask_clear(mask);
		for_each_possible_cpu(cpu)
			if (vcd->cpu_queue[cpu] == i)
				cpumask_set_cpu(cpu, mask);
		/* Without a vector of its own a queue keeps the default. */
		virtqueue_set_affinity(vcd->queues[i].vq, mask);
	}
	free_cpumask_var(mask);
}

static int vcd_find_queues(struct vcd_device *vcd)
{
	struct virtio_device *vdev = vcd->vdev;
	struct virtqueue_info *info;
	struct virtqueue **vqs;
	unsigned int i;
	int err = -ENOMEM;

	vqs = kcalloc(vcd->nqueues, sizeof(*vqs), GFP_KERNEL);
	info = kcalloc(vcd->nqueues, sizeof(*info), GFP_KERNEL);
	if (!vqs || !info)
		goto out;
	for (i = 0; i < vcd->nqueues; i++) {
		info[i].callback = vcd_queue_done;
		info[i].name = vcd->queues[i].name;
	}
	err = vcd_find_vqs(vdev, vcd->nqueues, vqs, info);
	if (err)
		goto out;
	for (i = 0; i < vcd->nqueues; i++)
		vcd->queues[i].vq = vqs[i];
	vcd_set_affinity(vcd);
out:
	kfree(info);
	kfree(vqs);
	return err;
}

static void vcd_del_queues(struct vcd_device *vcd)
{
	unsigned int i;

	/* An interrupt is not freed with an affinity hint still set. */
	for (i = 0; i < vcd->nqueues; i++) {
		if (vcd->nqueues > 1 && vcd->queues[i].vq)
			virtqueue_set_affinity(vcd->queues[i].vq, NULL);
		vcd->queues[i].vq = NULL;
	}
	vcd->vdev->config->del_vqs(vcd->vdev);
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
	err = vcd_find_queues(vcd);
	if (err)
		return err;
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
	write_lock(&vcd->state_lock);
	vcd->resetting = true;
	write_unlock(&vcd->state_lock);
	vcd_wake_submitters(vcd);

	/* After the reset no callback runs: what the rings hold is ours. */
	virtio_reset_device(vdev);
	vcd_fail_queued(vcd, -EIO);
	vcd_del_queues(vcd);
	err = vcd_restart(vcd);
	atomic64_inc(&vcd->stat_resets);

	write_lock(&vcd->state_lock);
	/* The device forgot every session: older ids must never be sent. */
	vcd->generation++;
	if (vcd->generation == VCD_ANY_GENERATION)
		vcd->generation = 0;
	vcd->resetting = err != 0;
	write_unlock(&vcd->state_lock);
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
	struct vcd_device *vcd = container_of(ref, struct vcd_device, ref);

	kfree(vcd->cpu_queue);
	kfree(vcd->queues);
	kfree(vcd);
}

void vcd_put(struct vcd_device *vcd)
{
	kref_put(&vcd->ref, vcd_release);
}

static int vcd_read_config(struct vcd_device *vcd)
{
	struct virtio_device *vdev = vcd->vdev;
	u32 num_queues = 1;

	virtio_cread_le(vdev, struct virtio_cryptodev_config, max_data_len,
			&vcd->max_data_len);
	virtio_cread_le(vdev, struct virtio_cryptodev_config, max_sessions,
			&vcd->max_sessions);
	virtio_cread_le(vdev, struct virtio_cryptodev_config, max_key_len,
			&vcd->max_key_len);
	if (virtio_has_feature(vdev, VIRTIO_CRYPTODEV_F_MQ))
		virtio_cread_le(vdev, struct virtio_cryptodev_config,
				num_queues, &num_queues);

	if (vcd->max_data_len < VIRTIO_CRYPTODEV_MIN_DATA_LEN ||
	    vcd->max_data_len > VIRTIO_CRYPTODEV_MAX_DATA_LEN ||
	    vcd->max_data_len % VIRTIO_CRYPTODEV_BLOCK_LEN ||
	    !vcd->max_sessions ||
	    vcd->max_sessions > VIRTIO_CRYPTODEV_MAX_SESSIONS ||
	    vcd->max_key_len < 32 ||
	    vcd->max_key_len > VIRTIO_CRYPTODEV_MAX_KEY_LEN ||
	    !num_queues || num_queues > VIRTIO_CRYPTODEV_MAX_QUEUES) {
		dev_err(&vdev->dev, "device limits out of range\n");
		return -EINVAL;
	}
	/* More queues than CPUs would only cost vectors. */
	vcd->nqueues = min_t(u32, num_queues, nr_cpu_ids);
	return 0;
}

static int vcd_alloc_queues(struct vcd_device *vcd)
{
	unsigned int i;

	vcd->queues = kcalloc(vcd->nqueues, sizeof(*vcd->queues), GFP_KERNEL);
	vcd->cpu_queue = kcalloc(nr_cpu_ids, sizeof(*vcd->cpu_queue),
				 GFP_KERNEL);
	if (!vcd->queues || !vcd->cpu_queue)
		return -ENOMEM;
	for (i = 0; i < vcd->nqueues; i++) {
		struct vcd_queue *q = &vcd->queues[i];

		spin_lock_init(&q->lock);
		init_waitqueue_head(&q->ring_wait);
		snprintf(q->name, sizeof(q->name), "requests.%u", i);
	}
	vcd_map_queues(vcd);
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
	rwlock_init(&vcd->state_lock);
	spin_lock_init(&vcd->mem_lock);
	init_waitqueue_head(&vcd->mem_wait);
	INIT_WORK(&vcd->reset_work, vcd_reset_work);
	kref_init(&vcd->ref);
	vdev->priv = vcd;

	err = vcd_read_config(vcd);
	if (err)
		goto err_free;
	err = vcd_alloc_queues(vcd);
	if (err)
		goto err_free;
	/* Requests of the largest size can be in flight four at a time. */
	vcd->mem_limit = max_t(size_t, 4 * (size_t)vcd->max_data_len, SZ_32M);

	err = vcd_find_queues(vcd);
	if (err)
		goto err_free;
	vcd->max_sgs = virtqueue_get_vring_size(vcd->queues[0].vq);
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
	dev_info(&vdev->dev, "%u request queue%s\n", vcd->nqueues,
		 vcd->nqueues == 1 ? "" : "s");
	return 0;

err_reset:
	virtio_reset_device(vdev);
err_del_vqs:
	vcd_del_queues(vcd);
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

	write_lock(&vcd->state_lock);
	vcd->removed = true;
	write_unlock(&vcd->state_lock);
	vcd_wake_submitters(vcd);
	wake_up_all(&vcd->mem_wait);

	/* A reset in progress finishes first: the queues are one or the other's. */
	cancel_work_sync(&vcd->reset_work);
	virtio_reset_device(vdev);
	vcd_fail_queued(vcd, -ENODEV);

	vcd_del_queues(vcd);
	vdev->priv = NULL;
	vcd->vdev = NULL;
	vcd_put(vcd);
}

/* multiqueue=0 drives the device as a driver that knows one queue would. */
static int vcd_validate(struct virtio_device *vdev)
{
	if (!multiqueue)
		__virtio_clear_bit(vdev, VIRTIO_CRYPTODEV_F_MQ);
	return 0;
}

static const struct virtio_device_id vcd_id_table[] = {
	{ VIRTIO_ID_CRYPTODEV, VIRTIO_DEV_ANY_ID },
	{ 0 },
};
MODULE_DEVICE_TABLE(virtio, vcd_id_table);

static const unsigned int vcd_features[] = {
	VIRTIO_CRYPTODEV_F_MQ,
};

static struct virtio_driver vcd_driver = {
	.driver.name = KBUILD_MODNAME,
	.driver.owner = THIS_MODULE,
	.feature_table = vcd_features,
	.feature_table_size = ARRAY_SIZE(vcd_features),
	.id_table = vcd_id_table,
	.validate = vcd_validate,
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
