/* SPDX-License-Identifier: GPL-2.0 OR MIT */
/*
 * virtio-cryptodev: the device ABI shared by the guest driver
 * (virtio/guest/) and the QEMU device model (virtio/qemu/).
 *
 * The guest driver exposes the cryptodev-linux ioctl ABI
 * (crypto/cryptodev.h) at /dev/cryptodevN and carries each operation to the
 * device as one request on a single virtqueue. Sessions live on the device
 * and are named by ids the device assigns; no host file descriptor or
 * pointer ever crosses to the guest.
 *
 * One request is one descriptor chain:
 *
 *   device-readable:  struct virtio_cryptodev_req, then the payload the
 *                     opcode defines (keys, or IV then source data)
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

/* Config space: the limits the driver checks every request against. */
struct virtio_cryptodev_config {
	__le32 max_data_len;	/* largest source/destination of one request */
	__le32 max_sessions;	/* sessions the device holds at once */
	__le32 max_key_len;	/* longest cipher or MAC key */
};

/* Limits a device may advertise; a driver refuses a device outside them. */
#define VIRTIO_CRYPTODEV_MIN_DATA_LEN	4096
#define VIRTIO_CRYPTODEV_MAX_DATA_LEN	(16 * 1024 * 1024)
#define VIRTIO_CRYPTODEV_MAX_SESSIONS	65536
#define VIRTIO_CRYPTODEV_MAX_KEY_LEN	512
#define VIRTIO_CRYPTODEV_MAX_DIGEST_LEN	64
#define VIRTIO_CRYPTODEV_BLOCK_LEN	16

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
};

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

/* VIRTIO_CRYPTODEV_OP_CRYPT directions, as cryptodev-linux numbers them. */
#define VIRTIO_CRYPTODEV_ENCRYPT	0
#define VIRTIO_CRYPTODEV_DECRYPT	1

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
};

struct virtio_cryptodev_resp {
	__le32 status;		/* enum virtio_cryptodev_status */
	__le32 session_id;	/* CREATE_SESSION: the new session */
	__le32 out_len;		/* bytes of output written before this */
	__le32 reserved;
};

#endif /* VIRTIO_CRYPTODEV_H */
