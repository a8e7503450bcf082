// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-cryptodev guest driver, the character-device half: /dev/cryptodevN
 * speaking the cryptodev-linux ioctl ABI.
 *
 * Every ioctl copies its arguments in, checks every length against the
 * device's limits before allocating, and sends one request. Sessions belong
 * to the open file that created them; closing the file destroys them on the
 * device too.
 */

#include <linux/cdev.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>
#include <crypto/cryptodev.h>
#include "cryptodev.h"

enum vcd_alg_kind { VCD_CIPHER, VCD_HMAC, VCD_HASH };

struct vcd_alg {
	u32 id;
	const char *name;
	enum vcd_alg_kind kind;
	u32 digest_len;
};

/* What the device supports; a new algorithm is a row here and there. */
static const struct vcd_alg vcd_algs[] = {
	{ CRYPTO_AES_CBC, "cbc(aes)", VCD_CIPHER, 0 },
	{ CRYPTO_SHA1_HMAC, "hmac(sha1)", VCD_HMAC, 20 },
	{ CRYPTO_SHA2_256_HMAC, "hmac(sha256)", VCD_HMAC, 32 },
	{ CRYPTO_SHA2_512_HMAC, "hmac(sha512)", VCD_HMAC, 64 },
	{ CRYPTO_SHA1, "sha1", VCD_HASH, 20 },
	{ CRYPTO_SHA2_256, "sha256", VCD_HASH, 32 },
	{ CRYPTO_SHA2_512, "sha512", VCD_HASH, 64 },
};

struct vcd_session {
	u32 id;
	const struct vcd_alg *cipher;
	const struct vcd_alg *mac;
};

struct vcd_file {
	struct vcd_device *vcd;
	struct mutex lock;		/* @sessions lookups against removal */
	struct xarray sessions;		/* device session id -> vcd_session */
};

static dev_t vcd_devt;
static struct cdev vcd_cdev;
static struct class *vcd_class;
static DEFINE_MUTEX(vcd_minors_lock);	/* @vcd_minors against open */
static DEFINE_IDR(vcd_minors);

static const struct vcd_alg *vcd_find_alg(u32 id)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(vcd_algs); i++)
		if (vcd_algs[i].id == id)
			return &vcd_algs[i];
	return NULL;
}

static struct vcd_request *vcd_request_alloc(u32 opcode, u32 session_id)
{
	struct vcd_request *req = kzalloc(sizeof(*req), GFP_KERNEL);

	if (req) {
		req->hdr.opcode = cpu_to_le32(opcode);
		req->hdr.session_id = cpu_to_le32(session_id);
	}
	return req;
}

/*
 * A user buffer the device reads or writes in place: pinned pages and the
 * scatterlist describing them. Zero-copy saves the two copies a bounce buffer
 * would cost, which dominate large requests.
 */
struct vcd_user_buf {
	struct page **pages;
	struct scatterlist *sg;
	unsigned int npages;
	bool writable;
};

/* Pins @len (> 0, already checked against the device's limit) bytes at @uaddr. */
static int vcd_pin_user_buf(struct vcd_user_buf *buf, const void __user *uaddr,
			    u32 len, bool writable)
{
	unsigned long start = (unsigned long)uaddr;
	unsigned int offset = offset_in_page(start);
	unsigned int n = DIV_ROUND_UP(offset + len, PAGE_SIZE);
	unsigned int i;
	int pinned;

	buf->npages = 0;
	buf->writable = writable;
	buf->sg = NULL;
	buf->pages = kvmalloc_array(n, sizeof(*buf->pages), GFP_KERNEL);
	if (!buf->pages)
		return -ENOMEM;
	pinned = pin_user_pages_fast(start & PAGE_MASK, n,
				     writable ? FOLL_WRITE : 0, buf->pages);
	if (pinned > 0)
		buf->npages = pinned;
	if (pinned != n)
		return pinned < 0 ? pinned : -EFAULT;

	buf->sg = kmalloc_array(n, sizeof(*buf->sg), GFP_KERNEL);
	if (!buf->sg)
		return -ENOMEM;
	sg_init_table(buf->sg, n);
	for (i = 0; i < n; i++) {
		unsigned int chunk = min_t(u32, len, PAGE_SIZE - offset);

		sg_set_page(&buf->sg[i], buf->pages[i], chunk, offset);
		len -= chunk;
		offset = 0;
	}
	return 0;
}

/* @written: the device wrote into the pages, so they must be marked dirty. */
static void vcd_unpin_user_buf(struct vcd_user_buf *buf, bool written)
{
	if (buf->npages)
		unpin_user_pages_dirty_lock(buf->pages, buf->npages,
					    written && buf->writable);
	kfree(buf->sg);
	kvfree(buf->pages);
}

static int vcd_destroy_session(struct vcd_device *vcd, u32 id)
{
	struct scatterlist hdr, resp, *sgs[] = { &hdr, &resp };
	struct vcd_request *req;
	int err;

	req = vcd_request_alloc(VIRTIO_CRYPTODEV_OP_DESTROY_SESSION, id);
	if (!req)
		return -ENOMEM;
	sg_init_one(&hdr, &req->hdr, sizeof(req->hdr));
	sg_init_one(&resp, &req->resp, sizeof(req->resp));
	err = vcd_submit(vcd, req, sgs, 1, 1, 0);
	kfree(req);
	return err;
}

static int vcd_check_session_op(struct vcd_device *vcd, struct session_op *sop,
				const struct vcd_alg **cipher,
				const struct vcd_alg **mac)
{
	*cipher = NULL;
	*mac = NULL;
	if (!sop->cipher && !sop->mac)
		return -EINVAL;
	if (sop->cipher) {
		*cipher = vcd_find_alg(sop->cipher);
		if (!*cipher || (*cipher)->kind != VCD_CIPHER)
			return -EINVAL;
		if (sop->keylen != 16 && sop->keylen != 24 && sop->keylen != 32)
			return -EINVAL;
	} else {
		sop->keylen = 0;
	}
	if (sop->mac) {
		*mac = vcd_find_alg(sop->mac);
		if (!*mac || (*mac)->kind == VCD_CIPHER)
			return -EINVAL;
		if ((*mac)->kind == VCD_HASH)
			sop->mackeylen = 0;
		if (sop->mackeylen > vcd->max_key_len ||
		    sop->mackeylen > CRYPTO_HMAC_MAX_KEY_LEN)
			return -EINVAL;
	} else {
		sop->mackeylen = 0;
	}
	return 0;
}

static int vcd_ioctl_new_session(struct vcd_file *file, void __user *arg)
{
	struct vcd_device *vcd = file->vcd;
	struct scatterlist hdr, keys_sg, resp, *sgs[3];
	const struct vcd_alg *cipher, *mac;
	struct vcd_session *session;
	struct vcd_request *req;
	struct session_op sop, user_sop;
	size_t keys_len;
	u8 *keys = NULL;
	int err;

	if (copy_from_user(&sop, arg, sizeof(sop)))
		return -EFAULT;
	user_sop = sop;
	err = vcd_check_session_op(vcd, &sop, &cipher, &mac);
	if (err)
		return err;

	keys_len = sop.keylen + sop.mackeylen;
	req = vcd_request_alloc(VIRTIO_CRYPTODEV_OP_CREATE_SESSION, 0);
	session = kzalloc(sizeof(*session), GFP_KERNEL);
	if (keys_len)
		keys = kmalloc(keys_len, GFP_KERNEL);
	if (!req || !session || (keys_len && !keys)) {
		err = -ENOMEM;
		goto out;
	}
	if (copy_from_user(keys, sop.key, sop.keylen) ||
	    copy_from_user(keys + sop.keylen, sop.mackey, sop.mackeylen)) {
		err = -EFAULT;
		goto out;
	}

	req->hdr.cipher = cpu_to_le32(sop.cipher);
	req->hdr.mac = cpu_to_le32(sop.mac);
	req->hdr.key_len = cpu_to_le32(sop.keylen);
	req->hdr.mac_key_len = cpu_to_le32(sop.mackeylen);
	sg_init_one(&hdr, &req->hdr, sizeof(req->hdr));
	sg_init_one(&resp, &req->resp, sizeof(req->resp));
	sgs[0] = &hdr;
	if (keys_len) {
		sg_init_one(&keys_sg, keys, keys_len);
		sgs[1] = &keys_sg;
		sgs[2] = &resp;
		err = vcd_submit(vcd, req, sgs, 2, 1, 0);
	} else {
		sgs[1] = &resp;
		err = vcd_submit(vcd, req, sgs, 1, 1, 0);
	}
	if (err)
		goto out;

	session->id = le32_to_cpu(req->resp.session_id);
	session->cipher = cipher;
	session->mac = mac;
	user_sop.ses = session->id;
	mutex_lock(&file->lock);
	err = xa_insert(&file->sessions, session->id, session, GFP_KERNEL);
	mutex_unlock(&file->lock);
	if (err) {
		vcd_destroy_session(vcd, session->id);
		goto out;
	}
	if (copy_to_user(arg, &user_sop, sizeof(user_sop))) {
		mutex_lock(&file->lock);
		xa_erase(&file->sessions, session->id);
		mutex_unlock(&file->lock);
		vcd_destroy_session(vcd, session->id);
		err = -EFAULT;
		goto out;
	}
	session = NULL;
out:
	kfree_sensitive(keys);
	kfree(session);
	kfree(req);
	return err;
}

static int vcd_ioctl_free_session(struct vcd_file *file, u32 __user *arg)
{
	struct vcd_session *session;
	u32 id;

	if (get_user(id, arg))
		return -EFAULT;
	mutex_lock(&file->lock);
	session = xa_erase(&file->sessions, id);
	mutex_unlock(&file->lock);
	if (!session)
		return -ENOENT;
	/* The session is gone for this file whatever the device says. */
	vcd_destroy_session(file->vcd, id);
	kfree(session);
	return 0;
}

/* Copies the file's session @id, so no lock is held while the device works. */
static int vcd_lookup_session(struct vcd_file *file, u32 id,
			      struct vcd_session *copy)
{
	struct vcd_session *session;

	mutex_lock(&file->lock);
	session = xa_load(&file->sessions, id);
	if (session)
		*copy = *session;
	mutex_unlock(&file->lock);
	return session ? 0 : -EINVAL;
}

static int vcd_check_crypt_op(struct vcd_device *vcd, const struct crypt_op *cop,
			      const struct vcd_session *session)
{
	if (cop->len > vcd->max_data_len)
		return -EINVAL;
	/* Multi-part hashing is not offered: each call is a whole message. */
	if (cop->flags & COP_FLAG_UPDATE)
		return -EINVAL;
	if (session->cipher) {
		if (cop->op != COP_ENCRYPT && cop->op != COP_DECRYPT)
			return -EINVAL;
		if (!cop->len || cop->len % VIRTIO_CRYPTODEV_BLOCK_LEN)
			return -EINVAL;
	}
	return 0;
}

static int vcd_ioctl_crypt(struct vcd_file *file, void __user *arg)
{
	struct vcd_device *vcd = file->vcd;
	struct vcd_user_buf src = { 0 }, dst = { 0 };
	struct scatterlist hdr, iv_sg, resp, digest_sg;
	struct scatterlist *sgs[6];
	u8 next_iv[VIRTIO_CRYPTODEV_BLOCK_LEN];
	struct vcd_session session;
	unsigned int out = 0, in = 0;
	bool in_place, written = false;
	struct vcd_request *req;
	struct crypt_op cop;
	u32 digest_len, expected;
	int err;

	if (copy_from_user(&cop, arg, sizeof(cop)))
		return -EFAULT;
	err = vcd_lookup_session(file, cop.ses, &session);
	if (err)
		return err;
	err = vcd_check_crypt_op(vcd, &cop, &session);
	if (err)
		return err;
	digest_len = session.mac ? session.mac->digest_len : 0;
	/* The device reads all the source before it writes: one buffer may serve both. */
	in_place = session.cipher && cop.src == cop.dst;

	req = vcd_request_alloc(VIRTIO_CRYPTODEV_OP_CRYPT, session.id);
	if (!req)
		return -ENOMEM;
	if (cop.len) {
		err = vcd_pin_user_buf(&src, cop.src, cop.len, in_place);
		if (err)
			goto out;
	}
	if (session.cipher && !in_place) {
		err = vcd_pin_user_buf(&dst, cop.dst, cop.len, true);
		if (err)
			goto out;
	}

	sg_init_one(&hdr, &req->hdr, sizeof(req->hdr));
	sgs[out++] = &hdr;
	if (session.cipher) {
		/* A missing IV means zeros, as with cryptodev-linux's first call. */
		if (cop.iv && copy_from_user(req->iv, cop.iv, sizeof(req->iv))) {
			err = -EFAULT;
			goto out;
		}
		/* CBC's next IV is the last ciphertext block: here, the source's. */
		if (cop.op == COP_DECRYPT &&
		    copy_from_user(next_iv, cop.src + cop.len - sizeof(next_iv),
				   sizeof(next_iv))) {
			err = -EFAULT;
			goto out;
		}
		req->hdr.op = cpu_to_le32(cop.op);
		req->hdr.iv_len = cpu_to_le32(sizeof(req->iv));
		sg_init_one(&iv_sg, req->iv, sizeof(req->iv));
		sgs[out++] = &iv_sg;
	}
	req->hdr.data_len = cpu_to_le32(cop.len);
	if (src.sg)
		sgs[out++] = src.sg;
	if (session.cipher)
		sgs[out + in++] = in_place ? src.sg : dst.sg;
	if (digest_len) {
		sg_init_one(&digest_sg, req->digest, digest_len);
		sgs[out + in++] = &digest_sg;
	}
	sg_init_one(&resp, &req->resp, sizeof(req->resp));
	sgs[out + in++] = &resp;

	expected = (session.cipher ? cop.len : 0) + digest_len;
	err = vcd_submit(vcd, req, sgs, out, in, expected);
	if (err)
		goto out;
	written = true;
	atomic64_add(cop.len, &vcd->stat_bytes);

	if (session.cipher && (cop.flags & COP_FLAG_WRITE_IV) && cop.iv) {
		/* Encrypting, the last ciphertext block is the destination's. */
		if ((cop.op == COP_ENCRYPT &&
		     copy_from_user(next_iv, cop.dst + cop.len - sizeof(next_iv),
				    sizeof(next_iv))) ||
		    copy_to_user(cop.iv, next_iv, sizeof(next_iv))) {
			err = -EFAULT;
			goto out;
		}
	}
	if (digest_len && copy_to_user(cop.mac, req->digest, digest_len))
		err = -EFAULT;
out:
	vcd_unpin_user_buf(&dst, written);
	vcd_unpin_user_buf(&src, written);
	kfree(req);
	return err;
}

static int vcd_ioctl_session_info(struct vcd_file *file, void __user *arg)
{
	struct session_info_op info;
	struct vcd_session session;
	int err;

	if (copy_from_user(&info, arg, sizeof(info)))
		return -EFAULT;
	err = vcd_lookup_session(file, info.ses, &session);
	if (err)
		return err;
	memset(&info.cipher_info, 0, sizeof(info.cipher_info));
	memset(&info.hash_info, 0, sizeof(info.hash_info));
	if (session.cipher) {
		strscpy(info.cipher_info.cra_name, session.cipher->name,
			sizeof(info.cipher_info.cra_name));
		snprintf(info.cipher_info.cra_driver_name,
			 sizeof(info.cipher_info.cra_driver_name),
			 "virtio-cryptodev%d-%s", file->vcd->minor,
			 session.cipher->name);
	}
	if (session.mac) {
		strscpy(info.hash_info.cra_name, session.mac->name,
			sizeof(info.hash_info.cra_name));
		snprintf(info.hash_info.cra_driver_name,
			 sizeof(info.hash_info.cra_driver_name),
			 "virtio-cryptodev%d-%s", file->vcd->minor,
			 session.mac->name);
	}
	info.alignmask = 0;
	info.flags = SIOP_FLAG_KERNEL_DRIVER_ONLY;
	return copy_to_user(arg, &info, sizeof(info)) ? -EFAULT : 0;
}

static long vcd_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	struct vcd_file *file = filp->private_data;
	void __user *uarg = (void __user *)arg;

	if (READ_ONCE(file->vcd->removed))
		return -ENODEV;
	switch (cmd) {
	case CIOCGSESSION:
		return vcd_ioctl_new_session(file, uarg);
	case CIOCFSESSION:
		return vcd_ioctl_free_session(file, uarg);
	case CIOCCRYPT:
		return vcd_ioctl_crypt(file, uarg);
	case CIOCGSESSINFO:
		return vcd_ioctl_session_info(file, uarg);
	default:
		return -EINVAL;
	}
}

static int vcd_open(struct inode *inode, struct file *filp)
{
	struct vcd_device *vcd;
	struct vcd_file *file;

	file = kzalloc(sizeof(*file), GFP_KERNEL);
	if (!file)
		return -ENOMEM;

	mutex_lock(&vcd_minors_lock);
	vcd = idr_find(&vcd_minors, iminor(inode));
	if (vcd)
		kref_get(&vcd->ref);
	mutex_unlock(&vcd_minors_lock);
	if (!vcd) {
		kfree(file);
		return -ENODEV;
	}

	file->vcd = vcd;
	mutex_init(&file->lock);
	xa_init(&file->sessions);
	filp->private_data = file;
	return nonseekable_open(inode, filp);
}

static int vcd_release_file(struct inode *inode, struct file *filp)
{
	struct vcd_file *file = filp->private_data;
	struct vcd_session *session;
	unsigned long id;

	/* A removed device answers -ENODEV at once: nothing to wait for. */
	xa_for_each(&file->sessions, id, session) {
		vcd_destroy_session(file->vcd, session->id);
		kfree(session);
	}
	xa_destroy(&file->sessions);
	mutex_destroy(&file->lock);
	vcd_put(file->vcd);
	kfree(file);
	return 0;
}

static const struct file_operations vcd_fops = {
	.owner = THIS_MODULE,
	.open = vcd_open,
	.release = vcd_release_file,
	.unlocked_ioctl = vcd_ioctl,
	.llseek = no_llseek,
};

#define VCD_STAT_ATTR(name, expr)					\
static ssize_t name##_show(struct device *dev,				\
			   struct device_attribute *attr, char *buf)	\
{									\
	struct vcd_device *vcd = dev_get_drvdata(dev);			\
									\
	return sysfs_emit(buf, "%llu\n", (unsigned long long)(expr));	\
}									\
static DEVICE_ATTR_RO(name)

VCD_STAT_ATTR(max_data_len, vcd->max_data_len);
VCD_STAT_ATTR(max_sessions, vcd->max_sessions);
VCD_STAT_ATTR(requests, atomic64_read(&vcd->stat_requests));
VCD_STAT_ATTR(bytes, atomic64_read(&vcd->stat_bytes));
VCD_STAT_ATTR(errors, atomic64_read(&vcd->stat_errors));

static struct attribute *vcd_attrs[] = {
	&dev_attr_max_data_len.attr,
	&dev_attr_max_sessions.attr,
	&dev_attr_requests.attr,
	&dev_attr_bytes.attr,
	&dev_attr_errors.attr,
	NULL,
};
ATTRIBUTE_GROUPS(vcd);

int vcd_chrdev_add(struct vcd_device *vcd, struct device *parent)
{
	struct device *dev;
	int minor;

	mutex_lock(&vcd_minors_lock);
	minor = idr_alloc(&vcd_minors, vcd, 0, VCD_MAX_DEVICES, GFP_KERNEL);
	mutex_unlock(&vcd_minors_lock);
	if (minor < 0)
		return minor;
	vcd->minor = minor;

	dev = device_create_with_groups(vcd_class, parent,
					MKDEV(MAJOR(vcd_devt), minor), vcd,
					vcd_groups, "cryptodev%d", minor);
	if (IS_ERR(dev)) {
		mutex_lock(&vcd_minors_lock);
		idr_remove(&vcd_minors, minor);
		mutex_unlock(&vcd_minors_lock);
		return PTR_ERR(dev);
	}
	return 0;
}

void vcd_chrdev_del(struct vcd_device *vcd)
{
	device_destroy(vcd_class, MKDEV(MAJOR(vcd_devt), vcd->minor));
	mutex_lock(&vcd_minors_lock);
	idr_remove(&vcd_minors, vcd->minor);
	mutex_unlock(&vcd_minors_lock);
}

/* Like /dev/crypto: any user may ask the device to compute. */
static char *vcd_devnode(struct device *dev, umode_t *mode)
{
	if (mode)
		*mode = 0666;
	return NULL;
}

int vcd_chrdev_init(void)
{
	int err;

	err = alloc_chrdev_region(&vcd_devt, 0, VCD_MAX_DEVICES, "cryptodev");
	if (err)
		return err;

	cdev_init(&vcd_cdev, &vcd_fops);
	err = cdev_add(&vcd_cdev, vcd_devt, VCD_MAX_DEVICES);
	if (err)
		goto err_region;

	vcd_class = class_create(THIS_MODULE, "virtio_cryptodev");
	if (IS_ERR(vcd_class)) {
		err = PTR_ERR(vcd_class);
		goto err_cdev;
	}
	vcd_class->devnode = vcd_devnode;
	return 0;

err_cdev:
	cdev_del(&vcd_cdev);
err_region:
	unregister_chrdev_region(vcd_devt, VCD_MAX_DEVICES);
	return err;
}

void vcd_chrdev_exit(void)
{
	class_destroy(vcd_class);
	cdev_del(&vcd_cdev);
	unregister_chrdev_region(vcd_devt, VCD_MAX_DEVICES);
	idr_destroy(&vcd_minors);
}
