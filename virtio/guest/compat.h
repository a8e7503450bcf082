/* SPDX-License-Identifier: GPL-2.0 */
/*
 * virtio-cryptodev guest driver on every kernel it builds for. The driver is
 * written against the newest interfaces (6.12); what an older kernel (6.1)
 * calls otherwise is supplied here, and nowhere else.
 */
#ifndef VCD_COMPAT_H
#define VCD_COMPAT_H

#include <linux/slab.h>
#include <linux/version.h>
#include <linux/virtio_config.h>

/* 6.12 moved the unaligned accessors out of asm/. */
#if KERNEL_VERSION(6, 12, 0) > LINUX_VERSION_CODE
#include <asm/unaligned.h>
#else
#include <linux/unaligned.h>
#endif

/* 6.2 made a class's devnode() take a const device. */
#if KERNEL_VERSION(6, 2, 0) > LINUX_VERSION_CODE
#define VCD_DEVNODE_CONST
#else
#define VCD_DEVNODE_CONST const
#endif

/* 6.4 dropped class_create()'s module argument. */
#if KERNEL_VERSION(6, 4, 0) > LINUX_VERSION_CODE
#define vcd_class_create(name) class_create(THIS_MODULE, name)
#else
#define vcd_class_create(name) class_create(name)
#endif

/* 6.12 removed no_llseek: a file with no llseek cannot seek. */
#if KERNEL_VERSION(6, 12, 0) > LINUX_VERSION_CODE
#define VCD_NO_LLSEEK no_llseek
#else
#define VCD_NO_LLSEEK NULL
#endif

/*
 * 6.8 named the largest page order MAX_PAGE_ORDER; before 6.4 MAX_ORDER was
 * one past it (from 6.4 to 6.7 it was the order itself, where this is one
 * order short: merely conservative).
 */
#ifndef MAX_PAGE_ORDER
#define MAX_PAGE_ORDER (MAX_ORDER - 1)
#endif

#if KERNEL_VERSION(6, 11, 0) > LINUX_VERSION_CODE
/* 6.11 passes each queue's name and callback together, in one array. */
struct virtqueue_info {
	const char *name;
	vq_callback_t *callback;
	bool ctx;
};

static inline int vcd_find_vqs(struct virtio_device *vdev, unsigned int nvqs,
			       struct virtqueue *vqs[],
			       struct virtqueue_info vqs_info[])
{
	vq_callback_t **callbacks;
	const char **names;
	unsigned int i;
	int err = -ENOMEM;

	callbacks = kcalloc(nvqs, sizeof(*callbacks), GFP_KERNEL);
	names = kcalloc(nvqs, sizeof(*names), GFP_KERNEL);
	if (!callbacks || !names)
		goto out;
	for (i = 0; i < nvqs; i++) {
		callbacks[i] = vqs_info[i].callback;
		names[i] = vqs_info[i].name;
	}
	err = virtio_find_vqs(vdev, nvqs, vqs, callbacks, names, NULL);
out:
	kfree(names);
	kfree(callbacks);
	return err;
}
#else
static inline int vcd_find_vqs(struct virtio_device *vdev, unsigned int nvqs,
			       struct virtqueue *vqs[],
			       struct virtqueue_info vqs_info[])
{
	return virtio_find_vqs(vdev, nvqs, vqs, vqs_info, NULL);
}
#endif

#endif
