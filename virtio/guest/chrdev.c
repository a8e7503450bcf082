// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-cryptodev guest driver, the character-device half: /dev/cryptodevN
 * speaking the cryptodev-linux ioctl ABI.
 *
 * Every ioctl copies its arguments in, checks every length against the
 * device's limits before allocating, and sends one request. Sessions belong
 * to the open file that created them, under ids of the file's own; closing
 * the file destroys them on the device too. A session is counted: every
 * request in flight holds a reference, and the destroy request, allocated
 * with the session, goes out when the last one is dropped, whatever signal
 * the caller got, so no session leaks on the device and no id is reused
 * there while a request still names it.
 */

#include <linux/cdev.h>
#include <linux/compat.h>
#include <linux/file.h>
#include <linux/fs.h>
#include <linux/idr.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/mutex.h>
#include <linux/poll.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/xarray.h>
#include <crypto/cryptodev.h>
#include "compat.h"
#include "cryptodev.h"

#define VCD_CIPHER_ALG(id_, name_, mode_, iv_len_, block_len_) \
	{ .id = id_, .name = name_, .kind = VCD_CIPHER, .mode = mode_, \
	  .iv_len = iv_len_, .block_len = block_len_ }
#define VCD_DIGEST_ALG(id_, name_, kind_, len_) \
	{ .id = id_, .name = name_, .kind = kind_, .digest_len = len_ }

/* What the device supports; a new algorithm is a row here and there. */
static const struct vcd_alg vcd_algs[] = {
	VCD_CIPHER_ALG(CRYPTO_AES_CBC, "cbc(aes)", VCD_CBC, 16, 16),
	VCD_CIPHER_ALG(CRYPTO_AES_CTR, "ctr(aes)", VCD_CTR, 16, 1),
	VCD_CIPHER_ALG(CRYPTO_AES_ECB, "ecb(aes)", VCD_ECB, 0, 16),
	VCD_CIPHER_ALG(CRYPTO_AES_XTS, "xts(aes)", VCD_XTS, 16, 16),
	VCD_CIPHER_ALG(CRYPTO_NULL, "ecb(cipher_null)", VCD_NULL, 0, 1),
	VCD_CIPHER_ALG(CRYPTO_AES_GCM, "gcm(aes)", VCD_GCM,
		       VIRTIO_CRYPTODEV_GCM_IV_LEN, 1),
	VCD_DIGEST_ALG(CRYPTO_MD5_HMAC, "hmac(md5)", VCD_HMAC, 16),
	VCD_DIGEST_ALG(CRYPTO_SHA1_HMAC, "hmac(sha1)", VCD_HMAC, 20),
	VCD_DIGEST_ALG(CRYPTO_SHA2_224_HMAC, "hmac(sha224)", VCD_HMAC, 28),
	VCD_DIGEST_ALG(CRYPTO_SHA2_256_HMAC, "hmac(sha256)", VCD_HMAC, 32),
	VCD_DIGEST_ALG(CRYPTO_SHA2_384_HMAC, "hmac(sha384)", VCD_HMAC, 48),
	VCD_DIGEST_ALG(CRYPTO_SHA2_512_HMAC, "hmac(sha512)", VCD_HMAC, 64),
	VCD_DIGEST_ALG(CRYPTO_MD5, "md5", VCD_HASH, 16),
	VCD_DIGEST_ALG(CRYPTO_SHA1, "sha1", VCD_HASH, 20),
	VCD_DIGEST_ALG(CRYPTO_SHA2_224, "sha224", VCD_HASH, 28),
	VCD_DIGEST_ALG(CRYPTO_SHA2_256, "sha256", VCD_HASH, 32),
	VCD_DIGEST_ALG(CRYPTO_SHA2_384, "sha384", VCD_HASH, 48),
	VCD_DIGEST_ALG(CRYPTO_SHA2_512, "sha512", VCD_HASH, 64),
};

/*
 * The ids user space sees are handles of the driver's own, unique across
 * files (another file's handle is unknown here) and independent of the
 * device's ids, which a reset hands out again.
 */
static atomic_t vcd_next_handle = ATOMIC_INIT(0);

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

struct vcd_request *vcd_request_alloc(u32 opcode, u32 session_id)
{
	struct vcd_request *req = kzalloc(sizeof(*req), GFP_KERNEL);

	if (req) {
		req->hdr.opcode = cpu_to_le32(opcode);
		req->hdr.session_id = cpu_to_le32(session_id);
	}
	return req;
}

static void vcd_session_release(struct kref *ref)
{
	struct vcd_session *session = container_of(ref, struct vcd_session, ref);
	struct vcd_request *req = session->destroy;
	struct scatterlist hdr, resp, *sgs[] = { &hdr, &resp };

	/*
	 * Not killable: an interrupted destroy would leak the session on the
	 * device. The wait ends: the device answers, or is reset or removed.
	 * A session from before a reset is already gone there and not sent.
	 */
	sg_init_one(&hdr, &req->hdr, sizeof(req->hdr));
	sg_init_one(&resp, &req->resp, sizeof(req->resp));
	vcd_submit(session->vcd, req, sgs, 1, 1, 0, session->generation, false);
	kfree(req);
	kfree(session);
}

void vcd_session_put(struct vcd_session *session)
{
	kref_put(&session->ref, vcd_session_release);
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
		if (!virtio_cryptodev_cipher_key_len_ok(sop->cipher, sop->keylen))
			return -EINVAL;
		/* GCM authenticates itself: a second MAC would have no use. */
		if ((*cipher)->mode == VCD_GCM && sop->mac)
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

/* CIOCGSESSION on the caller's @user_sop, whose ses it sets. */
static int vcd_new_session(struct vcd_file *file, struct session_op *user_sop)
{
	struct vcd_device *vcd = file->vcd;
	struct scatterlist hdr, keys_sg, resp, *sgs[3];
	const struct vcd_alg *cipher, *mac;
	struct vcd_session *session;
	struct session_op sop = *user_sop;
	struct vcd_request *req;
	size_t keys_len;
	u8 *keys = NULL;
	int err;

	err = vcd_check_session_op(vcd, &sop, &cipher, &mac);
	if (err)
		return err;

	keys_len = sop.keylen + sop.mackeylen;
	req = vcd_request_alloc(VIRTIO_CRYPTODEV_OP_CREATE_SESSION, 0);
	session = kzalloc(sizeof(*session), GFP_KERNEL);
	if (session)
		session->destroy = vcd_request_alloc(VIRTIO_CRYPTODEV_OP_DESTROY_SESSION, 0);
	if (keys_len)
		keys = kmalloc(keys_len, GFP_KERNEL);
	if (!req || !session || !session->destroy || (keys_len && !keys)) {
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
		err = vcd_submit(vcd, req, sgs, 2, 1, 0, VCD_ANY_GENERATION, true);
	} else {
		sgs[1] = &resp;
		err = vcd_submit(vcd, req, sgs, 1, 1, 0, VCD_ANY_GENERATION, true);
	}
	if (err)
		goto out;

	/* From here the session exists on the device: the last put destroys it. */
	kref_init(&session->ref);
	session->vcd = vcd;
	session->id = le32_to_cpu(req->resp.session_id);
	session->generation = req->generation;
	session->cipher = cipher;
	session->mac = mac;
	session->destroy->hdr.session_id = cpu_to_le32(session->id);
	mutex_lock(&file->lock);
	do {
		user_sop->ses = atomic_inc_return(&vcd_next_handle);
		/* Busy only after the handles wrapped: take the next. */
		err = user_sop->ses ? xa_insert(&file->sessions, user_sop->ses,
						session, GFP_KERNEL) : -EBUSY;
	} while (err == -EBUSY);
	mutex_unlock(&file->lock);
	if (err)
		goto out_put;
	session = NULL;
	goto out;
out_put:
	vcd_session_put(session);
	session = NULL;
out:
	kfree_sensitive(keys);
	if (session)
		kfree(session->destroy);
	kfree(session);
	kfree(req);
	return err;
}

static int vcd_free_session(struct vcd_file *file, u32 id)
{
	struct vcd_session *session;

	mutex_lock(&file->lock);
	session = xa_erase(&file->sessions, id);
	mutex_unlock(&file->lock);
	if (!session)
		return -ENOENT;
	/* Gone for this file now; on the device once no request holds it. */
	vcd_session_put(session);
	return 0;
}

static int vcd_ioctl_free_session(struct vcd_file *file, u32 __user *arg)
{
	u32 id;

	return get_user(id, arg) ? -EFAULT : vcd_free_session(file, id);
}

static int vcd_ioctl_new_session(struct vcd_file *file, void __user *arg)
{
	struct session_op sop;
	int err;

	if (copy_from_user(&sop, arg, sizeof(sop)))
		return -EFAULT;
	err = vcd_new_session(file, &sop);
	if (!err && copy_to_user(arg, &sop, sizeof(sop))) {
		vcd_free_session(file, sop.ses);
		err = -EFAULT;
	}
	return err;
}

/* The file's session @id, with a reference the caller puts. */
struct vcd_session *vcd_get_session(struct vcd_file *file, u32 id)
{
	struct vcd_session *session;

	mutex_lock(&file->lock);
	session = xa_load(&file->sessions, id);
	if (session)
		kref_get(&session->ref);
	mutex_unlock(&file->lock);
	return session;
}

#define VCD_HASH_FLAGS (COP_FLAG_UPDATE | COP_FLAG_FINAL | COP_FLAG_RESET)

/* cryptodev-linux's multi-part hashing flags, as the device numbers them. */
static u32 vcd_hash_flags(u16 flags)
{
	return (flags & COP_FLAG_UPDATE ? VIRTIO_CRYPTODEV_F_UPDATE : 0) |
	       (flags & COP_FLAG_FINAL ? VIRTIO_CRYPTODEV_F_FINAL : 0) |
	       (flags & COP_FLAG_RESET ? VIRTIO_CRYPTODEV_F_RESET : 0);
}

static int vcd_check_crypt_op(struct vcd_device *vcd, const struct crypt_op *cop,
			      const struct vcd_session *session)
{
	if (cop->len > vcd->max_data_len)
		return -EINVAL;
	/* Multi-part hashing needs a hash: the running state is the MAC's. */
	if ((cop->flags & VCD_HASH_FLAGS) && !session->mac)
		return -EINVAL;
	if (cop->op != COP_ENCRYPT && cop->op != COP_DECRYPT)
		return -EINVAL;
	if (session->cipher) {
		/* AEAD goes through CIOCAUTHCRYPT only. */
		if (!cop->len || cop->len % session->cipher->block_len ||
		    session->cipher->mode == VCD_GCM)
			return -EINVAL;
	} else if (cop->op != COP_ENCRYPT) {
		/* cryptodev-linux would hash the destination, which a hash has not. */
		return -EINVAL;
	}
	return 0;
}

/*
 * The IV COP_FLAG_WRITE_IV hands back, where it is known before the device
 * runs: CTR's counter advanced by the blocks used, CBC's last source block
 * when decrypting (in place, the device overwrites it), GCM's unchanged.
 * CBC encryption takes it from the destination afterwards.
 */
int vcd_next_iv_before(const struct vcd_alg *alg, u16 op, u32 len,
		       const u8 __user *src, const u8 *iv, u8 *next_iv)
{
	u64 hi, lo, blocks;

	if (alg->mode == VCD_GCM) {
		memcpy(next_iv, iv, alg->iv_len);
		return 0;
	}
	if (alg->mode == VCD_CTR) {
		blocks = DIV_ROUND_UP((u64)len, VIRTIO_CRYPTODEV_BLOCK_LEN);
		hi = get_unaligned_be64(iv);
		lo = get_unaligned_be64(iv + 8);
		hi += lo + blocks < lo;
		put_unaligned_be64(hi, next_iv);
		put_unaligned_be64(lo + blocks, next_iv + 8);
		return 0;
	}
	if (alg->mode == VCD_CBC && op == COP_DECRYPT &&
	    copy_from_user(next_iv, src + len - VIRTIO_CRYPTODEV_BLOCK_LEN,
			   VIRTIO_CRYPTODEV_BLOCK_LEN))
		return -EFAULT;
	return 0;
}

/*
 * One CIOCCRYPT, synchronous or asynchronous: everything the request needs
 * while the device holds it (the scatterlists included) lives here.
 */
struct vcd_job {
	struct list_head node;		/* on the file's done list */
	struct vcd_file *file;
	struct crypt_op cop;
	struct vcd_session *session;
	struct vcd_request *req;
	struct vcd_data data;
	struct scatterlist hdr, iv_sg, digest_sg, resp;
	struct scatterlist *sgs[VCD_FIXED_SGS + 2];
	unsigned int out, in;
	u8 next_iv[VIRTIO_CRYPTODEV_BLOCK_LEN];
	u32 digest_len;
	u32 expected;
};

static void vcd_job_free(struct vcd_job *job)
{
	/* Once queued, the device may have written the pages, answer or not. */
	vcd_data_put(&job->data, job->req && job->req->queued);
	kfree(job->req);
	if (job->session)
		vcd_session_put(job->session);
	kfree(job);
}

/* Checks @job->cop, takes its session and data and builds the chain. */
static int vcd_job_prepare(struct vcd_job *job)
{
	struct vcd_device *vcd = job->file->vcd;
	struct crypt_op *cop = &job->cop;
	struct vcd_session *session;
	struct vcd_request *req;
	u32 flags;
	int err;

	session = vcd_get_session(job->file, cop->ses);
	if (!session)
		return -EINVAL;
	job->session = session;
	err = vcd_check_crypt_op(vcd, cop, session);
	if (err)
		return err;
	flags = session->mac ? vcd_hash_flags(cop->flags) : 0;
	job->digest_len = session->mac &&
			  virtio_cryptodev_digest_out(flags, cop->len) ?
			  session->mac->digest_len : 0;
	job->expected = (session->cipher ? cop->len : 0) + job->digest_len;

	req = vcd_request_alloc(VIRTIO_CRYPTODEV_OP_CRYPT, session->id);
	if (!req)
		return -ENOMEM;
	job->req = req;
	if (cop->len) {
		err = vcd_data_get(&job->data, vcd, cop->src, cop->dst, cop->len,
				   session->cipher);
		if (err)
			return err;
	}

	sg_init_one(&job->hdr, &req->hdr, sizeof(req->hdr));
	job->sgs[job->out++] = &job->hdr;
	if (session->cipher)
		req->hdr.op = cpu_to_le32(cop->op);
	if (session->cipher && session->cipher->iv_len) {
		/* A missing IV means zeros, as with cryptodev-linux's first call. */
		if (cop->iv && copy_from_user(req->iv, cop->iv, sizeof(req->iv)))
			return -EFAULT;
		err = vcd_next_iv_before(session->cipher, cop->op, cop->len,
					 cop->src, req->iv, job->next_iv);
		if (err)
			return err;
		req->hdr.iv_len = cpu_to_le32(sizeof(req->iv));
		sg_init_one(&job->iv_sg, req->iv, sizeof(req->iv));
		job->sgs[job->out++] = &job->iv_sg;
	}
	req->hdr.data_len = cpu_to_le32(cop->len);
	req->hdr.flags = cpu_to_le32(flags);
	if (job->data.src_sg)
		job->sgs[job->out++] = job->data.src_sg;
	if (job->data.dst_sg)
		job->sgs[job->out + job->in++] = job->data.dst_sg;
	if (job->digest_len) {
		sg_init_one(&job->digest_sg, req->digest, job->digest_len);
		job->sgs[job->out + job->in++] = &job->digest_sg;
	}
	sg_init_one(&job->resp, &req->resp, sizeof(req->resp));
	job->sgs[job->out + job->in++] = &job->resp;
	return 0;
}

/* After the answer, in the caller's context: results into user memory. */
static int vcd_job_finish(struct vcd_job *job, int err)
{
	const struct vcd_alg *cipher = job->session->cipher;
	struct crypt_op *cop = &job->cop;

	if (!err)
		err = vcd_data_finish(&job->data, true);
	if (err)
		return err;
	atomic64_add(cop->len, &job->file->vcd->stat_bytes);

	if (cipher && (cipher->mode == VCD_CBC || cipher->mode == VCD_CTR) &&
	    (cop->flags & COP_FLAG_WRITE_IV) && cop->iv) {
		/* Encrypting CBC, the last ciphertext block is the destination's. */
		if ((cipher->mode == VCD_CBC && cop->op == COP_ENCRYPT &&
		     copy_from_user(job->next_iv,
				    cop->dst + cop->len - sizeof(job->next_iv),
				    sizeof(job->next_iv))) ||
		    copy_to_user(cop->iv, job->next_iv, sizeof(job->next_iv)))
			return -EFAULT;
	}
	if (job->digest_len &&
	    copy_to_user(cop->mac, job->req->digest, job->digest_len))
		return -EFAULT;
	return 0;
}

static int vcd_crypt(struct vcd_file *file, const struct crypt_op *cop)
{
	struct vcd_job *job = kzalloc(sizeof(*job), GFP_KERNEL);
	int err;

	if (!job)
		return -ENOMEM;
	job->file = file;
	job->cop = *cop;
	err = vcd_job_prepare(job);
	if (!err)
		err = vcd_job_finish(job, vcd_submit(file->vcd, job->req, job->sgs,
						     job->out, job->in,
						     job->expected,
						     job->session->generation,
						     true));
	vcd_job_free(job);
	return err;
}

/* The queue callback, for an asynchronous job: short, under the queue lock. */
static void vcd_job_answered(struct vcd_request *req)
{
	struct vcd_job *job = req->owner;
	struct vcd_file *file = job->file;
	unsigned long flags;

	/* The wake-up under the lock: release frees @file once it sees none. */
	spin_lock_irqsave(&file->async_lock, flags);
	list_add_tail(&job->node, &file->async_done);
	file->async_in_flight--;
	wake_up(&file->async_wait);
	spin_unlock_irqrestore(&file->async_lock, flags);
}

static bool vcd_async_idle(struct vcd_file *file)
{
	bool idle;

	spin_lock_irq(&file->async_lock);
	idle = !file->async_in_flight;
	spin_unlock_irq(&file->async_lock);
	return idle;
}

/*
 * CIOCASYNCCRYPT: queued at once, answered later through CIOCASYNCFETCH;
 * at most VCD_ASYNC_MAX per file in flight or unfetched (EBUSY beyond), as
 * cryptodev-linux does.
 */
static int vcd_async_crypt(struct vcd_file *file, const struct crypt_op *cop)
{
	struct vcd_job *job;
	int err;

	spin_lock_irq(&file->async_lock);
	err = file->async_jobs >= VCD_ASYNC_MAX ? -EBUSY : 0;
	if (!err)
		file->async_jobs++;
	spin_unlock_irq(&file->async_lock);
	if (err)
		return err;

	job = kzalloc(sizeof(*job), GFP_KERNEL);
	if (!job) {
		err = -ENOMEM;
		goto out_slot;
	}
	job->file = file;
	job->cop = *cop;
	err = job->cop.flags & COP_FLAG_NO_ZC ? -EINVAL : vcd_job_prepare(job);
	if (err)
		goto out_free;

	job->req->owner = job;
	job->req->answered = vcd_job_answered;
	spin_lock_irq(&file->async_lock);
	file->async_in_flight++;
	spin_unlock_irq(&file->async_lock);
	err = vcd_queue(file->vcd, job->req, job->sgs, job->out, job->in,
			job->session->generation, true);
	if (!err)
		return 0;
	spin_lock_irq(&file->async_lock);
	file->async_in_flight--;
	spin_unlock_irq(&file->async_lock);
out_free:
	vcd_job_free(job);
out_slot:
	spin_lock_irq(&file->async_lock);
	file->async_jobs--;
	spin_unlock_irq(&file->async_lock);
	wake_up(&file->async_wait);
	return err;
}

/* CIOCASYNCFETCH: the first answered job's results; its crypt_op in @cop. */
static int vcd_async_fetch(struct vcd_file *file, struct crypt_op *cop)
{
	struct vcd_job *job;
	int err;

	spin_lock_irq(&file->async_lock);
	job = list_first_entry_or_null(&file->async_done, struct vcd_job, node);
	if (job) {
		list_del(&job->node);
		file->async_jobs--;
	}
	spin_unlock_irq(&file->async_lock);
	if (!job)
		return -EBUSY;
	wake_up(&file->async_wait);

	err = job->req->error;
	if (!err)
		err = vcd_check_answer(file->vcd, job->req, job->expected);
	/* Results land in the memory of the process that queued the job. */
	if (!err && current->mm != job->data.mm && job->data.mm)
		err = -EFAULT;
	err = vcd_job_finish(job, err);
	*cop = job->cop;
	vcd_job_free(job);
	return err;
}

static int vcd_ioctl_crypt(struct vcd_file *file, void __user *arg, bool async)
{
	struct crypt_op cop;

	if (copy_from_user(&cop, arg, sizeof(cop)))
		return -EFAULT;
	return async ? vcd_async_crypt(file, &cop) : vcd_crypt(file, &cop);
}

static int vcd_ioctl_async_fetch(struct vcd_file *file, void __user *arg)
{
	struct crypt_op cop;
	int err = vcd_async_fetch(file, &cop);

	if (!err && copy_to_user(arg, &cop, sizeof(cop)))
		err = -EFAULT;
	return err;
}

static __poll_t vcd_poll(struct file *filp, poll_table *wait)
{
	struct vcd_file *file = filp->private_data;
	__poll_t mask = 0;

	poll_wait(filp, &file->async_wait, wait);
	spin_lock_irq(&file->async_lock);
	if (!list_empty(&file->async_done))
		mask |= EPOLLIN | EPOLLRDNORM;
	if (file->async_jobs < VCD_ASYNC_MAX)
		mask |= EPOLLOUT | EPOLLWRNORM;
	spin_unlock_irq(&file->async_lock);
	return mask;
}

static int vcd_ioctl_session_info(struct vcd_file *file, void __user *arg)
{
	struct session_info_op info;
	struct vcd_session *found;
	struct vcd_session session;

	if (copy_from_user(&info, arg, sizeof(info)))
		return -EFAULT;
	found = vcd_get_session(file, info.ses);
	if (!found)
		return -EINVAL;
	session = *found;
	vcd_session_put(found);
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

/* CIOCCPHASH: the running hash state of one of the file's sessions into another. */
static int vcd_ioctl_copy_hash(struct vcd_file *file, void __user *arg)
{
	struct scatterlist hdr, src_sg, resp, *sgs[] = { &hdr, &src_sg, &resp };
	struct vcd_session *dst = NULL, *src = NULL;
	struct vcd_request *req = NULL;
	struct cphash_op op;
	__le32 *src_id;
	int err = -EINVAL;

	if (copy_from_user(&op, arg, sizeof(op)))
		return -EFAULT;
	dst = vcd_get_session(file, op.dst_ses);
	src = vcd_get_session(file, op.src_ses);
	if (!dst || !src || dst == src || !dst->mac || dst->mac != src->mac ||
	    dst->cipher || src->cipher || dst->generation != src->generation)
		goto out;
	req = vcd_request_alloc(VIRTIO_CRYPTODEV_OP_COPY_HASH, dst->id);
	if (!req) {
		err = -ENOMEM;
		goto out;
	}
	/* The request's IV field is ours to use: it carries the source id. */
	src_id = (__le32 *)req->iv;
	*src_id = cpu_to_le32(src->id);
	sg_init_one(&hdr, &req->hdr, sizeof(req->hdr));
	sg_init_one(&src_sg, src_id, sizeof(*src_id));
	sg_init_one(&resp, &req->resp, sizeof(req->resp));
	err = vcd_submit(file->vcd, req, sgs, 2, 1, 0, dst->generation, true);
out:
	kfree(req);
	if (src)
		vcd_session_put(src);
	if (dst)
		vcd_session_put(dst);
	return err;
}

static int vcd_ioctl_auth_crypt(struct vcd_file *file, void __user *arg)
{
	struct crypt_auth_op caop;
	int err;

	if (copy_from_user(&caop, arg, sizeof(caop)))
		return -EFAULT;
	err = vcd_auth_crypt(file, &caop);
	/* Like cryptodev-linux: len, tag_len and tag say what was produced. */
	if (!err && copy_to_user(arg, &caop, sizeof(caop)))
		err = -EFAULT;
	return err;
}

/*
 * CRIOGET, as cryptodev-linux answers it: a new descriptor for the same open
 * file (BSD's clone, kept for the programs that still ask for it).
 */
static int vcd_ioctl_clone(struct file *filp, u32 __user *arg)
{
	int fd = get_unused_fd_flags(0);

	if (fd < 0)
		return fd;
	if (put_user(fd, arg)) {
		put_unused_fd(fd);
		return -EFAULT;
	}
	fd_install(fd, get_file(filp));
	return 0;
}

static long vcd_ioctl(struct file *filp, unsigned int cmd, unsigned long arg)
{
	struct vcd_file *file = filp->private_data;
	void __user *uarg = (void __user *)arg;

	if (READ_ONCE(file->vcd->removed))
		return -ENODEV;
	switch (cmd) {
	case CRIOGET:
		return vcd_ioctl_clone(filp, uarg);
	case CIOCASYMFEAT:
		/* No public-key operations: no feature bits, as cryptodev-linux. */
		return put_user(0, (u32 __user *)uarg);
	case CIOCGSESSION:
		return vcd_ioctl_new_session(file, uarg);
	case CIOCFSESSION:
		return vcd_ioctl_free_session(file, uarg);
	case CIOCCRYPT:
		return vcd_ioctl_crypt(file, uarg, false);
	case CIOCASYNCCRYPT:
		return vcd_ioctl_crypt(file, uarg, true);
	case CIOCASYNCFETCH:
		return vcd_ioctl_async_fetch(file, uarg);
	case CIOCGSESSINFO:
		return vcd_ioctl_session_info(file, uarg);
	case CIOCCPHASH:
		return vcd_ioctl_copy_hash(file, uarg);
	case CIOCAUTHCRYPT:
		return vcd_ioctl_auth_crypt(file, uarg);
	default:
		return -EINVAL;
	}
}

#ifdef CONFIG_COMPAT
/*
 * 32-bit programs: the two argument structs that carry pointers, as such a
 * program lays them out (and so under other ioctl numbers). Every other
 * argument has one layout and goes straight to vcd_ioctl().
 */
struct compat_session_op {
	u32 cipher;
	u32 mac;
	u32 keylen;
	compat_uptr_t key;
	u32 mackeylen;
	compat_uptr_t mackey;
	u32 ses;
};

struct compat_crypt_op {
	u32 ses;
	u16 op;
	u16 flags;
	u32 len;
	compat_uptr_t src;
	compat_uptr_t dst;
	compat_uptr_t mac;
	compat_uptr_t iv;
};

struct compat_crypt_auth_op {
	u32 ses;
	u16 op;
	u16 flags;
	u32 len;
	u32 auth_len;
	compat_uptr_t auth_src;
	compat_uptr_t src;
	compat_uptr_t dst;
	compat_uptr_t tag;
	u32 tag_len;
	compat_uptr_t iv;
	u32 iv_len;
};

#define COMPAT_CIOCGSESSION	_IOWR('c', 102, struct compat_session_op)
#define COMPAT_CIOCCRYPT	_IOWR('c', 104, struct compat_crypt_op)
#define COMPAT_CIOCASYNCCRYPT	_IOW('c', 110, struct compat_crypt_op)
#define COMPAT_CIOCASYNCFETCH	_IOR('c', 111, struct compat_crypt_op)
#define COMPAT_CIOCAUTHCRYPT	_IOWR('c', 109, struct compat_crypt_auth_op)

static int vcd_compat_new_session(struct vcd_file *file, void __user *arg)
{
	struct compat_session_op c;
	struct session_op sop;
	int err;

	if (copy_from_user(&c, arg, sizeof(c)))
		return -EFAULT;
	sop = (struct session_op) {
		.cipher = c.cipher, .mac = c.mac,
		.keylen = c.keylen, .key = compat_ptr(c.key),
		.mackeylen = c.mackeylen, .mackey = compat_ptr(c.mackey),
	};
	err = vcd_new_session(file, &sop);
	c.ses = sop.ses;
	if (!err && copy_to_user(arg, &c, sizeof(c))) {
		vcd_free_session(file, sop.ses);
		err = -EFAULT;
	}
	return err;
}

static int vcd_compat_crypt(struct vcd_file *file, void __user *arg, bool async)
{
	struct compat_crypt_op c;
	struct crypt_op cop;

	if (copy_from_user(&c, arg, sizeof(c)))
		return -EFAULT;
	cop = (struct crypt_op) {
		.ses = c.ses, .op = c.op, .flags = c.flags, .len = c.len,
		.src = compat_ptr(c.src), .dst = compat_ptr(c.dst),
		.mac = compat_ptr(c.mac), .iv = compat_ptr(c.iv),
	};
	return async ? vcd_async_crypt(file, &cop) : vcd_crypt(file, &cop);
}

static int vcd_compat_async_fetch(struct vcd_file *file, void __user *arg)
{
	struct compat_crypt_op c;
	struct crypt_op cop;
	int err = vcd_async_fetch(file, &cop);

	if (err)
		return err;
	c = (struct compat_crypt_op) {
		.ses = cop.ses, .op = cop.op, .flags = cop.flags, .len = cop.len,
		.src = ptr_to_compat(cop.src), .dst = ptr_to_compat(cop.dst),
		.mac = ptr_to_compat(cop.mac), .iv = ptr_to_compat(cop.iv),
	};
	return copy_to_user(arg, &c, sizeof(c)) ? -EFAULT : 0;
}

static int vcd_compat_auth_crypt(struct vcd_file *file, void __user *arg)
{
	struct compat_crypt_auth_op c;
	struct crypt_auth_op caop;
	int err;

	if (copy_from_user(&c, arg, sizeof(c)))
		return -EFAULT;
	caop = (struct crypt_auth_op) {
		.ses = c.ses, .op = c.op, .flags = c.flags, .len = c.len,
		.auth_len = c.auth_len, .auth_src = compat_ptr(c.auth_src),
		.src = compat_ptr(c.src), .dst = compat_ptr(c.dst),
		.tag = compat_ptr(c.tag), .tag_len = c.tag_len,
		.iv = compat_ptr(c.iv), .iv_len = c.iv_len,
	};
	err = vcd_auth_crypt(file, &caop);
	if (err)
		return err;
	c.len = caop.len;
	c.tag_len = caop.tag_len;
	c.tag = ptr_to_compat(caop.tag);
	return copy_to_user(arg, &c, sizeof(c)) ? -EFAULT : 0;
}

static long vcd_compat_ioctl(struct file *filp, unsigned int cmd,
			     unsigned long arg)
{
	struct vcd_file *file = filp->private_data;
	void __user *uarg = compat_ptr(arg);

	if (READ_ONCE(file->vcd->removed))
		return -ENODEV;
	switch (cmd) {
	case COMPAT_CIOCGSESSION:
		return vcd_compat_new_session(file, uarg);
	case COMPAT_CIOCCRYPT:
		return vcd_compat_crypt(file, uarg, false);
	case COMPAT_CIOCASYNCCRYPT:
		return vcd_compat_crypt(file, uarg, true);
	case COMPAT_CIOCASYNCFETCH:
		return vcd_compat_async_fetch(file, uarg);
	case COMPAT_CIOCAUTHCRYPT:
		return vcd_compat_auth_crypt(file, uarg);
	default:
		return vcd_ioctl(filp, cmd, (unsigned long)uarg);
	}
}
#endif

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
	spin_lock_init(&file->async_lock);
	INIT_LIST_HEAD(&file->async_done);
	init_waitqueue_head(&file->async_wait);
	filp->private_data = file;
	return nonseekable_open(inode, filp);
}

static int vcd_release_file(struct inode *inode, struct file *filp)
{
	struct vcd_file *file = filp->private_data;
	struct vcd_session *session;
	struct vcd_job *job, *next;
	unsigned long id;

	/*
	 * Jobs still queued are waited for (the device answers, or is reset
	 * or removed, which answers them): their pages and sessions are
	 * released here, nothing leaks. Nobody fetches them any more.
	 */
	wait_event(file->async_wait, vcd_async_idle(file));
	list_for_each_entry_safe(job, next, &file->async_done, node)
		vcd_job_free(job);

	/* No ioctl runs on a file being released: every ref here is the file's. */
	xa_for_each(&file->sessions, id, session) {
		xa_erase(&file->sessions, id);
		vcd_session_put(session);
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
#ifdef CONFIG_COMPAT
	.compat_ioctl = vcd_compat_ioctl,
#endif
	.poll = vcd_poll,
	.llseek = VCD_NO_LLSEEK,
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
VCD_STAT_ATTR(resets, atomic64_read(&vcd->stat_resets));
VCD_STAT_ATTR(bounced, atomic64_read(&vcd->stat_bounced));
VCD_STAT_ATTR(ring_waits, atomic64_read(&vcd->stat_ring_waits));

static struct attribute *vcd_attrs[] = {
	&dev_attr_max_data_len.attr,
	&dev_attr_max_sessions.attr,
	&dev_attr_requests.attr,
	&dev_attr_bytes.attr,
	&dev_attr_errors.attr,
	&dev_attr_resets.attr,
	&dev_attr_bounced.attr,
	&dev_attr_ring_waits.attr,
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
static char *vcd_devnode(VCD_DEVNODE_CONST struct device *dev, umode_t *mode)
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

	vcd_class = vcd_class_create("virtio_cryptodev");
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
