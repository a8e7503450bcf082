/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * cryptochat: the cryptodev ioctl ABI as a guest sees it on /dev/cryptodevN.
 *
 * This header is written from the facts of cryptodev-linux's
 * <crypto/cryptodev.h> (the /dev/crypto ABI): ioctl numbers, structure
 * layouts, algorithm ids and flag bits.  A program built against
 * cryptodev-linux must work unchanged against our device, so
 *
 *   NOTHING HERE MAY CHANGE: no field added, removed, reordered or resized,
 *   no enum value renumbered, no ioctl number touched.  The ioctl numbers
 *   encode sizeof() of their argument, so even padding is part of the ABI.
 *   Additions are only ever appended where cryptodev-linux appends them.
 *
 * The same file is included by the guest driver (kernel), by user-space
 * test programs and by the cffi build, so it uses only <linux/types.h>
 * and <linux/ioctl.h> and marks user pointers with __user.
 */
#ifndef CRYPTOCHAT_CRYPTO_CRYPTODEV_H
#define CRYPTOCHAT_CRYPTO_CRYPTODEV_H

#include <linux/types.h>
#include <linux/ioctl.h>

#ifndef __KERNEL__
#define __user
#endif

/* Upper bounds on key lengths accepted by CIOCGSESSION. */
#define CRYPTO_HMAC_MAX_KEY_LEN		512
#define CRYPTO_CIPHER_MAX_KEY_LEN	64

/*
 * Algorithm ids, for session_op.cipher and session_op.mac.
 * The values are fixed by the ABI; entries from CRYPTO_CAMELLIA_CBC on
 * are numbered implicitly (102, 103, ...).
 */
enum cryptodev_crypto_op_t {
	CRYPTO_DES_CBC			= 1,
	CRYPTO_3DES_CBC			= 2,
	CRYPTO_BLF_CBC			= 3,
	CRYPTO_CAST_CBC			= 4,
	CRYPTO_SKIPJACK_CBC		= 5,
	CRYPTO_MD5_HMAC			= 6,
	CRYPTO_SHA1_HMAC		= 7,
	CRYPTO_RIPEMD160_HMAC		= 8,
	CRYPTO_MD5_KPDK			= 9,
	CRYPTO_SHA1_KPDK		= 10,
	CRYPTO_RIJNDAEL128_CBC		= 11,
	CRYPTO_AES_CBC			= CRYPTO_RIJNDAEL128_CBC,
	CRYPTO_ARC4			= 12,
	CRYPTO_MD5			= 13,
	CRYPTO_SHA1			= 14,
	CRYPTO_DEFLATE_COMP		= 15,
	CRYPTO_NULL			= 16,
	CRYPTO_LZS_COMP			= 17,
	CRYPTO_SHA2_256_HMAC		= 18,
	CRYPTO_SHA2_384_HMAC		= 19,
	CRYPTO_SHA2_512_HMAC		= 20,
	CRYPTO_AES_CTR			= 21,
	CRYPTO_AES_XTS			= 22,
	CRYPTO_AES_ECB			= 23,
	CRYPTO_AES_GCM			= 50,

	CRYPTO_CAMELLIA_CBC		= 101,
	CRYPTO_RIPEMD160,		/* 102 */
	CRYPTO_SHA2_224,		/* 103 */
	CRYPTO_SHA2_256,		/* 104 */
	CRYPTO_SHA2_384,		/* 105 */
	CRYPTO_SHA2_512,		/* 106 */
	CRYPTO_SHA2_224_HMAC,		/* 107 */
	CRYPTO_TLS11_AES_CBC_HMAC_SHA1,	/* 108 */
	CRYPTO_TLS12_AES_CBC_HMAC_SHA256, /* 109 */
	CRYPTO_ALGORITHM_ALL		/* one past the last id */
};

#define CRYPTO_ALGORITHM_MAX	(CRYPTO_ALGORITHM_ALL - 1)

/* Block sizes, in bytes. */
#define DES_BLOCK_LEN		8
#define DES3_BLOCK_LEN		8
#define RIJNDAEL128_BLOCK_LEN	16
#define AES_BLOCK_LEN		RIJNDAEL128_BLOCK_LEN
#define CAMELLIA_BLOCK_LEN	16
#define BLOWFISH_BLOCK_LEN	8
#define SKIPJACK_BLOCK_LEN	8
#define CAST128_BLOCK_LEN	8
#define EALG_MAX_BLOCK_LEN	16	/* largest of the block sizes above */

/* Digest sizes, in bytes: the largest a hash or MAC writes to crypt_op.mac. */
#define AALG_MAX_RESULT_LEN	64
#define HASH_MAX_LEN		64

/* Size of the name buffers in struct alg_info. */
#define CRYPTODEV_MAX_ALG_NAME	64

/*
 * CIOCGSESSION argument.  Set cipher and/or mac (0 = unused) with their
 * keys; on success the driver writes the new session id to ses.
 */
struct session_op {
	__u32 cipher;			/* enum cryptodev_crypto_op_t or 0 */
	__u32 mac;			/* enum cryptodev_crypto_op_t or 0 */

	__u32 keylen;			/* cipher key, in bytes */
	__u8 __user *key;
	__u32 mackeylen;		/* HMAC key, in bytes */
	__u8 __user *mackey;

	__u32 ses;			/* out: session id */
};

/* Names of the transform behind one half of a session. */
struct alg_info {
	char cra_name[CRYPTODEV_MAX_ALG_NAME];		/* e.g. "cbc(aes)" */
	char cra_driver_name[CRYPTODEV_MAX_ALG_NAME];	/* who does the work */
};

/* CIOCGSESSINFO argument: set ses, the driver fills in the rest. */
struct session_info_op {
	__u32 ses;

	struct alg_info cipher_info;
	struct alg_info hash_info;

	__u16 alignmask;		/* required buffer alignment - 1 */
	__u32 flags;			/* SIOP_FLAG_* */
};

/* session_info_op.flags: the work is done by a driver only the kernel can reach. */
#define SIOP_FLAG_KERNEL_DRIVER_ONLY	1

/* crypt_op.op and crypt_auth_op.op */
#define COP_ENCRYPT	0
#define COP_DECRYPT	1

/*
 * CIOCCRYPT argument.  len bytes from src are processed into dst (which
 * may equal src).  For a cipher, iv points to one block of IV; for a
 * hash or MAC session the digest is written to mac.
 */
struct crypt_op {
	__u32 ses;
	__u16 op;			/* COP_ENCRYPT or COP_DECRYPT */
	__u16 flags;			/* COP_FLAG_* */
	__u32 len;
	__u8 __user *src;
	__u8 __user *dst;
	__u8 __user *mac;
	__u8 __user *iv;
};

/*
 * CIOCAUTHCRYPT argument (AEAD, and the TLS and SRTP composite modes).
 * auth_len bytes at auth_src are authenticated only; len bytes at src are
 * encrypted and authenticated into dst; tag_len 0 asks for the full tag.
 */
struct crypt_auth_op {
	__u32 ses;
	__u16 op;			/* COP_ENCRYPT or COP_DECRYPT */
	__u16 flags;			/* COP_FLAG_AEAD_* */
	__u32 len;
	__u32 auth_len;
	__u8 __user *auth_src;
	__u8 __user *src;
	__u8 __user *dst;		/* room for len + tag (+ a block for TLS) */
	__u8 __user *tag;
	__u32 tag_len;
	__u8 __user *iv;
	__u32 iv_len;
};

/* crypt_op.flags and crypt_auth_op.flags */
#define COP_FLAG_NONE		0
#define COP_FLAG_UPDATE		(1 << 0)	/* hash: more data follows */
#define COP_FLAG_FINAL		(1 << 1)	/* hash: last part, write digest */
#define COP_FLAG_WRITE_IV	(1 << 2)	/* write the chaining IV back to iv */
#define COP_FLAG_NO_ZC		(1 << 3)	/* no zero-copy of user pages */
#define COP_FLAG_AEAD_TLS_TYPE	(1 << 4)	/* CIOCAUTHCRYPT: TLS record rules */
#define COP_FLAG_AEAD_SRTP_TYPE	(1 << 5)	/* CIOCAUTHCRYPT: SRTP rules */
#define COP_FLAG_RESET		(1 << 6)	/* hash: restart, with UPDATE */

/* Public-key operations (CIOCKEY); part of the ABI, not implemented by us. */
#define CRYPTO_ALG_FLAG_SUPPORTED	1
#define CRYPTO_ALG_FLAG_RNG_ENABLE	2
#define CRYPTO_ALG_FLAG_DSA_SHA		4

struct crparam {
	__u8 *crp_p;
	__u32 crp_nbits;
};

#define CRK_MAXPARAM	8

struct crypt_kop {
	__u32 crk_op;			/* enum cryptodev_crk_op_t */
	__u32 crk_status;
	__u16 crk_iparams;
	__u16 crk_oparams;
	__u32 crk_pad1;
	struct crparam crk_param[CRK_MAXPARAM];
};

enum cryptodev_crk_op_t {
	CRK_MOD_EXP		= 0,
	CRK_MOD_EXP_CRT		= 1,
	CRK_DSA_SIGN		= 2,
	CRK_DSA_VERIFY		= 3,
	CRK_DH_COMPUTE_KEY	= 4,
	CRK_ALGORITHM_ALL
};

#define CRK_ALGORITHM_MAX	(CRK_ALGORITHM_ALL - 1)

/* Bits of the CIOCASYMFEAT answer. */
#define CRF_MOD_EXP		(1 << CRK_MOD_EXP)
#define CRF_MOD_EXP_CRT		(1 << CRK_MOD_EXP_CRT)
#define CRF_DSA_SIGN		(1 << CRK_DSA_SIGN)
#define CRF_DSA_VERIFY		(1 << CRK_DSA_VERIFY)
#define CRF_DH_COMPUTE_KEY	(1 << CRK_DH_COMPUTE_KEY)

/* CIOCCPHASH argument: copy the hash state of src_ses into dst_ses. */
struct cphash_op {
	__u32 dst_ses;
	__u32 src_ses;
};

/* The ioctls.  Numbers and argument types are fixed by the ABI. */
#define CRIOGET		_IOWR('c', 101, __u32)
#define CIOCGSESSION	_IOWR('c', 102, struct session_op)
#define CIOCFSESSION	_IOW('c', 103, __u32)
#define CIOCCRYPT	_IOWR('c', 104, struct crypt_op)
#define CIOCKEY		_IOWR('c', 105, struct crypt_kop)
#define CIOCASYMFEAT	_IOR('c', 106, __u32)
#define CIOCGSESSINFO	_IOWR('c', 107, struct session_info_op)
#define CIOCAUTHCRYPT	_IOWR('c', 109, struct crypt_auth_op)
#define CIOCASYNCCRYPT	_IOW('c', 110, struct crypt_op)
#define CIOCASYNCFETCH	_IOR('c', 111, struct crypt_op)
#define CIOCCPHASH	_IOW('c', 112, struct cphash_op)

/* Sessions can be created on the opened device directly; CRIOGET is optional. */
#define CRIOGET_NOT_NEEDED	1

#endif /* CRYPTOCHAT_CRYPTO_CRYPTODEV_H */
