// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-cryptodev guest driver: CIOCAUTHCRYPT, one request each.
 *
 * AES-GCM, and cryptodev-linux's two composites of a cipher and an HMAC
 * session: TLS (MAC-then-encrypt with TLS padding) and SRTP (encrypt-then-
 * MAC, the data inside the authenticated bytes), plus ETM, SRTP's layout
 * with a block cipher (VIRTIO_CRYPTODEV_COP_FLAG_AEAD_ETM_TYPE, ours). Which
 * mode a call gets, the buffers it needs and the errno of every refusal are
 * cryptodev-linux's (authenc.c); the device computes the whole operation.
 *
 * The data goes zero-copy like CIOCCRYPT's (buffers.c); what differs
 * between source and destination, the tag and the TLS padding, travels in
 * the request itself, and the authenticated-only bytes in a kernel copy of
 * at most a page.
 */

#include <linux/slab.h>
#include <linux/uaccess.h>
#include <crypto/cryptodev.h>
#include "cryptodev.h"

#define VCD_AUTH_INPLACE_FLAGS	(COP_FLAG_AEAD_TLS_TYPE | \
				 COP_FLAG_AEAD_SRTP_TYPE | \
				 VIRTIO_CRYPTODEV_COP_FLAG_AEAD_ETM_TYPE)

struct vcd_auth_job {
	struct crypt_auth_op *caop;
	struct vcd_device *vcd;
	struct vcd_session *session;
	struct vcd_request *req;
	struct vcd_data data;
	u8 *aad;			/* A: auth_src, or SRTP's around the data */
	u32 mode;			/* VIRTIO_CRYPTODEV_AUTH_* */
	u32 data_len;
	u32 aad_len;
	u32 data_off;
	u32 tag_in;			/* bytes of tag the device checks */
	u32 tail_len;			/* bytes it writes after the data */
	u8 next_iv[VIRTIO_CRYPTODEV_BLOCK_LEN];
	struct scatterlist hdr, auth, iv, aad_sg, tag, tail, resp;
	struct scatterlist *sgs[VCD_FIXED_SGS + 2];
	unsigned int out, in;
};

/* The mode cryptodev-linux picks for @flags on @session, in its order. */
static int vcd_auth_mode(const struct vcd_session *session, u16 flags,
			 u32 *mode)
{
	bool gcm = session->cipher->mode == VCD_GCM;

	if (flags & COP_FLAG_AEAD_SRTP_TYPE) {
		*mode = VIRTIO_CRYPTODEV_AUTH_SRTP;
		/* Only stream modes, not AEAD. */
		return gcm || session->cipher->block_len != 1 ? -EINVAL : 0;
	}
	if (flags & VIRTIO_CRYPTODEV_COP_FLAG_AEAD_ETM_TYPE) {
		*mode = VIRTIO_CRYPTODEV_AUTH_ETM;
		return gcm ? -EINVAL : 0;
	}
	if ((flags & COP_FLAG_AEAD_TLS_TYPE) && !gcm) {
		*mode = VIRTIO_CRYPTODEV_AUTH_TLS;
		return 0;
	}
	*mode = VIRTIO_CRYPTODEV_AUTH_AEAD;
	return gcm ? 0 : -EINVAL;
}

/* tag_len 0 asks for the whole tag, which the caller is told. */
static int vcd_auth_tag_len(const struct vcd_session *session, u32 mode,
			    u32 *tag_len)
{
	u32 full = session->mac ? session->mac->digest_len : 0;

	if (mode == VIRTIO_CRYPTODEV_AUTH_AEAD)
		full = VIRTIO_CRYPTODEV_GCM_TAG_LEN;
	if (!*tag_len)
		*tag_len = full;
	if (mode == VIRTIO_CRYPTODEV_AUTH_AEAD)
		return virtio_cryptodev_gcm_tag_len_ok(*tag_len) ? 0 : -EINVAL;
	return *tag_len > full ? -EINVAL : 0;
}

/*
 * SRTP and ETM: the data lies inside auth_src, at most 256 bytes in; the
 * device gets the bytes before and after it as A, the data itself once.
 */
static int vcd_auth_srtp_layout(struct vcd_auth_job *job)
{
	struct crypt_auth_op *caop = job->caop;
	unsigned long off = (unsigned long)caop->src -
			    (unsigned long)caop->auth_src;
	u32 after;

	if ((!caop->dst && !caop->auth_src) || !caop->len || !caop->auth_len)
		return -EINVAL;
	if (caop->src < caop->auth_src || off > VIRTIO_CRYPTODEV_MAX_DATA_OFF ||
	    off + caop->len > caop->auth_len)
		return -EINVAL;
	after = caop->auth_len - off - caop->len;
	job->data_len = caop->len;
	job->data_off = off;
	job->aad_len = off + after;
	if (job->aad_len > VIRTIO_CRYPTODEV_MAX_AUTH_LEN)
		return -EINVAL;
	job->aad = kmalloc(job->aad_len + 1, GFP_KERNEL);
	if (!job->aad)
		return -ENOMEM;
	if (copy_from_user(job->aad, caop->auth_src, off) ||
	    copy_from_user(job->aad + off, caop->src + caop->len, after))
		return -EFAULT;
	/* Decrypting, the tag to check is the caller's; encrypting, it goes there. */
	if (caop->op == COP_DECRYPT &&
	    copy_from_user(job->req->tag, caop->tag, caop->tag_len))
		return -EFAULT;
	job->tag_in = virtio_cryptodev_auth_tag_in_len(job->mode, caop->op,
							caop->tag_len);
	return 0;
}

/* AEAD and TLS: A is auth_src, at most a page; GCM's tag follows its data. */
static int vcd_auth_aead_layout(struct vcd_auth_job *job)
{
	struct crypt_auth_op *caop = job->caop;
	const struct vcd_alg *cipher = job->session->cipher;

	job->data_len = caop->len;
	if (job->mode == VIRTIO_CRYPTODEV_AUTH_AEAD && caop->op == COP_DECRYPT) {
		if (caop->len < caop->tag_len)
			return -EINVAL;
		job->data_len = caop->len - caop->tag_len;
		job->tag_in = virtio_cryptodev_auth_tag_in_len(job->mode,
								caop->op,
								caop->tag_len);
		if (copy_from_user(job->req->tag, caop->src + job->data_len,
				   job->tag_in))
			return -EFAULT;
	}
	/* A TLS record to decrypt is whole blocks of the cipher. */
	if (job->mode == VIRTIO_CRYPTODEV_AUTH_TLS && caop->op == COP_DECRYPT &&
	    (!caop->len || caop->len % cipher->block_len))
		return -EINVAL;
	if (caop->auth_len > VIRTIO_CRYPTODEV_MAX_AUTH_LEN)
		return -EINVAL;
	job->aad_len = caop->auth_len;
	job->data_off = job->aad_len;
	job->aad = kmalloc(job->aad_len + 1, GFP_KERNEL);
	if (!job->aad)
		return -ENOMEM;
	if (copy_from_user(job->aad, caop->auth_src, job->aad_len))
		return -EFAULT;
	return 0;
}

/* Checks the call, takes its session and data and builds the chain. */
static int vcd_auth_prepare(struct vcd_file *file, struct vcd_auth_job *job)
{
	struct crypt_auth_op *caop = job->caop;
	const struct vcd_alg *cipher;
	struct vcd_request *req;
	int err;

	if (caop->op != COP_ENCRYPT && caop->op != COP_DECRYPT)
		return -EINVAL;
	job->session = vcd_get_session(file, caop->ses);
	if (!job->session)
		return -EINVAL;
	cipher = job->session->cipher;
	if (!cipher)
		return -EINVAL;
	if ((caop->flags & VCD_AUTH_INPLACE_FLAGS) && caop->src != caop->dst)
		return -EINVAL;
	err = vcd_auth_mode(job->session, caop->flags, &job->mode);
	if (!err)
		err = vcd_auth_tag_len(job->session, job->mode, &caop->tag_len);
	if (err)
		return err;

	req = vcd_request_alloc(VIRTIO_CRYPTODEV_OP_AUTH_CRYPT, job->session->id);
	if (!req)
		return -ENOMEM;
	job->req = req;
	if (job->mode == VIRTIO_CRYPTODEV_AUTH_SRTP ||
	    job->mode == VIRTIO_CRYPTODEV_AUTH_ETM)
		err = vcd_auth_srtp_layout(job);
	else
		err = vcd_auth_aead_layout(job);
	if (err)
		return err;
	/* ETM's data is whole blocks: it is encrypted as it stands. */
	if (job->data_len > job->vcd->max_data_len ||
	    (job->mode == VIRTIO_CRYPTODEV_AUTH_ETM &&
	     job->data_len % cipher->block_len))
		return -EINVAL;
	job->tail_len = virtio_cryptodev_auth_tail_len(job->mode, caop->op,
						       cipher->block_len,
						       job->data_len,
						       caop->tag_len);

	/* A missing IV means zeros, as with CIOCCRYPT. */
	if (caop->iv && copy_from_user(req->iv, caop->iv, cipher->iv_len))
		return -EFAULT;
	err = vcd_next_iv_before(cipher, caop->op, job->data_len, caop->src,
				 req->iv, job->next_iv);
	if (err)
		return err;
	if (job->data_len) {
		err = vcd_data_get(&job->data, job->vcd, caop->src, caop->dst,
				   job->data_len, true);
		if (err)
			return err;
	}

	req->hdr.op = cpu_to_le32(caop->op);
	req->hdr.iv_len = cpu_to_le32(cipher->iv_len);
	req->hdr.data_len = cpu_to_le32(job->data_len);
	req->auth.mode = cpu_to_le32(job->mode);
	req->auth.auth_len = cpu_to_le32(job->aad_len);
	req->auth.data_off = cpu_to_le32(job->data_off);
	req->auth.tag_len = cpu_to_le32(caop->tag_len);

	sg_init_one(&job->hdr, &req->hdr, sizeof(req->hdr));
	job->sgs[job->out++] = &job->hdr;
	sg_init_one(&job->auth, &req->auth, sizeof(req->auth));
	job->sgs[job->out++] = &job->auth;
	if (cipher->iv_len) {
		sg_init_one(&job->iv, req->iv, cipher->iv_len);
		job->sgs[job->out++] = &job->iv;
	}
	if (job->aad_len) {
		sg_init_one(&job->aad_sg, job->aad, job->aad_len);
		job->sgs[job->out++] = &job->aad_sg;
	}
	if (job->data.src_sg)
		job->sgs[job->out++] = job->data.src_sg;
	if (job->tag_in) {
		sg_init_one(&job->tag, req->tag, job->tag_in);
		job->sgs[job->out++] = &job->tag;
	}
	if (job->data.dst_sg)
		job->sgs[job->out + job->in++] = job->data.dst_sg;
	if (job->tail_len) {
		sg_init_one(&job->tail, req->digest, job->tail_len);
		job->sgs[job->out + job->in++] = &job->tail;
	}
	sg_init_one(&job->resp, &req->resp, sizeof(req->resp));
	job->sgs[job->out + job->in++] = &job->resp;
	return 0;
}

/* After the answer: the tail, the length and the IV into user memory. */
static int vcd_auth_finish(struct vcd_auth_job *job)
{
	struct crypt_auth_op *caop = job->caop;
	const struct vcd_alg *cipher = job->session->cipher;
	u32 result = le32_to_cpu(job->req->resp.result_len);
	bool separate_tag = job->mode == VIRTIO_CRYPTODEV_AUTH_SRTP ||
			    job->mode == VIRTIO_CRYPTODEV_AUTH_ETM;
	u8 __user *tail = separate_tag ? caop->tag : caop->dst + job->data_len;
	int err;

	err = vcd_data_finish(&job->data, true);
	if (err)
		return err;
	/* Even the device's lengths are checked before they are used. */
	if (result > job->data_len + job->tail_len ||
	    (cipher->mode == VCD_CBC && caop->op == COP_ENCRYPT &&
	     result < VIRTIO_CRYPTODEV_BLOCK_LEN))
		return -EIO;
	if (job->tail_len && copy_to_user(tail, job->req->digest, job->tail_len))
		return -EFAULT;
	atomic64_add(job->data_len, &job->vcd->stat_bytes);

	caop->len = result;
	if (job->mode == VIRTIO_CRYPTODEV_AUTH_AEAD)
		caop->tag = caop->dst + job->data_len;
	if (!(caop->flags & COP_FLAG_WRITE_IV) || !caop->iv ||
	    (cipher->mode != VCD_CBC && cipher->mode != VCD_CTR &&
	     cipher->mode != VCD_GCM))
		return 0;
	/* Encrypting CBC, the last ciphertext block is the record's last. */
	if (cipher->mode == VCD_CBC && caop->op == COP_ENCRYPT &&
	    copy_from_user(job->next_iv,
			   caop->dst + (separate_tag ? job->data_len : result) -
			   VIRTIO_CRYPTODEV_BLOCK_LEN, VIRTIO_CRYPTODEV_BLOCK_LEN))
		return -EFAULT;
	return copy_to_user(caop->iv, job->next_iv, cipher->iv_len) ? -EFAULT : 0;
}

/* CIOCAUTHCRYPT on @caop, which is updated as cryptodev-linux updates it. */
int vcd_auth_crypt(struct vcd_file *file, struct crypt_auth_op *caop)
{
	struct vcd_auth_job *job = kzalloc(sizeof(*job), GFP_KERNEL);
	int err;

	if (!job)
		return -ENOMEM;
	job->caop = caop;
	job->vcd = file->vcd;
	err = vcd_auth_prepare(file, job);
	if (!err)
		err = vcd_submit(job->vcd, job->req, job->sgs, job->out, job->in,
				 job->data_len + job->tail_len,
				 job->session->generation, true);
	if (!err)
		err = vcd_auth_finish(job);

	/* Once queued, the device may have written the pages, answer or not. */
	vcd_data_put(&job->data, job->req && job->req->queued);
	kfree_sensitive(job->aad);
	kfree(job->req);
	if (job->session)
		vcd_session_put(job->session);
	kfree(job);
	return err;
}
