// SPDX-License-Identifier: GPL-2.0
/*
 * Known-answer tests for /dev/cryptodevN through the cryptodev ioctl ABI.
 *
 *   cryptodev_vectors [DEVICE]
 *
 * AES-CBC: NIST SP 800-38A F.2.1-F.2.6 (128/192/256, encrypt and decrypt,
 * in place and out of place, COP_FLAG_WRITE_IV chaining).
 * HMAC-SHA256: RFC 4231 cases 1-7.  SHA-256: FIPS 180 examples.
 * HMAC-SHA1: RFC 2202 cases 1-2.  A cipher+mac session checked against
 * separate sessions.  Round trips and split-vs-whole at 16 B, 4 KiB,
 * 64 KiB and the device maximum.  CIOCGSESSINFO names a virtio driver.
 *
 * One line per check; exit status 0 only if every check passed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

#define MAC_FILL	0x5a	/* canary in mac buffers beyond the digest */

/* NIST SP 800-38A Appendix F.2: one IV and plaintext, three keys. */
static const char nist_iv[] = "000102030405060708090a0b0c0d0e0f";
static const char nist_pt[] =
	"6bc1bee22e409f96e93d7e117393172a" "ae2d8a571e03ac9c9eb76fac45af8e51"
	"30c81c46a35ce411e5fbc1191a0a52ef" "f69f2445df4f9b17ad2b417be66c3710";

struct cbc_vector {
	const char *name;
	const char *key;
	const char *ct;
};

static const struct cbc_vector cbc_vectors[] = {
	{
		"SP800-38A F.2.1/F.2.2 CBC-AES128",
		"2b7e151628aed2a6abf7158809cf4f3c",
		"7649abac8119b246cee98e9b12e9197d"
		"5086cb9b507219ee95db113a917678b2"
		"73bed6b8e3c1743b7116e69e22229516"
		"3ff1caa1681fac09120eca307586e1a7",
	},
	{
		"SP800-38A F.2.3/F.2.4 CBC-AES192",
		"8e73b0f7da0e6452c810f32b809079e562f8ead2522c6b7b",
		"4f021db243bc633d7178183a9fa071e8"
		"b4d9ada9ad7dedf4e5e738763f69145a"
		"571b242012fb7ae07fa9baac3df102e0"
		"08b0e27988598881d920a9e64f5615cd",
	},
	{
		"SP800-38A F.2.5/F.2.6 CBC-AES256",
		"603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
		"f58c4c04d6e5f1ba779eabfb5f7bfbd6"
		"9cfc4e967edb808d679f777bc6702c7d"
		"39f23369a9d9bacfa530e26304231461"
		"b2eb05e2c39be9fcda6c19078c6a9d1b",
	},
};

/*
 * A hash or HMAC known answer.  Key and message are either hex (key_hex,
 * msg_text) or one byte repeated (key_fill x key_len, msg_fill x msg_len).
 */
struct mac_vector {
	const char *name;
	uint32_t alg;
	uint32_t digest_len;		/* what the algorithm writes */
	const char *key_hex;
	uint8_t key_fill;
	uint32_t key_len;
	const char *msg_text;
	uint8_t msg_fill;
	uint32_t msg_len;
	const char *digest;		/* hex */
	uint32_t cmp_len;		/* bytes compared */
};

static const struct mac_vector mac_vectors[] = {
	{ "RFC4231 case 1 HMAC-SHA256", CRYPTO_SHA2_256_HMAC, 32,
	  NULL, 0x0b, 20, "Hi There", 0, 0,
	  "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7", 32 },
	{ "RFC4231 case 2 HMAC-SHA256", CRYPTO_SHA2_256_HMAC, 32,
	  "4a656665", 0, 0, "what do ya want for nothing?", 0, 0,
	  "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843", 32 },
	{ "RFC4231 case 3 HMAC-SHA256", CRYPTO_SHA2_256_HMAC, 32,
	  NULL, 0xaa, 20, NULL, 0xdd, 50,
	  "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe", 32 },
	{ "RFC4231 case 4 HMAC-SHA256", CRYPTO_SHA2_256_HMAC, 32,
	  "0102030405060708090a0b0c0d0e0f10111213141516171819", 0, 0,
	  NULL, 0xcd, 50,
	  "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b", 32 },
	{ "RFC4231 case 5 HMAC-SHA256 (truncated to 128 bits)",
	  CRYPTO_SHA2_256_HMAC, 32,
	  NULL, 0x0c, 20, "Test With Truncation", 0, 0,
	  "a3b6167473100ee06e0c796c2955552b", 16 },
	{ "RFC4231 case 6 HMAC-SHA256 (131-byte key)", CRYPTO_SHA2_256_HMAC, 32,
	  NULL, 0xaa, 131,
	  "Test Using Larger Than Block-Size Key - Hash Key First", 0, 0,
	  "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54", 32 },
	{ "RFC4231 case 7 HMAC-SHA256 (131-byte key, long data)",
	  CRYPTO_SHA2_256_HMAC, 32,
	  NULL, 0xaa, 131,
	  "This is a test using a larger than block-size key and a larger "
	  "than block-size data. The key needs to be hashed before being "
	  "used by the HMAC algorithm.", 0, 0,
	  "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2", 32 },
	{ "FIPS180 SHA-256 \"abc\"", CRYPTO_SHA2_256, 32,
	  NULL, 0, 0, "abc", 0, 0,
	  "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", 32 },
	{ "FIPS180 SHA-256 empty message", CRYPTO_SHA2_256, 32,
	  NULL, 0, 0, "", 0, 0,
	  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", 32 },
	{ "FIPS180 SHA-256 448-bit message", CRYPTO_SHA2_256, 32,
	  NULL, 0, 0, "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
	  0, 0,
	  "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1", 32 },
	{ "RFC2202 case 1 HMAC-SHA1", CRYPTO_SHA1_HMAC, 20,
	  NULL, 0x0b, 20, "Hi There", 0, 0,
	  "b617318655057264e28bc0b6fb378c8ef146be00", 20 },
	{ "RFC2202 case 2 HMAC-SHA1", CRYPTO_SHA1_HMAC, 20,
	  "4a656665", 0, 0, "what do ya want for nothing?", 0, 0,
	  "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79", 20 },
};

struct ctx {
	const char *dev;
	int fd;
	uint32_t max_len;
	struct tally t;
};

/* ---- AES-CBC known answers ------------------------------------------ */

struct cbc_bufs {
	uint8_t key[32], iv[16], pt[64], ct[64];
	uint32_t keylen;
};

static void cbc_load(const struct cbc_vector *v, struct cbc_bufs *b)
{
	b->keylen = unhex(v->key, b->key, sizeof(b->key));
	unhex(nist_iv, b->iv, sizeof(b->iv));
	unhex(nist_pt, b->pt, sizeof(b->pt));
	unhex(v->ct, b->ct, sizeof(b->ct));
}

/* One direction, in place or out of place; the IV buffer must not change. */
static void cbc_one(struct ctx *c, const struct cbc_vector *v,
		    const struct cbc_bufs *b, uint32_t ses, uint16_t op,
		    bool in_place)
{
	const uint8_t *in = op == COP_ENCRYPT ? b->pt : b->ct;
	const uint8_t *want = op == COP_ENCRYPT ? b->ct : b->pt;
	uint8_t src[64], dst[64], iv[16];
	uint8_t *out = in_place ? src : dst;
	const char *how = in_place ? "in place" : "out of place";
	const char *dir = op == COP_ENCRYPT ? "encrypt" : "decrypt";
	int ret;

	memcpy(src, in, sizeof(src));
	memset(dst, 0, sizeof(dst));
	memcpy(iv, b->iv, sizeof(iv));
	ret = cd_crypt(c->fd, ses, op, 0, src, out, sizeof(src), iv, NULL);
	if (!check(&c->t, ret == 0, "%s %s %s: CIOCCRYPT (%s)",
		   v->name, dir, how, errno_name(-ret)))
		return;
	check(&c->t, same_bytes(out, want, 64), "%s %s %s: 4 blocks match",
	      v->name, dir, how);
	if (!in_place)
		check(&c->t, memcmp(src, in, sizeof(src)) == 0,
		      "%s %s %s: source untouched", v->name, dir, how);
	check(&c->t, memcmp(iv, b->iv, sizeof(iv)) == 0,
	      "%s %s %s: iv untouched without COP_FLAG_WRITE_IV",
	      v->name, dir, how);
}

/*
 * COP_FLAG_WRITE_IV: after the call the iv buffer holds the last
 * ciphertext block, so two calls of two blocks equal one of four.
 */
static void cbc_write_iv(struct ctx *c, const struct cbc_vector *v,
			 const struct cbc_bufs *b, uint32_t ses, uint16_t op)
{
	const uint8_t *in = op == COP_ENCRYPT ? b->pt : b->ct;
	const uint8_t *want = op == COP_ENCRYPT ? b->ct : b->pt;
	const char *dir = op == COP_ENCRYPT ? "encrypt" : "decrypt";
	uint8_t out[64], iv[16];
	int ret;

	memcpy(iv, b->iv, sizeof(iv));
	ret = cd_crypt(c->fd, ses, op, COP_FLAG_WRITE_IV, in, out, 64, iv,
		       NULL);
	if (!check(&c->t, ret == 0, "%s %s WRITE_IV: CIOCCRYPT (%s)",
		   v->name, dir, errno_name(-ret)))
		return;
	check(&c->t, same_bytes(iv, b->ct + 48, 16),
	      "%s %s WRITE_IV: iv is now the last ciphertext block",
	      v->name, dir);

	memcpy(iv, b->iv, sizeof(iv));
	memset(out, 0, sizeof(out));
	ret = cd_crypt(c->fd, ses, op, COP_FLAG_WRITE_IV, in, out, 32, iv,
		       NULL);
	if (!ret)
		ret = cd_crypt(c->fd, ses, op, COP_FLAG_WRITE_IV, in + 32,
			       out + 32, 32, iv, NULL);
	if (!check(&c->t, ret == 0, "%s %s WRITE_IV: two chained calls (%s)",
		   v->name, dir, errno_name(-ret)))
		return;
	check(&c->t, same_bytes(out, want, 64),
	      "%s %s WRITE_IV: 2+2 blocks chained equal the 4-block answer",
	      v->name, dir);
}

static void test_cbc_vector(struct ctx *c, const struct cbc_vector *v)
{
	struct cbc_bufs b;
	uint32_t ses;
	int ret;

	cbc_load(v, &b);
	ret = ses_new(c->fd, CRYPTO_AES_CBC, b.key, b.keylen, 0, NULL, 0, &ses);
	if (!check(&c->t, ret == 0, "%s: CIOCGSESSION (%s)", v->name,
		   errno_name(-ret)))
		return;

	cbc_one(c, v, &b, ses, COP_ENCRYPT, false);
	cbc_one(c, v, &b, ses, COP_ENCRYPT, true);
	cbc_one(c, v, &b, ses, COP_DECRYPT, false);
	cbc_one(c, v, &b, ses, COP_DECRYPT, true);
	cbc_write_iv(c, v, &b, ses, COP_ENCRYPT);
	cbc_write_iv(c, v, &b, ses, COP_DECRYPT);

	ret = ses_free(c->fd, ses);
	check(&c->t, ret == 0, "%s: CIOCFSESSION (%s)", v->name,
	      errno_name(-ret));
}

/* ---- hash and HMAC known answers ------------------------------------ */

static void test_mac_vector(struct ctx *c, const struct mac_vector *v)
{
	uint8_t key[256], want[HASH_MAX_LEN], mac[HASH_MAX_LEN];
	uint8_t msg[256];
	uint32_t keylen = 0, msglen, ses, i;
	bool canary = true;
	int ret;

	if (v->key_hex) {
		keylen = unhex(v->key_hex, key, sizeof(key));
	} else if (v->key_len) {
		keylen = v->key_len;
		memset(key, v->key_fill, keylen);
	}
	if (v->msg_text) {
		msglen = strlen(v->msg_text);
		memcpy(msg, v->msg_text, msglen);
	} else {
		msglen = v->msg_len;
		memset(msg, v->msg_fill, msglen);
	}
	unhex(v->digest, want, sizeof(want));

	ret = ses_new(c->fd, 0, NULL, 0, v->alg, keylen ? key : NULL, keylen,
		      &ses);
	if (!check(&c->t, ret == 0, "%s: CIOCGSESSION (%s)", v->name,
		   errno_name(-ret)))
		return;

	memset(mac, MAC_FILL, sizeof(mac));
	ret = cd_crypt(c->fd, ses, COP_ENCRYPT, 0, msg, NULL, msglen, NULL, mac);
	if (check(&c->t, ret == 0, "%s: CIOCCRYPT (%s)", v->name,
		  errno_name(-ret))) {
		check(&c->t, same_bytes(mac, want, v->cmp_len),
		      "%s: digest matches (%u bytes compared)", v->name,
		      v->cmp_len);
		for (i = v->digest_len; i < sizeof(mac); i++)
			canary &= mac[i] == MAC_FILL;
		check(&c->t, canary, "%s: nothing written past the %u-byte digest",
		      v->name, v->digest_len);
	}

	ret = ses_free(c->fd, ses);
	check(&c->t, ret == 0, "%s: CIOCFSESSION (%s)", v->name,
	      errno_name(-ret));
}

/*
 * Multi-part hashing (COP_FLAG_UPDATE then COP_FLAG_FINAL) of the 448-bit
 * FIPS 180 message.  The issue makes this optional for the driver, so an
 * EINVAL/EOPNOTSUPP on the first part is a skip, anything else a result.
 */
static void test_multipart_hash(struct ctx *c)
{
	static const char msg[] =
		"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	static const char name[] = "SHA-256 448-bit message in 3 parts";
	uint8_t want[32], mac[HASH_MAX_LEN];
	uint32_t ses;
	int ret;

	unhex("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
	      want, sizeof(want));
	ret = ses_new(c->fd, 0, NULL, 0, CRYPTO_SHA2_256, NULL, 0, &ses);
	if (!check(&c->t, ret == 0, "%s: CIOCGSESSION (%s)", name,
		   errno_name(-ret)))
		return;

	memset(mac, MAC_FILL, sizeof(mac));
	ret = cd_crypt(c->fd, ses, COP_ENCRYPT, COP_FLAG_UPDATE, msg, NULL,
		       10, NULL, mac);
	if (ret == -EINVAL || ret == -EOPNOTSUPP) {
		skip(&c->t, "%s: COP_FLAG_UPDATE not supported (%s)", name,
		     errno_name(-ret));
		goto out;
	}
	if (!ret)
		ret = cd_crypt(c->fd, ses, COP_ENCRYPT, COP_FLAG_UPDATE,
			       msg + 10, NULL, 20, NULL, mac);
	if (!ret)
		ret = cd_crypt(c->fd, ses, COP_ENCRYPT, COP_FLAG_FINAL,
			       msg + 30, NULL, sizeof(msg) - 1 - 30, NULL, mac);
	if (check(&c->t, ret == 0, "%s: UPDATE, UPDATE, FINAL (%s)", name,
		  errno_name(-ret)))
		check(&c->t, same_bytes(mac, want, sizeof(want)),
		      "%s: digest matches", name);
out:
	ret = ses_free(c->fd, ses);
	check(&c->t, ret == 0, "%s: CIOCFSESSION (%s)", name, errno_name(-ret));
}

/* ---- cipher + mac in one session ------------------------------------ */

/* HMAC-SHA256 of @len bytes through a separate mac-only session. */
static int hmac_separately(int fd, const uint8_t *key, uint32_t keylen,
			   const uint8_t *msg, uint32_t len, uint8_t *mac)
{
	uint32_t ses;
	int ret, ret2;

	ret = ses_new(fd, 0, NULL, 0, CRYPTO_SHA2_256_HMAC, key, keylen, &ses);
	if (ret)
		return ret;
	ret = cd_crypt(fd, ses, COP_ENCRYPT, 0, msg, NULL, len, NULL, mac);
	ret2 = ses_free(fd, ses);
	return ret ? ret : ret2;
}

/*
 * cryptodev-linux semantics for a session with both a cipher and a mac:
 * on encrypt the mac covers the plaintext (src), on decrypt it covers
 * the decrypted output (dst).  Either way: the MAC of the plaintext.
 */
static void test_cipher_mac_session(struct ctx *c)
{
	static const char name[] = "AES-256-CBC + HMAC-SHA256 session";
	const struct cbc_vector *v = &cbc_vectors[2];
	uint8_t mackey[32], mac[HASH_MAX_LEN], ref[HASH_MAX_LEN];
	uint8_t out[64], back[64], iv[16];
	struct session_info_op info;
	struct cbc_bufs b;
	uint32_t ses;
	int ret;

	cbc_load(v, &b);
	memset(mackey, 0x3c, sizeof(mackey));
	ret = ses_new(c->fd, CRYPTO_AES_CBC, b.key, b.keylen,
		      CRYPTO_SHA2_256_HMAC, mackey, sizeof(mackey), &ses);
	if (!check(&c->t, ret == 0, "%s: CIOCGSESSION (%s)", name,
		   errno_name(-ret)))
		return;

	ret = ses_info(c->fd, ses, &info);
	if (check(&c->t, ret == 0, "%s: CIOCGSESSINFO (%s)", name,
		  errno_name(-ret))) {
		info.cipher_info.cra_driver_name[CRYPTODEV_MAX_ALG_NAME - 1] = 0;
		info.hash_info.cra_driver_name[CRYPTODEV_MAX_ALG_NAME - 1] = 0;
		check(&c->t, info.cipher_info.cra_driver_name[0] &&
		      info.hash_info.cra_driver_name[0],
		      "%s: both halves are named", name);
	}

	ret = hmac_separately(c->fd, mackey, sizeof(mackey), b.pt, 64, ref);
	if (!check(&c->t, ret == 0, "%s: reference HMAC session (%s)", name,
		   errno_name(-ret)))
		goto out;

	memcpy(iv, b.iv, sizeof(iv));
	memset(mac, MAC_FILL, sizeof(mac));
	ret = cd_crypt(c->fd, ses, COP_ENCRYPT, 0, b.pt, out, 64, iv, mac);
	if (check(&c->t, ret == 0, "%s: encrypt (%s)", name, errno_name(-ret))) {
		check(&c->t, same_bytes(out, b.ct, 64),
		      "%s: encrypt gives the NIST ciphertext", name);
		check(&c->t, same_bytes(mac, ref, SHA256_LEN),
		      "%s: encrypt mac = HMAC(plaintext src)", name);
	}

	memcpy(iv, b.iv, sizeof(iv));
	memset(mac, MAC_FILL, sizeof(mac));
	ret = cd_crypt(c->fd, ses, COP_DECRYPT, 0, b.ct, back, 64, iv, mac);
	if (check(&c->t, ret == 0, "%s: decrypt (%s)", name, errno_name(-ret))) {
		check(&c->t, same_bytes(back, b.pt, 64),
		      "%s: decrypt gives the NIST plaintext", name);
		check(&c->t, same_bytes(mac, ref, SHA256_LEN),
		      "%s: decrypt mac = HMAC(decrypted dst)", name);
	}
out:
	ret = ses_free(c->fd, ses);
	check(&c->t, ret == 0, "%s: CIOCFSESSION (%s)", name, errno_name(-ret));
}

/* ---- session info ---------------------------------------------------- */

static void test_session_info(struct ctx *c)
{
	static const char name[] = "CIOCGSESSINFO";
	struct session_info_op info;
	uint8_t key[16] = { 0 };
	uint32_t ses;
	int ret;

	ret = ses_new(c->fd, CRYPTO_AES_CBC, key, sizeof(key),
		      CRYPTO_SHA2_256_HMAC, key, sizeof(key), &ses);
	if (!check(&c->t, ret == 0, "%s: CIOCGSESSION (%s)", name,
		   errno_name(-ret)))
		return;
	ret = ses_info(c->fd, ses, &info);
	if (check(&c->t, ret == 0, "%s: ioctl (%s)", name, errno_name(-ret))) {
		struct alg_info *ci = &info.cipher_info, *hi = &info.hash_info;

		ci->cra_name[CRYPTODEV_MAX_ALG_NAME - 1] = 0;
		ci->cra_driver_name[CRYPTODEV_MAX_ALG_NAME - 1] = 0;
		hi->cra_name[CRYPTODEV_MAX_ALG_NAME - 1] = 0;
		hi->cra_driver_name[CRYPTODEV_MAX_ALG_NAME - 1] = 0;
		printf("     cipher: %s (driver %s)\n", ci->cra_name,
		       ci->cra_driver_name);
		printf("     hash:   %s (driver %s)\n", hi->cra_name,
		       hi->cra_driver_name);
		printf("     alignmask %u flags 0x%x\n", info.alignmask,
		       info.flags);
		check(&c->t, strstr(ci->cra_driver_name, "virtio") != NULL,
		      "%s: cipher driver name contains \"virtio\"", name);
		check(&c->t, strstr(hi->cra_driver_name, "virtio") != NULL,
		      "%s: hash driver name contains \"virtio\"", name);
		check(&c->t, strcmp(ci->cra_name, "cbc(aes)") == 0,
		      "%s: cipher cra_name is cbc(aes)", name);
		check(&c->t, strcmp(hi->cra_name, "hmac(sha256)") == 0,
		      "%s: hash cra_name is hmac(sha256)", name);
	}
	ret = ses_free(c->fd, ses);
	check(&c->t, ret == 0, "%s: CIOCFSESSION (%s)", name, errno_name(-ret));
}

/* ---- sizes up to the device maximum --------------------------------- */

/*
 * For @len bytes: decrypt(encrypt(x)) == x, in place and out of place
 * agree, and encrypting in two calls chained by COP_FLAG_WRITE_IV equals
 * one call.
 */
static void test_size(struct ctx *c, uint32_t ses, uint32_t len,
		      struct prng *r)
{
	uint8_t *x, *ct, *ct2, *back, iv0[16], iv[16];
	uint32_t half = (len / AES_BLOCK_LEN / 2) * AES_BLOCK_LEN;
	int ret;

	x = malloc(len);
	ct = malloc(len);
	ct2 = malloc(len);
	back = malloc(len);
	if (!check(&c->t, x && ct && ct2 && back, "size %u: allocate buffers",
		   len))
		goto out;
	prng_fill(r, x, len);
	prng_fill(r, iv0, sizeof(iv0));

	memcpy(iv, iv0, sizeof(iv));
	ret = cd_crypt(c->fd, ses, COP_ENCRYPT, 0, x, ct, len, iv, NULL);
	if (!check(&c->t, ret == 0, "size %u: encrypt (%s)", len,
		   errno_name(-ret)))
		goto out;
	check(&c->t, memcmp(ct, x, len) != 0,
	      "size %u: ciphertext differs from plaintext", len);

	memcpy(iv, iv0, sizeof(iv));
	ret = cd_crypt(c->fd, ses, COP_DECRYPT, 0, ct, back, len, iv, NULL);
	if (check(&c->t, ret == 0, "size %u: decrypt (%s)", len,
		  errno_name(-ret)))
		check(&c->t, same_bytes(back, x, len),
		      "size %u: decrypt(encrypt(x)) == x", len);

	memcpy(ct2, x, len);
	memcpy(iv, iv0, sizeof(iv));
	ret = cd_crypt(c->fd, ses, COP_ENCRYPT, 0, ct2, ct2, len, iv, NULL);
	if (check(&c->t, ret == 0, "size %u: encrypt in place (%s)", len,
		  errno_name(-ret)))
		check(&c->t, same_bytes(ct2, ct, len),
		      "size %u: in place == out of place", len);

	if (!half) {
		skip(&c->t, "size %u: one block, no split to chain", len);
		goto out;
	}
	memset(ct2, 0, len);
	memcpy(iv, iv0, sizeof(iv));
	ret = cd_crypt(c->fd, ses, COP_ENCRYPT, COP_FLAG_WRITE_IV, x, ct2,
		       half, iv, NULL);
	if (!ret)
		ret = cd_crypt(c->fd, ses, COP_ENCRYPT, COP_FLAG_WRITE_IV,
			       x + half, ct2 + half, len - half, iv, NULL);
	if (check(&c->t, ret == 0, "size %u: two chained calls (%s)", len,
		  errno_name(-ret))) {
		check(&c->t, same_bytes(ct2, ct, len),
		      "size %u: %u + %u bytes chained by IV == one call",
		      len, half, len - half);
		check(&c->t, same_bytes(iv, ct + len - 16, 16),
		      "size %u: final iv is the last ciphertext block", len);
	}
out:
	free(back);
	free(ct2);
	free(ct);
	free(x);
}

static void test_sizes(struct ctx *c)
{
	const uint32_t sizes[] = { 16, 4096, 65536, c->max_len };
	uint8_t key[32];
	struct prng r;
	uint32_t ses;
	size_t i;
	int ret;

	prng_seed(&r, 0x5eed0001);
	prng_fill(&r, key, sizeof(key));
	printf("     device max_data_len %u\n", c->max_len);
	ret = ses_new(c->fd, CRYPTO_AES_CBC, key, sizeof(key), 0, NULL, 0, &ses);
	if (!check(&c->t, ret == 0, "sizes: CIOCGSESSION (%s)",
		   errno_name(-ret)))
		return;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		if (!sizes[i] || sizes[i] > c->max_len) {
			skip(&c->t, "size %u: above the device maximum %u",
			     sizes[i], c->max_len);
			continue;
		}
		if (i == 3 && sizes[i] == 65536)
			continue;	/* maximum already covered */
		test_size(c, ses, sizes[i], &r);
	}
	ret = ses_free(c->fd, ses);
	check(&c->t, ret == 0, "sizes: CIOCFSESSION (%s)", errno_name(-ret));
}

int main(int argc, char **argv)
{
	struct ctx c = { 0 };
	size_t i;

	c.dev = dev_path(argc, argv);
	c.max_len = dev_max_len(c.dev);
	c.fd = dev_open(c.dev);
	if (!check(&c.t, c.fd >= 0, "open %s (%s)", c.dev,
		   errno_name(c.fd < 0 ? -c.fd : 0)))
		return tally_finish(&c.t, "cryptodev_vectors");

	test_session_info(&c);
	for (i = 0; i < sizeof(cbc_vectors) / sizeof(cbc_vectors[0]); i++)
		test_cbc_vector(&c, &cbc_vectors[i]);
	for (i = 0; i < sizeof(mac_vectors) / sizeof(mac_vectors[0]); i++)
		test_mac_vector(&c, &mac_vectors[i]);
	test_multipart_hash(&c);
	test_cipher_mac_session(&c);
	test_sizes(&c);

	check(&c.t, close(c.fd) == 0, "close %s", c.dev);
	return tally_finish(&c.t, "cryptodev_vectors");
}
