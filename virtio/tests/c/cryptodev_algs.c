// SPDX-License-Identifier: GPL-2.0
/*
 * cryptodev_algs: every cipher mode and hash beyond AES-CBC and SHA-1/256/512,
 * through /dev/cryptodevN, against known answers:
 *
 *   AES-ECB   NIST SP 800-38A F.1.1 (first block)
 *   AES-CTR   NIST SP 800-38A F.5.1 (first block); a 37-byte message round
 *             trip; COP_FLAG_WRITE_IV chaining two calls equals one call
 *   AES-XTS   IEEE 1619 vector 4 (first 32 bytes), round trip
 *   NULL      a copy
 *   MD5, SHA-224, SHA-384 of "abc" (RFC 1321, FIPS 180-4)
 *   HMAC-MD5 RFC 2202 case 1; HMAC-SHA224/384 RFC 4231 case 2
 *   HMAC-SHA256 RFC 4231 case 2 in three parts (COP_FLAG_UPDATE, then
 *             COP_FLAG_FINAL), and continued on a copy (CIOCCPHASH)
 *
 *   cryptodev_algs [DEV]
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common.h"

#define MAX_OUT 64

struct digest_kat {
	const char *name;
	uint32_t mac;
	const char *key;	/* text, or NULL for a plain hash */
	size_t key_len;
	const char *data;
	const char *want;
};

static const struct digest_kat digest_kats[] = {
	{ "MD5(\"abc\")", CRYPTO_MD5, NULL, 0, "abc",
	  "900150983cd24fb0d6963f7d28e17f72" },
	{ "SHA-224(\"abc\")", CRYPTO_SHA2_224, NULL, 0, "abc",
	  "23097d223405d8228642a477bda255b32aadbce4bda0b3f7e36c9da7" },
	{ "SHA-384(\"abc\")", CRYPTO_SHA2_384, NULL, 0, "abc",
	  "cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed"
	  "8086072ba1e7cc2358baeca134c825a7" },
	{ "RFC 2202 case 1 HMAC-MD5", CRYPTO_MD5_HMAC,
	  "\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b\x0b", 16,
	  "Hi There", "9294727a3638bb1c13f48ef8158bfc9d" },
	{ "RFC 4231 case 2 HMAC-SHA224", CRYPTO_SHA2_224_HMAC, "Jefe", 4,
	  "what do ya want for nothing?",
	  "a30e01098bc6dbbf45690f3a7e9e6d0f8bbea2a39e6148008fd05e44" },
	{ "RFC 4231 case 2 HMAC-SHA384", CRYPTO_SHA2_384_HMAC, "Jefe", 4,
	  "what do ya want for nothing?",
	  "af45d2e376484031617f78d2b58a6b1b9c7ef464f5a01b47e42ec3736322445e"
	  "8e2240ca5e69e2c78b3239ecfab21649" },
};

static void digests(struct tally *t, int fd)
{
	uint8_t want[MAX_OUT], got[MAX_OUT];
	size_t i, n;
	uint32_t ses;
	int err;

	for (i = 0; i < sizeof(digest_kats) / sizeof(digest_kats[0]); i++) {
		const struct digest_kat *k = &digest_kats[i];

		n = unhex(k->want, want, sizeof(want));
		err = ses_new(fd, 0, NULL, 0, k->mac, k->key, k->key_len, &ses);
		if (!check(t, !err, "%s: session (%s)", k->name, errno_name(-err)))
			continue;
		err = cd_crypt(fd, ses, COP_ENCRYPT, 0, k->data, NULL,
			       strlen(k->data), NULL, got);
		check(t, !err && same_bytes(got, want, n), "%s (%s)", k->name,
		      errno_name(-err));
		ses_free(fd, ses);
	}
}

/* One call of @len bytes; returns -errno. */
static int one(int fd, uint32_t cipher, const uint8_t *key, uint32_t keylen,
	       uint16_t op, const uint8_t *iv, const uint8_t *src, uint8_t *dst,
	       uint32_t len)
{
	uint8_t iv_copy[16];
	uint32_t ses;
	int err;

	err = ses_new(fd, cipher, key, keylen, 0, NULL, 0, &ses);
	if (err)
		return err;
	if (iv)
		memcpy(iv_copy, iv, sizeof(iv_copy));
	err = cd_crypt(fd, ses, op, 0, src, dst, len, iv ? iv_copy : NULL, NULL);
	ses_free(fd, ses);
	return err;
}

static void ciphers(struct tally *t, int fd)
{
	uint8_t key[64], iv[16], pt[512], want[64], out[512], back[512];
	uint8_t ctr[16], part[64];
	uint32_t ses;
	size_t i;
	int err;

	unhex("2b7e151628aed2a6abf7158809cf4f3c", key, sizeof(key));
	unhex("6bc1bee22e409f96e93d7e117393172a", pt, sizeof(pt));
	unhex("3ad77bb40d7a3660a89ecaf32466ef97", want, sizeof(want));
	err = one(fd, CRYPTO_AES_ECB, key, 16, COP_ENCRYPT, NULL, pt, out, 16);
	check(t, !err && same_bytes(out, want, 16),
	      "SP800-38A F.1.1 ECB-AES128 encrypt (%s)", errno_name(-err));
	err = one(fd, CRYPTO_AES_ECB, key, 16, COP_DECRYPT, NULL, out, back, 16);
	check(t, !err && same_bytes(back, pt, 16), "ECB-AES128 decrypt (%s)",
	      errno_name(-err));

	unhex("f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff", iv, sizeof(iv));
	unhex("874d6191b620e3261bef6864990db6ce", want, sizeof(want));
	err = one(fd, CRYPTO_AES_CTR, key, 16, COP_ENCRYPT, iv, pt, out, 16);
	check(t, !err && same_bytes(out, want, 16),
	      "SP800-38A F.5.1 CTR-AES128 encrypt (%s)", errno_name(-err));
	for (i = 0; i < sizeof(pt); i++)
		pt[i] = (uint8_t)(i * 7 + 3);
	err = one(fd, CRYPTO_AES_CTR, key, 32, COP_ENCRYPT, iv, pt, out, 37);
	if (!err)
		err = one(fd, CRYPTO_AES_CTR, key, 32, COP_DECRYPT, iv, out, back, 37);
	check(t, !err && same_bytes(back, pt, 37),
	      "CTR-AES256 37-byte round trip (%s)", errno_name(-err));

	/* Two 32-byte calls chained by COP_FLAG_WRITE_IV equal one 64-byte call. */
	err = ses_new(fd, CRYPTO_AES_CTR, key, 16, 0, NULL, 0, &ses);
	if (check(t, !err, "CTR session (%s)", errno_name(-err))) {
		memcpy(ctr, iv, sizeof(ctr));
		err = cd_crypt(fd, ses, COP_ENCRYPT, COP_FLAG_WRITE_IV, pt, part,
			       32, ctr, NULL);
		if (!err)
			err = cd_crypt(fd, ses, COP_ENCRYPT, COP_FLAG_WRITE_IV,
				       pt + 32, part + 32, 32, ctr, NULL);
		if (!err) {
			memcpy(ctr, iv, sizeof(ctr));
			err = cd_crypt(fd, ses, COP_ENCRYPT, 0, pt, out, 64, ctr,
				       NULL);
		}
		check(t, !err && same_bytes(part, out, 64),
		      "CTR with COP_FLAG_WRITE_IV chains across calls (%s)",
		      errno_name(-err));
		ses_free(fd, ses);
	}

	unhex("27182818284590452353602874713526"
	      "31415926535897932384626433832795", key, sizeof(key));
	memset(iv, 0, sizeof(iv));
	for (i = 0; i < sizeof(pt); i++)
		pt[i] = (uint8_t)i;
	unhex("27a7479befa1d476489f308cd4cfa6e2"
	      "a96e4bbe3208ff25287dd3819616e89c", want, sizeof(want));
	err = one(fd, CRYPTO_AES_XTS, key, 32, COP_ENCRYPT, iv, pt, out, 512);
	check(t, !err && same_bytes(out, want, 32),
	      "IEEE 1619 vector 4 XTS-AES128 (%s)", errno_name(-err));
	err = one(fd, CRYPTO_AES_XTS, key, 32, COP_DECRYPT, iv, out, back, 512);
	check(t, !err && same_bytes(back, pt, 512), "XTS-AES128 round trip (%s)",
	      errno_name(-err));

	err = one(fd, CRYPTO_NULL, NULL, 0, COP_ENCRYPT, NULL, pt, out, 33);
	check(t, !err && same_bytes(out, pt, 33), "CRYPTO_NULL copies (%s)",
	      errno_name(-err));
}

static int part(int fd, uint32_t ses, uint16_t flags, const char *text,
		uint8_t *mac)
{
	return cd_crypt(fd, ses, COP_ENCRYPT, flags, text, NULL, strlen(text),
			NULL, mac);
}

static void multipart(struct tally *t, int fd)
{
	static const char key[] = "Jefe";
	uint8_t want[SHA256_LEN], got[SHA256_LEN], copied[SHA256_LEN];
	struct cphash_op cp;
	uint32_t a, b;
	int err;

	unhex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
	      want, sizeof(want));
	err = ses_new(fd, 0, NULL, 0, CRYPTO_SHA2_256_HMAC, key, 4, &a);
	if (!check(t, !err, "HMAC-SHA256 session (%s)", errno_name(-err)))
		return;
	err = part(fd, a, COP_FLAG_UPDATE | COP_FLAG_RESET, "what do ", got);
	if (!err)
		err = part(fd, a, COP_FLAG_UPDATE, "ya want ", got);
	if (!err)
		err = part(fd, a, COP_FLAG_FINAL, "for nothing?", got);
	check(t, !err && same_bytes(got, want, sizeof(want)),
	      "RFC 4231 case 2 in three parts (%s)", errno_name(-err));

	err = ses_new(fd, 0, NULL, 0, CRYPTO_SHA2_256_HMAC, key, 4, &b);
	if (check(t, !err, "a second HMAC-SHA256 session (%s)", errno_name(-err))) {
		err = part(fd, a, COP_FLAG_UPDATE | COP_FLAG_RESET, "what do ya ",
			   got);
		cp.dst_ses = b;
		cp.src_ses = a;
		if (!err)
			err = ioctl(fd, CIOCCPHASH, &cp) < 0 ? -errno : 0;
		if (!err)
			err = part(fd, a, COP_FLAG_FINAL, "want for nothing?", got);
		if (!err)
			err = part(fd, b, COP_FLAG_FINAL, "want for nothing?",
				   copied);
		check(t, !err && same_bytes(got, want, sizeof(want)) &&
		      same_bytes(copied, want, sizeof(want)),
		      "CIOCCPHASH: the copy continues to the same digest (%s)",
		      errno_name(-err));
		ses_free(fd, b);
	}
	ses_free(fd, a);
}

int main(int argc, char **argv)
{
	const char *dev = dev_path(argc, argv);
	struct tally t = { 0 };
	int fd = dev_open(dev);

	if (fd < 0) {
		fprintf(stderr, "cryptodev_algs: %s: %s\n", dev, errno_name(-fd));
		return 2;
	}
	ciphers(&t, fd);
	digests(&t, fd);
	multipart(&t, fd);
	close(fd);
	return tally_finish(&t, "cryptodev_algs");
}
