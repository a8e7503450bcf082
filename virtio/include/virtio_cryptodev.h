/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * virtio-cryptodev: the device ABI shared by the guest driver
 * (virtio/guest/) and the QEMU device model (virtio/qemu/).
 *
 * The guest driver exposes the cryptodev-linux ioctl ABI
 * (crypto/cryptodev.h) at /dev/cryptodevN and carries each operation to the
 * device as one request on a request virtqueue. Sessions live on the device
 * and are named by ids the device assigns; no host file descriptor or
 * pointer ever crosses to the guest.
 *
 * One request is one descriptor chain:
 *
 *   device-readable:  struct virtio_cryptodev_req, then the payload the
 *                     opcode defines (keys, or IV then source data, ...)
 *   device-writable:  the output the opcode defines (destination data, then
 *                     the digest), then struct virtio_cryptodev_resp last
 *
 * The device finds the response at the end of the writable buffers, so a
 * request it rejects early is still answered. The used length it reports
 * always covers the response: it is the whole writable part. The output
 * room before the response is written only on success; a failed request
 * leaves the guest's buffers as they were.
 *
 * A chain is never longer than the queue (the virtio spec's rule): the
 * driver pins the caller's pages when they fit and bounces the data through
 * larger kernel chunks when they do not. The device answers a bounded batch
 * of requests per turn of QEMU's main loop and yields in between.
 *
 * All fields are little-endian.
 */
#ifndef VIRTIO_CRYPTODEV_H
#define VIRTIO_CRYPTODEV_H

#include <linux/types.h>
#include "crypto/cryptodev.h"

/*
 * Linux's virtio_pci claims modern device ids up to 63 (PCI ids
 * 0x1040..0x107f). The OASIS registry has handed out ids up to the mid
 * forties; 63 is the last one Linux will bind and the furthest from any
 * future allocation, which suits a device that is not (yet) standard.
 */
#define VIRTIO_ID_CRYPTODEV		63

/*
 * Feature bits. With F_MQ the device offers num_queues request queues
 * (virtqueues 0..num_queues-1), all alike: a driver may put any request on
 * any of them, and the device answers each queue's requests in the order
 * it took them. Sessions belong to the device, not to a queue. Without
 * F_MQ only queue 0 is used.
 */
#define VIRTIO_CRYPTODEV_F_MQ		0

/* Config space: the limits the driver checks every request against. */
struct virtio_cryptodev_config {
	__le32 max_data_len;	/* largest source/destination of one request */
	__le32 max_sessions;	/* sessions the device holds at once */
	__le32 max_key_len;	/* longest cipher or MAC key */
	__le32 num_queues;	/* F_MQ: request queues, 1..MAX_QUEUES */
};

/* Limits a device may advertise; a driver refuses a device outside them. */
#define VIRTIO_CRYPTODEV_MIN_DATA_LEN	4096
#define VIRTIO_CRYPTODEV_MAX_DATA_LEN	(16 * 1024 * 1024)
#define VIRTIO_CRYPTODEV_MAX_SESSIONS	65536
#define VIRTIO_CRYPTODEV_MAX_KEY_LEN	512
#define VIRTIO_CRYPTODEV_MAX_QUEUES	64
#define VIRTIO_CRYPTODEV_MAX_DIGEST_LEN	64
#define VIRTIO_CRYPTODEV_BLOCK_LEN	16
/* CIOCAUTHCRYPT's authenticated-only data, at most a page (cryptodev-linux's). */
#define VIRTIO_CRYPTODEV_MAX_AUTH_LEN	4096
/* How far into it SRTP's (and ETM's) data may start: cryptodev-linux's limit. */
#define VIRTIO_CRYPTODEV_MAX_DATA_OFF	256
/* What an AUTH_CRYPT writes after the destination: a tag, TLS padding. */
#define VIRTIO_CRYPTODEV_MAX_TAIL_LEN	(VIRTIO_CRYPTODEV_MAX_DIGEST_LEN + \
					 VIRTIO_CRYPTODEV_BLOCK_LEN)
#define VIRTIO_CRYPTODEV_GCM_IV_LEN	12
#define VIRTIO_CRYPTODEV_GCM_TAG_LEN	16

/* CRYPT and AUTH_CRYPT directions, as cryptodev-linux numbers them. */
#define VIRTIO_CRYPTODEV_ENCRYPT	0
#define VIRTIO_CRYPTODEV_DECRYPT	1

enum virtio_cryptodev_opcode {
	/*
	 * readable payload: cipher key (key_len), then MAC key (mac_key_len)
	 * writable output:  none; resp.session_id names the new session
	 */
	VIRTIO_CRYPTODEV_OP_CREATE_SESSION = 1,
	/* no payload, no output */
	VIRTIO_CRYPTODEV_OP_DESTROY_SESSION = 2,
	/*
	 * readable payload: IV (iv_len: 16 with a cipher, else 0), then the
	 *                   source (data_len)
	 * writable output:  the destination (data_len, cipher sessions only),
	 *                   then the digest (the MAC's length, MAC sessions
	 *                   only, when the flags below say it is written)
	 * With both a cipher and a MAC, the MAC covers the plaintext: the
	 * source when encrypting, the destination when decrypting.
	 */
	VIRTIO_CRYPTODEV_OP_CRYPT = 3,
	/*
	 * readable payload: the source session's id (le32)
	 * writable output:  none
	 * The running hash state of the source session is copied into
	 * session_id's; both hash or HMAC sessions of one algorithm.
	 */
	VIRTIO_CRYPTODEV_OP_COPY_HASH = 4,
	/*
	 * One CIOCAUTHCRYPT: AEAD or a cipher-and-MAC composite, in one pass.
	 * readable payload: struct virtio_cryptodev_auth, the IV (iv_len: the
	 *                   cipher's), the authenticated-only data A
	 *                   (auth_len), the source D (data_len), then, when
	 *                   decrypting in a mode with a separate tag, the tag
	 *                   to check (tag_len)
	 * writable output:  the destination (data_len), then the tail
	 *                   (virtio_cryptodev_auth_tail_len() bytes)
	 * resp.result_len is the length cryptodev-linux returns in len.
	 * A tag that does not verify, or bad TLS padding, is S_BADMSG.
	 */
	VIRTIO_CRYPTODEV_OP_AUTH_CRYPT = 5,
};

/*
 * AUTH_CRYPT modes. The MAC (or GCM's GHASH) covers A[0, data_off), then
 * the data, then A[data_off, auth_len): the ciphertext, except in TLS mode,
 * which authenticates the plaintext. AEAD and TLS take data_off == auth_len.
 *
 * AEAD  AES-GCM session. Encrypting: out = C, then the tag. Decrypting: D is
 *       C without its tag, which follows as the tag to check; out = P.
 * TLS   cipher + HMAC session (COP_FLAG_AEAD_TLS_TYPE): MAC-then-encrypt.
 *       Encrypting: out = E(P || MAC || padding), its tail the encrypted
 *       MAC and padding (TLS padding: n bytes of n - 1, a block cipher
 *       only). Decrypting: out = the whole decrypted record, result_len
 *       the plaintext's length within it.
 * SRTP  stream cipher + HMAC session (COP_FLAG_AEAD_SRTP_TYPE):
 *       encrypt-then-MAC, the data inside the authenticated bytes.
 *       Encrypting: out = C, then the tag. Decrypting: the tag is checked
 *       before anything is decrypted; out = P.
 * ETM   SRTP's layout and order with any non-AEAD cipher (a cryptochat
 *       extension, VIRTIO_CRYPTODEV_COP_FLAG_AEAD_ETM_TYPE): one request
 *       seals a record as AES-CBC + HMAC, encrypt-then-MAC.
 */
enum virtio_cryptodev_auth_mode {
	VIRTIO_CRYPTODEV_AUTH_AEAD = 1,
	VIRTIO_CRYPTODEV_AUTH_TLS = 2,
	VIRTIO_CRYPTODEV_AUTH_SRTP = 3,
	VIRTIO_CRYPTODEV_AUTH_ETM = 4,
};

struct virtio_cryptodev_auth {
	__le32 mode;		/* enum virtio_cryptodev_auth_mode */
	__le32 auth_len;	/* A, at most VIRTIO_CRYPTODEV_MAX_AUTH_LEN */
	__le32 data_off;	/* where in A the data sits: SRTP, ETM at most 256 */
	__le32 tag_len;		/* the MAC's digest or less; GCM's 4..16 */
};

/*
 * CIOCAUTHCRYPT's flag for the ETM mode, in crypt_auth_op.flags: a
 * cryptochat extension, clear of cryptodev-linux's flags. The SRTP layout
 * (src == dst inside auth_src, the tag at tag), with a block cipher allowed.
 */
#define VIRTIO_CRYPTODEV_COP_FLAG_AEAD_ETM_TYPE	(1 << 15)

/* The tag lengths GCM takes, as Linux's gcm(aes) (and libgcrypt) take them. */
static inline int virtio_cryptodev_gcm_tag_len_ok(__u32 tag_len)
{
	return tag_len == 4 || tag_len == 8 || (tag_len >= 12 && tag_len <= 16);
}

/*
 * Bytes of tag an AUTH_CRYPT carries in after the source: decrypting, in
 * every mode but TLS, whose MAC is inside the encrypted record.
 */
static inline __u32 virtio_cryptodev_auth_tag_in_len(__u32 mode, __u32 op,
						     __u32 tag_len)
{
	return op == VIRTIO_CRYPTODEV_DECRYPT &&
	       mode != VIRTIO_CRYPTODEV_AUTH_TLS ? tag_len : 0;
}

/*
 * Bytes an AUTH_CRYPT writes after the destination: encrypting, the tag,
 * and in TLS mode the padding to a whole block (cryptodev-linux's rule:
 * a full block when already aligned); decrypting, none.
 */
static inline __u32 virtio_cryptodev_auth_tail_len(__u32 mode, __u32 op,
						   __u32 block_len,
						   __u32 data_len,
						   __u32 tag_len)
{
	if (op != VIRTIO_CRYPTODEV_ENCRYPT)
		return 0;
	if (mode == VIRTIO_CRYPTODEV_AUTH_TLS && block_len > 1)
		return tag_len + block_len - (data_len + tag_len) % block_len;
	return tag_len;
}

/*
 * VIRTIO_CRYPTODEV_OP_CRYPT flags, for sessions with a hash or HMAC: the
 * device keeps a running state per session, as cryptodev-linux does.
 * The state starts over first with F_RESET, or with no flag at all (a
 * one-shot). The digest is written (and the state then starts over) with
 * F_FINAL, without F_UPDATE, or when data_len is 0.
 */
#define VIRTIO_CRYPTODEV_F_UPDATE	(1 << 0)
#define VIRTIO_CRYPTODEV_F_FINAL	(1 << 1)
#define VIRTIO_CRYPTODEV_F_RESET	(1 << 2)
#define VIRTIO_CRYPTODEV_F_ALL		(VIRTIO_CRYPTODEV_F_UPDATE | \
					 VIRTIO_CRYPTODEV_F_FINAL | \
					 VIRTIO_CRYPTODEV_F_RESET)

/* Whether a CRYPT with @flags on @data_len bytes writes the digest. */
static inline int virtio_cryptodev_digest_out(__u32 flags, __u32 data_len)
{
	return (flags & VIRTIO_CRYPTODEV_F_FINAL) ||
	       !(flags & VIRTIO_CRYPTODEV_F_UPDATE) || !data_len;
}

/*
 * The key lengths a cipher session takes, as Linux's crypto API (and so
 * cryptodev-linux) takes them: one rule for the driver and the device.
 */
static inline int virtio_cryptodev_cipher_key_len_ok(__u32 cipher, __u32 key_len)
{
	switch (cipher) {
	case CRYPTO_NULL:
		return key_len == 0;
	case CRYPTO_AES_XTS:	/* two AES keys */
		return key_len == 32 || key_len == 48 || key_len == 64;
	default:
		return key_len == 16 || key_len == 24 || key_len == 32;
	}
}

/*
 * Algorithms are named by cryptodev-linux's ids (CRYPTO_AES_CBC,
 * CRYPTO_SHA2_256_HMAC, ...), so the driver forwards them unchanged and a
 * new algorithm is a table entry on both sides, not a protocol change.
 */
struct virtio_cryptodev_req {
	__le32 opcode;
	__le32 session_id;	/* DESTROY_SESSION and CRYPT */
	__le32 cipher;		/* CREATE_SESSION: cryptodev id, 0 for none */
	__le32 mac;		/* CREATE_SESSION: cryptodev id, 0 for none */
	__le32 key_len;		/* CREATE_SESSION */
	__le32 mac_key_len;	/* CREATE_SESSION */
	__le32 op;		/* CRYPT: VIRTIO_CRYPTODEV_ENCRYPT/DECRYPT */
	__le32 iv_len;		/* CRYPT */
	__le32 data_len;	/* CRYPT */
	__le32 flags;		/* CRYPT: VIRTIO_CRYPTODEV_F_*, else zero */
};

enum virtio_cryptodev_status {
	VIRTIO_CRYPTODEV_S_OK = 0,
	VIRTIO_CRYPTODEV_S_BADREQ = 1,		/* malformed request or chain */
	VIRTIO_CRYPTODEV_S_NOTSUPP = 2,		/* algorithm or key size */
	VIRTIO_CRYPTODEV_S_NOSESSION = 3,	/* unknown session id */
	VIRTIO_CRYPTODEV_S_NOSPACE = 4,		/* session table full */
	VIRTIO_CRYPTODEV_S_BACKEND = 5,		/* the host's crypto failed */
	VIRTIO_CRYPTODEV_S_BADMSG = 6,		/* AUTH_CRYPT: tag or padding */
};

struct virtio_cryptodev_resp {
	__le32 status;		/* enum virtio_cryptodev_status */
	__le32 session_id;	/* CREATE_SESSION: the new session */
	__le32 out_len;		/* bytes of output written before this */
	__le32 result_len;	/* AUTH_CRYPT: what cryptodev-linux's len says */
};

#endif /* VIRTIO_CRYPTODEV_H */
