// SPDX-License-Identifier: GPL-2.0
/*
 * The ABI of <crypto/cryptodev.h>, pinned at compile time: the numbers a
 * cryptodev-linux binary was built with on a 64-bit Linux (LP64).  If
 * this file stops compiling, the header broke binary compatibility.
 * Running it needs no device; it prints one line and exits 0.
 */
#include <stddef.h>
#include <stdio.h>
#include <sys/ioctl.h>

#include <crypto/cryptodev.h>

#define PIN(expr)	_Static_assert(expr, #expr)

/* Algorithm ids, flags and limits. */
PIN(CRYPTO_DES_CBC == 1 && CRYPTO_3DES_CBC == 2 && CRYPTO_BLF_CBC == 3);
PIN(CRYPTO_CAST_CBC == 4 && CRYPTO_SKIPJACK_CBC == 5);
PIN(CRYPTO_MD5_HMAC == 6 && CRYPTO_SHA1_HMAC == 7);
PIN(CRYPTO_RIPEMD160_HMAC == 8 && CRYPTO_MD5_KPDK == 9);
PIN(CRYPTO_SHA1_KPDK == 10);
PIN(CRYPTO_RIJNDAEL128_CBC == 11 && CRYPTO_AES_CBC == 11);
PIN(CRYPTO_ARC4 == 12 && CRYPTO_MD5 == 13 && CRYPTO_SHA1 == 14);
PIN(CRYPTO_DEFLATE_COMP == 15 && CRYPTO_NULL == 16 && CRYPTO_LZS_COMP == 17);
PIN(CRYPTO_SHA2_256_HMAC == 18 && CRYPTO_SHA2_384_HMAC == 19);
PIN(CRYPTO_SHA2_512_HMAC == 20);
PIN(CRYPTO_AES_CTR == 21 && CRYPTO_AES_XTS == 22 && CRYPTO_AES_ECB == 23);
PIN(CRYPTO_AES_GCM == 50);
PIN(CRYPTO_CAMELLIA_CBC == 101 && CRYPTO_RIPEMD160 == 102);
PIN(CRYPTO_SHA2_224 == 103 && CRYPTO_SHA2_256 == 104);
PIN(CRYPTO_SHA2_384 == 105 && CRYPTO_SHA2_512 == 106);
PIN(CRYPTO_SHA2_224_HMAC == 107);
PIN(CRYPTO_TLS11_AES_CBC_HMAC_SHA1 == 108);
PIN(CRYPTO_TLS12_AES_CBC_HMAC_SHA256 == 109);

PIN(CRYPTO_HMAC_MAX_KEY_LEN == 512 && CRYPTO_CIPHER_MAX_KEY_LEN == 64);
PIN(AES_BLOCK_LEN == 16 && EALG_MAX_BLOCK_LEN == 16);
PIN(HASH_MAX_LEN == 64 && AALG_MAX_RESULT_LEN == 64);
PIN(CRYPTODEV_MAX_ALG_NAME == 64);
PIN(COP_ENCRYPT == 0 && COP_DECRYPT == 1);
PIN(COP_FLAG_NONE == 0 && COP_FLAG_UPDATE == 1 && COP_FLAG_FINAL == 2);
PIN(COP_FLAG_WRITE_IV == 4 && COP_FLAG_NO_ZC == 8);
PIN(COP_FLAG_AEAD_TLS_TYPE == 16 && COP_FLAG_AEAD_SRTP_TYPE == 32);
PIN(COP_FLAG_RESET == 64);
PIN(SIOP_FLAG_KERNEL_DRIVER_ONLY == 1);

/* Layouts independent of pointer size. */
PIN(offsetof(struct session_info_op, cipher_info) == 4);
PIN(offsetof(struct session_info_op, hash_info) == 132);
PIN(offsetof(struct session_info_op, alignmask) == 260);
PIN(offsetof(struct session_info_op, flags) == 264);
PIN(sizeof(struct session_info_op) == 268);
PIN(sizeof(struct alg_info) == 128);
PIN(offsetof(struct crypt_op, op) == 4 && offsetof(struct crypt_op, flags) == 6);
PIN(offsetof(struct crypt_op, len) == 8);

PIN(CIOCFSESSION == 0x40046367);
PIN(CIOCGSESSINFO == 0xc10c636b);
PIN(CRIOGET == 0xc0046365 && CIOCASYMFEAT == 0x8004636a);
PIN(CIOCCPHASH == 0x40086370);

#if defined(__LP64__)
PIN(offsetof(struct session_op, keylen) == 8);
PIN(offsetof(struct session_op, key) == 16);
PIN(offsetof(struct session_op, mackeylen) == 24);
PIN(offsetof(struct session_op, mackey) == 32);
PIN(offsetof(struct session_op, ses) == 40);
PIN(sizeof(struct session_op) == 48);

PIN(offsetof(struct crypt_op, src) == 16 && offsetof(struct crypt_op, dst) == 24);
PIN(offsetof(struct crypt_op, mac) == 32 && offsetof(struct crypt_op, iv) == 40);
PIN(sizeof(struct crypt_op) == 48);

PIN(offsetof(struct crypt_auth_op, auth_len) == 12);
PIN(offsetof(struct crypt_auth_op, auth_src) == 16);
PIN(offsetof(struct crypt_auth_op, src) == 24);
PIN(offsetof(struct crypt_auth_op, dst) == 32);
PIN(offsetof(struct crypt_auth_op, tag) == 40);
PIN(offsetof(struct crypt_auth_op, tag_len) == 48);
PIN(offsetof(struct crypt_auth_op, iv) == 56);
PIN(offsetof(struct crypt_auth_op, iv_len) == 64);
PIN(sizeof(struct crypt_auth_op) == 72);

PIN(sizeof(struct crypt_kop) == 144);

PIN(CIOCGSESSION == 0xc0306366);
PIN(CIOCCRYPT == 0xc0306368);
PIN(CIOCKEY == 0xc0906369);
PIN(CIOCAUTHCRYPT == 0xc048636d);
PIN(CIOCASYNCCRYPT == 0x4030636e && CIOCASYNCFETCH == 0x8030636f);
#endif

int main(void)
{
	printf("ok   cryptodev.h ABI pinned at compile time (%s)\n",
#if defined(__LP64__)
	       "LP64: layouts, ids, flags and ioctl numbers"
#else
	       "not LP64: ids, flags and pointer-free layouts only"
#endif
	       );
	printf("cryptodev_abi: 1 passed, 0 failed\n");
	return 0;
}
