// SPDX-License-Identifier: GPL-2.0
/*
 * cryptodev_aead: CIOCAUTHCRYPT through /dev/cryptodevN, every mode and
 * every call cryptodev-linux's cipher-gcm, cipher-aead and cipher-aead-srtp
 * programs make, against known answers:
 *
 *   AES-GCM   McGrew-Viega test cases 1, 2 (no AAD), 4 (AAD, 60 bytes) and
 *             16 (AES-256); tag_len 0 comes back as 16; a 12-byte tag is the
 *             full tag's prefix; decryption in place; a changed tag, AAD or
 *             ciphertext is EBADMSG and leaves the destination untouched
 *   TLS       AES-128-CBC + HMAC-SHA1, cryptodev-linux's layout (MAC then
 *             TLS padding, encrypted in place); the record decrypted with
 *             CIOCCRYPT; CIOCAUTHCRYPT decryption back; a changed AAD,
 *             ciphertext or padding is EBADMSG; COP_FLAG_WRITE_IV
 *   SRTP      AES-128-CTR + HMAC-SHA1 (10-byte tag), the payload between a
 *             header and a footer; a changed header is EBADMSG; CBC is EINVAL
 *   ETM       AES-256-CBC + HMAC-SHA256 with the cryptochat flag: a record
 *             sealed and opened in one call each
 *   and the refusals cryptodev-linux makes: src != dst for TLS and SRTP,
 *   SRTP data outside or too far into auth_src, a GCM tag length of 5,
 *   CIOCCRYPT on a GCM session, GCM with a MAC
 *
 *   cryptodev_aead [DEV]
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <virtio_cryptodev.h>
#include "common.h"

#define BIG	4096

static const uint8_t tls_key[16] = {
	0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33,
	0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33, 0x33,
};
static const uint8_t mac_key16[16] = {
	0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b,
	0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b, 0x0b,
};

static int auth_crypt(int fd, struct crypt_auth_op *cao)
{
	return ioctl(fd, CIOCAUTHCRYPT, cao) < 0 ? -errno : 0;
}

struct gcm_kat {
	const char *name;
	const char *key, *iv, *aad, *pt, *ct, *tag;
};

static const struct gcm_kat gcm_kats[] = {
	{ "GCM test case 1 (nothing to encrypt)",
	  "00000000000000000000000000000000", "000000000000000000000000", "",
	  "", "", "58e2fccefa7e3061367f1d57a4e7455a" },
	{ "GCM test case 2",
	  "00000000000000000000000000000000", "000000000000000000000000", "",
	  "00000000000000000000000000000000",
	  "0388dace60b6a392f328c2b971b2fe78", "ab6e47d42cec13bdf53a67b21257bddf" },
	{ "GCM test case 4 (AAD, 60 bytes)",
	  "feffe9928665731c6d6a8f9467308308", "cafebabefacedbaddecaf888",
	  "feedfacedeadbeeffeedfacedeadbeefabaddad2",
	  "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
	  "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
	  "42831ec2217774244b7221b784d0d49ce3aa212f2c02a4e035c17e2329aca12e"
	  "21d514b25466931c7d8f6a5aac84aa051ba30b396a0aac973d58e091",
	  "5bc94fbc3221a5db94fae95ae7121a47" },
	{ "GCM test case 16 (AES-256)",
	  "feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308",
	  "cafebabefacedbaddecaf888", "feedfacedeadbeeffeedfacedeadbeefabaddad2",
	  "d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
	  "1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39",
	  "522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
	  "8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662",
	  "76fc6ece0f4e1768cddf8853bb2d551b" },
};

/* One GCM vector: encrypt, then decrypt in place, then the failures. */
static void gcm_kat(struct tally *t, int fd, const struct gcm_kat *k)
{
	uint8_t key[32], iv[12], aad[64], pt[64], ct[64], tag[16];
	uint8_t buf[BIG], before[BIG];
	size_t key_len = unhex(k->key, key, sizeof(key));
	size_t aad_len = unhex(k->aad, aad, sizeof(aad));
	size_t len = unhex(k->pt, pt, sizeof(pt));
	struct crypt_auth_op cao;
	uint32_t ses;
	int err;

	unhex(k->iv, iv, sizeof(iv));
	unhex(k->ct, ct, sizeof(ct));
	unhex(k->tag, tag, sizeof(tag));
	err = ses_new(fd, CRYPTO_AES_GCM, key, key_len, 0, NULL, 0, &ses);
	if (!check(t, !err, "%s: session (%s)", k->name, errno_name(-err)))
		return;

	memset(buf, 0, sizeof(buf));
	cao = (struct crypt_auth_op) {
		.ses = ses, .op = COP_ENCRYPT, .len = len,
		.auth_src = aad_len ? aad : NULL, .auth_len = aad_len,
		.src = len ? pt : NULL, .dst = buf, .iv = iv, .iv_len = 12,
	};
	err = auth_crypt(fd, &cao);
	check(t, !err && cao.len == len + 16 && cao.tag_len == 16 &&
	      cao.tag == buf + len && same_bytes(buf, ct, len) &&
	      same_bytes(buf + len, tag, 16),
	      "%s: ciphertext and tag (%s, len %u, tag_len %u)", k->name,
	      errno_name(-err), cao.len, cao.tag_len);

	cao = (struct crypt_auth_op) {
		.ses = ses, .op = COP_DECRYPT, .len = len + 16,
		.auth_src = aad_len ? aad : NULL, .auth_len = aad_len,
		.src = buf, .dst = buf, .iv = iv, .iv_len = 12,
	};
	err = auth_crypt(fd, &cao);
	check(t, !err && cao.len == len && same_bytes(buf, pt, len),
	      "%s: decrypted in place (%s)", k->name, errno_name(-err));

	/* A changed tag, then a changed AAD: refused, nothing written. */
	memcpy(buf, ct, len);
	memcpy(buf + len, tag, 16);
	buf[len + 15] ^= 1;
	memcpy(before, buf, len + 16);
	cao.len = len + 16;
	err = auth_crypt(fd, &cao);
	check(t, err == -EBADMSG && !memcmp(buf, before, len + 16),
	      "%s: a changed tag is EBADMSG, the buffer untouched (%s)",
	      k->name, errno_name(-err));
	if (aad_len) {
		buf[len + 15] ^= 1;
		aad[0] ^= 0x80;
		cao.len = len + 16;
		err = auth_crypt(fd, &cao);
		check(t, err == -EBADMSG, "%s: a changed AAD is EBADMSG (%s)",
		      k->name, errno_name(-err));
	}
	ses_free(fd, ses);
}

static void gcm_more(struct tally *t, int fd)
{
	const struct gcm_kat *k = &gcm_kats[2];
	uint8_t key[16], iv[12], aad[20], pt[60], full[16];
	uint8_t buf[BIG], out[BIG];
	struct crypt_auth_op cao;
	uint32_t ses, bad;
	int err;

	unhex(k->key, key, sizeof(key));
	unhex(k->iv, iv, sizeof(iv));
	unhex(k->aad, aad, sizeof(aad));
	unhex(k->pt, pt, sizeof(pt));
	unhex(k->tag, full, sizeof(full));
	err = ses_new(fd, CRYPTO_AES_GCM, key, 16, 0, NULL, 0, &ses);
	if (!check(t, !err, "GCM session (%s)", errno_name(-err)))
		return;

	cao = (struct crypt_auth_op) {
		.ses = ses, .op = COP_ENCRYPT, .len = sizeof(pt),
		.auth_src = aad, .auth_len = sizeof(aad), .src = pt, .dst = buf,
		.iv = iv, .iv_len = 12, .tag_len = 12,
	};
	err = auth_crypt(fd, &cao);
	check(t, !err && cao.len == sizeof(pt) + 12 &&
	      same_bytes(buf + sizeof(pt), full, 12),
	      "GCM: a 12-byte tag is the full tag's prefix (%s)",
	      errno_name(-err));
	cao = (struct crypt_auth_op) {
		.ses = ses, .op = COP_DECRYPT, .len = sizeof(pt) + 12,
		.auth_src = aad, .auth_len = sizeof(aad), .src = buf, .dst = out,
		.iv = iv, .iv_len = 12, .tag_len = 12,
	};
	err = auth_crypt(fd, &cao);
	check(t, !err && cao.len == sizeof(pt) && same_bytes(out, pt, sizeof(pt)),
	      "GCM: a 12-byte tag verifies (%s)", errno_name(-err));
	buf[3] ^= 1;
	cao.len = sizeof(pt) + 12;
	err = auth_crypt(fd, &cao);
	check(t, err == -EBADMSG, "GCM: a changed ciphertext is EBADMSG (%s)",
	      errno_name(-err));

	cao.tag_len = 5;
	cao.len = sizeof(pt) + 12;
	err = auth_crypt(fd, &cao);
	check(t, err == -EINVAL, "GCM: a 5-byte tag is EINVAL (%s)",
	      errno_name(-err));
	err = cd_crypt(fd, ses, COP_ENCRYPT, 0, pt, out, 16, iv, NULL);
	check(t, err == -EINVAL, "GCM: CIOCCRYPT is EINVAL (%s)",
	      errno_name(-err));
	ses_free(fd, ses);

	err = ses_new(fd, CRYPTO_AES_GCM, key, 16, CRYPTO_SHA1_HMAC,
		      mac_key16, 16, &bad);
	check(t, err == -EINVAL, "GCM with an HMAC is EINVAL (%s)",
	      errno_name(-err));
	if (!err)
		ses_free(fd, bad);
}

static const char tls_ct[] =
	"f12c16e534581d3ca966b97c9a48c07aa9d42523c14f65a6bde13502319087d9"
	"8ede39ede26fd8f9a48e06f51dd4dbb20ce054670123de6aac51005ed10bda81"
	"6230d9ca6001961d4c3ea9d2138ff60e";

static void tls(struct tally *t, int fd)
{
	uint8_t iv[16], next_iv[16], aad[13], pt[50], want[80], buf[BIG];
	uint8_t plain[BIG];
	struct crypt_auth_op cao;
	uint32_t ses, cbc;
	unsigned int i;
	int err;

	memset(iv, 3, sizeof(iv));
	memset(aad, 0xf1, sizeof(aad));
	for (i = 0; i < sizeof(pt); i++)
		pt[i] = i;
	unhex(tls_ct, want, sizeof(want));
	err = ses_new(fd, CRYPTO_AES_CBC, tls_key, 16, CRYPTO_SHA1_HMAC,
		      mac_key16, 16, &ses);
	if (!check(t, !err, "TLS: AES-CBC + HMAC-SHA1 session (%s)",
		   errno_name(-err)))
		return;

	memcpy(buf, pt, sizeof(pt));
	memcpy(next_iv, iv, sizeof(iv));
	cao = (struct crypt_auth_op) {
		.ses = ses, .op = COP_ENCRYPT, .flags = COP_FLAG_AEAD_TLS_TYPE |
		COP_FLAG_WRITE_IV, .len = sizeof(pt), .auth_src = aad,
		.auth_len = sizeof(aad), .src = buf, .dst = buf, .iv = next_iv,
	};
	err = auth_crypt(fd, &cao);
	check(t, !err && cao.len == 80 && cao.tag_len == SHA1_LEN &&
	      same_bytes(buf, want, 80),
	      "TLS: the record is E(P || HMAC || padding) (%s, len %u)",
	      errno_name(-err), cao.len);
	check(t, same_bytes(next_iv, want + 64, 16),
	      "TLS: COP_FLAG_WRITE_IV gives the last ciphertext block");

	/* What cryptodev-linux's cipher-aead checks: a plain CBC decryption. */
	err = ses_new(fd, CRYPTO_AES_CBC, tls_key, 16, 0, NULL, 0, &cbc);
	if (!err) {
		err = cd_crypt(fd, cbc, COP_DECRYPT, 0, want, plain, 80, iv, NULL);
		ses_free(fd, cbc);
	}
	check(t, !err && same_bytes(plain, pt, sizeof(pt)) && plain[79] == 9,
	      "TLS: CIOCCRYPT decrypts the record to P, MAC, padding (%s)",
	      errno_name(-err));

	cao = (struct crypt_auth_op) {
		.ses = ses, .op = COP_DECRYPT, .flags = COP_FLAG_AEAD_TLS_TYPE,
		.len = 80, .auth_src = aad, .auth_len = sizeof(aad),
		.src = buf, .dst = buf, .iv = iv,
	};
	err = auth_crypt(fd, &cao);
	check(t, !err && cao.len == sizeof(pt) && same_bytes(buf, pt, sizeof(pt)),
	      "TLS: decrypted and verified in place (%s, len %u)",
	      errno_name(-err), cao.len);

	memcpy(buf, want, 80);
	aad[2]++;
	cao.len = 80;
	err = auth_crypt(fd, &cao);
	check(t, err == -EBADMSG, "TLS: a changed AAD is EBADMSG (%s)",
	      errno_name(-err));
	aad[2]--;
	buf[4]++;
	cao.len = 80;
	err = auth_crypt(fd, &cao);
	check(t, err == -EBADMSG, "TLS: a changed ciphertext is EBADMSG (%s)",
	      errno_name(-err));

	/* Valid MAC, padding bytes that disagree: re-encrypted with CIOCCRYPT. */
	plain[75] = 7;
	err = ses_new(fd, CRYPTO_AES_CBC, tls_key, 16, 0, NULL, 0, &cbc);
	if (!err) {
		err = cd_crypt(fd, cbc, COP_ENCRYPT, 0, plain, buf, 80, iv, NULL);
		ses_free(fd, cbc);
	}
	cao.len = 80;
	if (!err)
		err = auth_crypt(fd, &cao);
	check(t, err == -EBADMSG, "TLS: bad padding is EBADMSG (%s)",
	      errno_name(-err));

	memcpy(buf, pt, sizeof(pt));
	cao = (struct crypt_auth_op) {
		.ses = ses, .op = COP_ENCRYPT, .flags = COP_FLAG_AEAD_TLS_TYPE,
		.len = sizeof(pt), .auth_src = aad, .auth_len = sizeof(aad),
		.src = buf, .dst = plain, .iv = iv,
	};
	err = auth_crypt(fd, &cao);
	check(t, err == -EINVAL, "TLS: src != dst is EINVAL (%s)",
	      errno_name(-err));
	ses_free(fd, ses);
}

/* SRTP: header | payload | footer, the payload encrypted in place. */
#define SRTP_HDR	12
#define SRTP_LEN	29
#define SRTP_FOOT	4
#define SRTP_TAG	10

static void srtp(struct tally *t, int fd)
{
	uint8_t iv[16], pkt[SRTP_HDR + SRTP_LEN + SRTP_FOOT], orig[sizeof(pkt)];
	uint8_t ct[SRTP_LEN], want_tag[SRTP_TAG], tag[SRTP_TAG];
	struct crypt_auth_op cao;
	uint32_t ses, cbc;
	unsigned int i;
	int err;

	memset(iv, 3, sizeof(iv));
	for (i = 0; i < SRTP_HDR; i++)
		pkt[i] = 0x80 + i;
	for (i = 0; i < SRTP_LEN; i++)
		pkt[SRTP_HDR + i] = i;
	memcpy(pkt + SRTP_HDR + SRTP_LEN, "\xde\xad\xbe\xef", SRTP_FOOT);
	memcpy(orig, pkt, sizeof(pkt));
	unhex("0b11d6b57c7cde328cbf5d4dcfbcbc9ba88cdaad7af7d9a91ebd483d46", ct,
	      sizeof(ct));
	unhex("7854d8bb519d45179854", want_tag, sizeof(want_tag));
	err = ses_new(fd, CRYPTO_AES_CTR, tls_key, 16, CRYPTO_SHA1_HMAC,
		      mac_key16, 16, &ses);
	if (!check(t, !err, "SRTP: AES-CTR + HMAC-SHA1 session (%s)",
		   errno_name(-err)))
		return;

	cao = (struct crypt_auth_op) {
		.ses = ses, .op = COP_ENCRYPT, .flags = COP_FLAG_AEAD_SRTP_TYPE,
		.len = SRTP_LEN, .auth_src = pkt, .auth_len = sizeof(pkt),
		.src = pkt + SRTP_HDR, .dst = pkt + SRTP_HDR, .tag = tag,
		.tag_len = SRTP_TAG, .iv = iv,
	};
	err = auth_crypt(fd, &cao);
	check(t, !err && cao.len == SRTP_LEN &&
	      same_bytes(pkt + SRTP_HDR, ct, SRTP_LEN) &&
	      same_bytes(tag, want_tag, SRTP_TAG) && !memcmp(pkt, orig, SRTP_HDR),
	      "SRTP: payload encrypted in place, tag over header, payload, footer (%s)",
	      errno_name(-err));

	cao.op = COP_DECRYPT;
	cao.len = SRTP_LEN;
	err = auth_crypt(fd, &cao);
	check(t, !err && !memcmp(pkt, orig, sizeof(pkt)),
	      "SRTP: verified and decrypted in place (%s)", errno_name(-err));

	cao.op = COP_ENCRYPT;
	cao.len = SRTP_LEN;
	err = auth_crypt(fd, &cao);
	pkt[0] ^= 1;
	cao.op = COP_DECRYPT;
	cao.len = SRTP_LEN;
	if (!err)
		err = auth_crypt(fd, &cao);
	check(t, err == -EBADMSG && same_bytes(pkt + SRTP_HDR, ct, SRTP_LEN),
	      "SRTP: a changed header is EBADMSG, nothing decrypted (%s)",
	      errno_name(-err));

	cao.len = SRTP_LEN;
	cao.auth_src = pkt + SRTP_HDR + 1;
	err = auth_crypt(fd, &cao);
	check(t, err == -EINVAL, "SRTP: data before auth_src is EINVAL (%s)",
	      errno_name(-err));
	cao.auth_src = pkt;
	cao.auth_len = SRTP_HDR + SRTP_LEN - 1;
	err = auth_crypt(fd, &cao);
	check(t, err == -EINVAL, "SRTP: data past auth_len is EINVAL (%s)",
	      errno_name(-err));
	ses_free(fd, ses);

	err = ses_new(fd, CRYPTO_AES_CBC, tls_key, 16, CRYPTO_SHA1_HMAC,
		      mac_key16, 16, &cbc);
	if (err)
		return;
	cao = (struct crypt_auth_op) {
		.ses = cbc, .op = COP_ENCRYPT, .flags = COP_FLAG_AEAD_SRTP_TYPE,
		.len = 16, .auth_src = pkt, .auth_len = sizeof(pkt),
		.src = pkt + SRTP_HDR, .dst = pkt + SRTP_HDR, .tag = tag,
		.tag_len = SRTP_TAG, .iv = iv,
	};
	err = auth_crypt(fd, &cao);
	check(t, err == -EINVAL, "SRTP with AES-CBC is EINVAL, as in cryptodev-linux (%s)",
	      errno_name(-err));
	ses_free(fd, cbc);
}

/* ETM: a cryptochat record (header 10, IV 16, ciphertext) in one call. */
#define ETM_PREFIX	26
#define ETM_LEN		48

static void etm(struct tally *t, int fd)
{
	uint8_t key[32], mac_key[32], iv[16], rec[ETM_PREFIX + ETM_LEN];
	uint8_t ct[ETM_LEN], want_tag[SHA256_LEN], tag[SHA256_LEN];
	struct crypt_auth_op cao;
	unsigned int i;
	uint32_t ses;
	int err;

	for (i = 0; i < 32; i++) {
		key[i] = i;
		mac_key[i] = 100 + i;
	}
	memset(iv, 3, sizeof(iv));
	for (i = 0; i < ETM_PREFIX; i++)
		rec[i] = 200 + i;
	for (i = 0; i < ETM_LEN; i++)
		rec[ETM_PREFIX + i] = i;
	unhex("55b520be8d732ddbbba4c0ecb02e68a63524a13af323cb971f6e81416e8d62f1"
	      "e1692dce40b32dad8910f09944ab8692", ct, sizeof(ct));
	unhex("5b0ac437bc3a11256d8e0577019628d3c49e5329db694e90588f03638109bbec",
	      want_tag, sizeof(want_tag));
	err = ses_new(fd, CRYPTO_AES_CBC, key, 32, CRYPTO_SHA2_256_HMAC,
		      mac_key, 32, &ses);
	if (!check(t, !err, "ETM: AES-256-CBC + HMAC-SHA256 session (%s)",
		   errno_name(-err)))
		return;
	cao = (struct crypt_auth_op) {
		.ses = ses, .op = COP_ENCRYPT,
		.flags = VIRTIO_CRYPTODEV_COP_FLAG_AEAD_ETM_TYPE,
		.len = ETM_LEN, .auth_src = rec, .auth_len = sizeof(rec),
		.src = rec + ETM_PREFIX, .dst = rec + ETM_PREFIX, .tag = tag,
		.iv = iv,
	};
	err = auth_crypt(fd, &cao);
	check(t, !err && cao.tag_len == SHA256_LEN &&
	      same_bytes(rec + ETM_PREFIX, ct, ETM_LEN) &&
	      same_bytes(tag, want_tag, SHA256_LEN),
	      "ETM: sealed in one call, HMAC over prefix and ciphertext (%s)",
	      errno_name(-err));
	cao.op = COP_DECRYPT;
	cao.len = ETM_LEN;
	err = auth_crypt(fd, &cao);
	check(t, !err && rec[ETM_PREFIX] == 0 && rec[ETM_PREFIX + 47] == 47,
	      "ETM: opened in one call (%s)", errno_name(-err));
	cao.op = COP_ENCRYPT;
	cao.len = ETM_LEN - 1;
	err = auth_crypt(fd, &cao);
	check(t, err == -EINVAL, "ETM: a partial block is EINVAL (%s)",
	      errno_name(-err));
	ses_free(fd, ses);
}

/* A GCM round trip as large as the device takes, zero-copy or bounced. */
static void gcm_large(struct tally *t, int fd, uint32_t len)
{
	static uint8_t src[CDT_DEFAULT_MAX_LEN + 16], dst[CDT_DEFAULT_MAX_LEN + 16];
	uint8_t key[16] = { 1 }, iv[12] = { 2 }, aad[BIG];
	struct crypt_auth_op cao;
	struct prng r;
	uint32_t ses;
	int err;

	if (len > CDT_DEFAULT_MAX_LEN)
		len = CDT_DEFAULT_MAX_LEN;
	prng_seed(&r, 13);
	prng_fill(&r, src, len);
	prng_fill(&r, aad, sizeof(aad));
	err = ses_new(fd, CRYPTO_AES_GCM, key, 16, 0, NULL, 0, &ses);
	if (err)
		return;
	cao = (struct crypt_auth_op) {
		.ses = ses, .op = COP_ENCRYPT, .len = len, .auth_src = aad,
		.auth_len = sizeof(aad), .src = src, .dst = dst, .iv = iv,
	};
	err = auth_crypt(fd, &cao);
	cao = (struct crypt_auth_op) {
		.ses = ses, .op = COP_DECRYPT, .len = len + 16, .auth_src = aad,
		.auth_len = sizeof(aad), .src = dst, .dst = dst, .iv = iv,
	};
	if (!err)
		err = auth_crypt(fd, &cao);
	check(t, !err && same_bytes(dst, src, len),
	      "GCM: %u bytes with a page of AAD round trip (%s)", len,
	      errno_name(-err));
	cao.auth_len = BIG + 1;
	err = auth_crypt(fd, &cao);
	check(t, err == -EINVAL, "GCM: AAD over a page is EINVAL (%s)",
	      errno_name(-err));
	ses_free(fd, ses);
}

int main(int argc, char **argv)
{
	const char *dev = dev_path(argc, argv);
	struct tally t = { 0 };
	int fd = dev_open(dev);
	size_t i;

	if (fd < 0) {
		fprintf(stderr, "cryptodev_aead: %s: %s\n", dev, errno_name(-fd));
		return 2;
	}
	for (i = 0; i < sizeof(gcm_kats) / sizeof(gcm_kats[0]); i++)
		gcm_kat(&t, fd, &gcm_kats[i]);
	gcm_more(&t, fd);
	gcm_large(&t, fd, dev_max_len(dev));
	tls(&t, fd);
	srtp(&t, fd);
	etm(&t, fd);
	close(fd);
	return tally_finish(&t, "cryptodev_aead");
}
