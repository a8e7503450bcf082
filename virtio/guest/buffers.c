// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-cryptodev guest driver: the memory a request's data travels in.
 *
 * Requests go zero-copy: the caller's pages are pinned and handed to the
 * device, which saves the two copies that dominate large requests (and, under
 * TCG, small ones too). The pin is charged to the caller's RLIMIT_MEMLOCK,
 * like any long-lived pin. Requests whose pages would need more descriptors
 * than one chain may have (the virtio spec caps a chain at the queue size), or
 * whose charge is refused, are bounced through a kernel buffer of chunks
 * large enough for the chain to fit. Pinned and bounced bytes in flight are bounded per
 * device: a submitter over the bound waits, killably, for others to finish.
 */

#include <linux/mm.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include "compat.h"
#include "cryptodev.h"

/* Bounce chunks grow to this order before they need to for the chain. */
#define VCD_BOUNCE_ORDER	3

static bool vcd_try_charge(struct vcd_device *vcd, size_t bytes, bool *charged)
{
	spin_lock(&vcd->mem_lock);
	if (vcd->mem_in_flight + bytes <= vcd->mem_limit) {
		vcd->mem_in_flight += bytes;
		*charged = true;
	}
	spin_unlock(&vcd->mem_lock);
	return *charged || READ_ONCE(vcd->removed);
}

static int vcd_charge(struct vcd_device *vcd, size_t bytes)
{
	bool charged = false;

	if (wait_event_killable(vcd->mem_wait,
				vcd_try_charge(vcd, bytes, &charged)))
		return -EINTR;
	return charged ? 0 : -ENODEV;
}

static void vcd_uncharge(struct vcd_device *vcd, size_t bytes)
{
	spin_lock(&vcd->mem_lock);
	vcd->mem_in_flight -= bytes;
	spin_unlock(&vcd->mem_lock);
	wake_up_all(&vcd->mem_wait);
}

static unsigned int vcd_span(const void __user *uaddr, u32 len)
{
	return DIV_ROUND_UP(offset_in_page(uaddr) + len, PAGE_SIZE);
}

/* Pins @n pages under @uaddr into @pages and describes @len bytes in @sg. */
static int vcd_pin(const void __user *uaddr, u32 len, bool writable,
		   struct page **pages, unsigned int n, struct scatterlist *sg)
{
	unsigned int offset = offset_in_page(uaddr);
	unsigned int i;
	int pinned;

	pinned = pin_user_pages_fast((unsigned long)uaddr & PAGE_MASK, n,
				     writable ? FOLL_WRITE : 0, pages);
	if (pinned < 0)
		return pinned;
	if (pinned != n) {
		unpin_user_pages(pages, pinned);
		return -EFAULT;
	}
	sg_init_table(sg, n);
	for (i = 0; i < n; i++) {
		unsigned int chunk = min_t(u32, len, PAGE_SIZE - offset);

		sg_set_page(&sg[i], pages[i], chunk, offset);
		len -= chunk;
		offset = 0;
	}
	return 0;
}

/*
 * Descriptors a request needs for @src_sgs read and @dst_sgs written
 * entries; an in-place destination is the source's list a second time.
 */
static bool vcd_fits_chain(const struct vcd_data *d, unsigned int src_sgs,
			   unsigned int dst_sgs)
{
	return VCD_FIXED_SGS + src_sgs + dst_sgs <= d->vcd->max_sgs;
}

/* Returns 1 when the pages cannot be pinned here (use the bounce path). */
static int vcd_data_pin(struct vcd_data *d, const void __user *src,
			void __user *dst, bool in_place)
{
	unsigned int src_pages = vcd_span(src, d->len);
	unsigned int dst_pages = d->dst && !in_place ? vcd_span(dst, d->len) : 0;
	unsigned int n = src_pages + dst_pages;
	int err;

	if (!vcd_fits_chain(d, src_pages, in_place ? src_pages : dst_pages))
		return 1;
	if (account_locked_vm(d->mm, n, true))
		return 1;
	d->locked = n;

	d->pages = kvmalloc_array(n, sizeof(*d->pages), GFP_KERNEL);
	d->sg_mem = kmalloc_array(n, sizeof(*d->sg_mem), GFP_KERNEL);
	if (!d->pages || !d->sg_mem)
		return -ENOMEM;
	err = vcd_pin(src, d->len, in_place, d->pages, src_pages, d->sg_mem);
	if (err)
		return err;
	d->src_pages = src_pages;
	d->src_sg = d->sg_mem;
	d->dst_sg = in_place && d->dst ? d->src_sg : NULL;
	if (dst_pages) {
		err = vcd_pin(dst, d->len, true, d->pages + src_pages, dst_pages,
			      d->sg_mem + src_pages);
		if (err)
			return err;
		d->dst_pages = dst_pages;
		d->dst_sg = d->sg_mem + src_pages;
	}
	return 0;
}

/* Copies the source into kernel chunks the device reads and writes in place. */
static int vcd_data_bounce(struct vcd_data *d, const void __user *src)
{
	unsigned int order = min_t(unsigned int, get_order(d->len),
				   VCD_BOUNCE_ORDER);
	size_t chunk, done = 0;
	unsigned int i, n;

	/* The device reads and writes the same chunks: a list each way. */
	for (;;) {
		n = DIV_ROUND_UP(d->len, PAGE_SIZE << order);
		if (vcd_fits_chain(d, n, d->dst ? n : 0))
			break;
		if (++order > MAX_PAGE_ORDER)
			return -ENOMEM;
	}
	chunk = PAGE_SIZE << order;
	d->bounced = true;
	d->order = order;
	d->nchunks = DIV_ROUND_UP(d->len, chunk);
	d->chunks = kcalloc(d->nchunks, sizeof(*d->chunks), GFP_KERNEL);
	d->sg_mem = kmalloc_array(d->nchunks, sizeof(*d->sg_mem), GFP_KERNEL);
	if (!d->chunks || !d->sg_mem)
		return -ENOMEM;
	sg_init_table(d->sg_mem, d->nchunks);
	for (i = 0; i < d->nchunks; i++, done += chunk) {
		size_t n = min_t(size_t, chunk, d->len - done);

		d->chunks[i] = alloc_pages(GFP_KERNEL | __GFP_NOWARN |
					   (order ? __GFP_NORETRY : 0), order);
		if (!d->chunks[i])
			return -ENOMEM;
		if (copy_from_user(page_address(d->chunks[i]), src + done, n))
			return -EFAULT;
		sg_set_page(&d->sg_mem[i], d->chunks[i], n, 0);
	}
	d->src_sg = d->sg_mem;
	d->dst_sg = d->dst ? d->sg_mem : NULL;
	atomic64_inc(&d->vcd->stat_bounced);
	return 0;
}

/*
 * Gets @len (> 0, checked against the device's limit) bytes at @src ready
 * for the device and, with @has_dst, room for as many at @dst. On failure
 * the caller still calls vcd_data_put().
 */
int vcd_data_get(struct vcd_data *d, struct vcd_device *vcd,
		 const void __user *src, void __user *dst, u32 len, bool has_dst)
{
	bool in_place = has_dst && src == dst;
	int err;

	memset(d, 0, sizeof(*d));
	d->vcd = vcd;
	d->len = len;
	/* Held: an asynchronous request may be released after its caller exits. */
	d->mm = current->mm;
	mmgrab(d->mm);
	d->dst = has_dst ? dst : NULL;
	if (has_dst && !dst)
		return -EFAULT;

	/* Counted as if pinned twice: the bound holds whichever path is taken. */
	err = vcd_charge(vcd, (size_t)len * (has_dst && !in_place ? 2 : 1));
	if (err)
		return err;
	d->charged = (size_t)len * (has_dst && !in_place ? 2 : 1);

	err = vcd_data_pin(d, src, dst, in_place);
	if (err <= 0)
		return err;
	return vcd_data_bounce(d, src);
}

/* After a successful answer: the bounced destination goes to the caller. */
int vcd_data_finish(struct vcd_data *d, bool answered)
{
	size_t chunk = PAGE_SIZE << d->order, done = 0;
	unsigned int i;

	if (!answered || !d->bounced || !d->dst)
		return 0;
	for (i = 0; i < d->nchunks; i++, done += chunk) {
		size_t n = min_t(size_t, chunk, d->len - done);

		if (copy_to_user(d->dst + done, page_address(d->chunks[i]), n))
			return -EFAULT;
	}
	return 0;
}

/* @written: the device was handed the buffers, so pinned ones may be dirty. */
void vcd_data_put(struct vcd_data *d, bool written)
{
	size_t chunk = PAGE_SIZE << d->order;
	unsigned int i;

	if (d->src_pages)
		unpin_user_pages_dirty_lock(d->pages, d->src_pages,
					    written && d->dst_sg == d->src_sg);
	if (d->dst_pages)
		unpin_user_pages_dirty_lock(d->pages + d->src_pages,
					    d->dst_pages, written);
	if (d->locked)
		account_locked_vm(d->mm, d->locked, false);
	for (i = 0; d->chunks && i < d->nchunks && d->chunks[i]; i++) {
		/* The caller's plaintext does not linger in freed pages. */
		memzero_explicit(page_address(d->chunks[i]),
				 min_t(size_t, chunk, d->len - (size_t)i * chunk));
		__free_pages(d->chunks[i], d->order);
	}
	kfree(d->chunks);
	kfree(d->sg_mem);
	kvfree(d->pages);
	if (d->charged)
		vcd_uncharge(d->vcd, d->charged);
	if (d->mm)
		mmdrop(d->mm);
}
