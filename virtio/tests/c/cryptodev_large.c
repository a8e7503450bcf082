// SPDX-License-Identifier: GPL-2.0
/*
 * cryptodev_large: requests up to the device's max_data_len, which need more
 * pages than one descriptor chain may carry. Encrypts LEN bytes in place and
 * LEN2 bytes from one buffer into another, each in one CIOCCRYPT, checks
 * that decrypting gives the plaintext back and that the ciphertext equals
 * the same data encrypted as a chain of 64 KiB requests (COP_FLAG_WRITE_IV
 * carrying the CBC state). Run as any user: an unprivileged one has a small
 * RLIMIT_MEMLOCK, which sends the driver down its bounce path.
 *
 *   cryptodev_large [DEV [LEN [LEN2]]]    (defaults: max_data_len, 2 MiB)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

#define STEP (64 * 1024)

/* The reference: @len bytes as a chain of STEP-sized requests. */
static int chained(int fd, uint32_t ses, const uint8_t *src, uint8_t *dst,
		   uint32_t len, const uint8_t *iv0)
{
	uint8_t iv[16];
	uint32_t off;
	int err;

	memcpy(iv, iv0, sizeof(iv));
	for (off = 0; off < len; off += STEP) {
		uint32_t n = len - off < STEP ? len - off : STEP;

		err = cd_crypt(fd, ses, COP_ENCRYPT, COP_FLAG_WRITE_IV,
			       src + off, dst + off, n, iv, NULL);
		if (err)
			return err;
	}
	return 0;
}

static void one_size(struct tally *t, int fd, uint32_t ses, uint32_t len,
		     bool in_place)
{
	uint8_t iv[16], iv_copy[16];
	uint8_t *plain = malloc(len), *work = malloc(len), *ref = malloc(len);
	struct prng r;
	int err;

	if (!check(t, plain && work && ref, "%u bytes: buffers", len))
		goto out;
	prng_seed(&r, len);
	prng_fill(&r, plain, len);
	prng_fill(&r, iv, sizeof(iv));

	memcpy(work, plain, len);
	memcpy(iv_copy, iv, sizeof(iv));
	err = in_place ? cd_crypt(fd, ses, COP_ENCRYPT, 0, work, work, len,
				  iv_copy, NULL)
		       : cd_crypt(fd, ses, COP_ENCRYPT, 0, plain, work, len,
				  iv_copy, NULL);
	if (!check(t, !err, "%u bytes %s: one CIOCCRYPT (%s)", len,
		   in_place ? "in place" : "src != dst", errno_name(-err)))
		goto out;
	err = chained(fd, ses, plain, ref, len, iv);
	if (check(t, !err, "%u bytes: reference in %u-byte steps (%s)", len,
		  STEP, errno_name(-err)))
		check(t, same_bytes(work, ref, len),
		      "%u bytes %s: ciphertext matches the chained reference",
		      len, in_place ? "in place" : "src != dst");
	memcpy(iv_copy, iv, sizeof(iv));
	err = cd_crypt(fd, ses, COP_DECRYPT, 0, work, ref, len, iv_copy, NULL);
	if (check(t, !err, "%u bytes: decrypt (%s)", len, errno_name(-err)))
		check(t, same_bytes(ref, plain, len),
		      "%u bytes: decrypt(encrypt(x)) == x", len);
out:
	free(plain);
	free(work);
	free(ref);
}

int main(int argc, char **argv)
{
	const char *dev = dev_path(argc, argv);
	uint32_t max = dev_max_len(dev);
	uint32_t len = argc > 2 ? (uint32_t)strtoul(argv[2], NULL, 0) : max;
	uint32_t len2 = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 0) :
				   2u * 1024 * 1024;
	static const uint8_t key[32] = { 1, 2, 3 };
	struct tally t = { 0 };
	uint32_t ses;
	int fd, err;

	fd = dev_open(dev);
	if (fd < 0) {
		fprintf(stderr, "cryptodev_large: %s: %s\n", dev, errno_name(-fd));
		return 2;
	}
	err = ses_new(fd, CRYPTO_AES_CBC, key, sizeof(key), 0, NULL, 0, &ses);
	if (!check(&t, !err, "AES-256-CBC session (%s)", errno_name(-err)))
		return tally_finish(&t, "cryptodev_large");
	one_size(&t, fd, ses, len, true);
	if (len2 <= max)
		one_size(&t, fd, ses, len2, false);
	ses_free(fd, ses);
	close(fd);
	return tally_finish(&t, "cryptodev_large");
}
