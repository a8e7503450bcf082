// SPDX-License-Identifier: GPL-2.0
/*
 * cryptodev_compat: calls cryptodev-linux answers that programs written for
 * it make first, answered the same way here.
 *
 *   CRIOGET          a new descriptor on the same open file (sessions shared)
 *   CIOCASYMFEAT     0: no public-key operations
 *   hash, COP_DECRYPT EINVAL (cryptodev-linux would hash a NULL destination)
 *
 *   cryptodev_compat [DEV]
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common.h"

int main(int argc, char **argv)
{
	const char *dev = dev_path(argc, argv);
	static const uint8_t key[32], data[64];
	uint8_t mac[SHA256_LEN];
	struct tally t = { 0 };
	uint32_t clone = 0, feat = 0xffffffff, ses;
	int fd, err;

	fd = dev_open(dev);
	if (fd < 0) {
		fprintf(stderr, "cryptodev_compat: %s: %s\n", dev, errno_name(-fd));
		return 2;
	}
	err = ioctl(fd, CRIOGET, &clone) < 0 ? -errno : 0;
	check(&t, !err && (int)clone > fd, "CRIOGET gives a new descriptor (%s, %d)",
	      errno_name(-err), (int)clone);
	if (!err) {
		check(&t, !nist_cbc256_selftest((int)clone),
		      "NIST vector through the clone");
		err = ses_new(fd, 0, NULL, 0,
			      CRYPTO_SHA2_256_HMAC, key, sizeof(key), &ses);
		if (check(&t, !err, "HMAC session on the original (%s)",
			  errno_name(-err))) {
			err = cd_crypt((int)clone, ses, COP_ENCRYPT, 0, data, NULL,
				       sizeof(data), NULL, mac);
			check(&t, !err, "the clone shares the file's sessions (%s)",
			      errno_name(-err));
			err = cd_crypt(fd, ses, COP_DECRYPT, 0, data, NULL,
				       sizeof(data), NULL, mac);
			check(&t, err == -EINVAL,
			      "HMAC with COP_DECRYPT: got %s, expected EINVAL",
			      errno_name(-err));
			ses_free(fd, ses);
		}
		close((int)clone);
	}
	err = ioctl(fd, CRIOGET, (void *)1) < 0 ? -errno : 0;
	check(&t, err == -EFAULT, "CRIOGET to a bad pointer: got %s, expected EFAULT",
	      errno_name(-err));
	err = ioctl(fd, CIOCASYMFEAT, &feat) < 0 ? -errno : 0;
	check(&t, !err && feat == 0, "CIOCASYMFEAT answers 0 (%s, %#x)",
	      errno_name(-err), feat);
	close(fd);
	return tally_finish(&t, "cryptodev_compat");
}
