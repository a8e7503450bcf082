// SPDX-License-Identifier: GPL-2.0
/*
 * cryptodev_depth: what the asynchronous interface buys. One thread encrypts
 * SIZE-byte AES-256-CBC requests for SECONDS, for each DEPTH given:
 * synchronously (CIOCCRYPT, one in flight) for a DEPTH of 0, else with DEPTH
 * requests kept in flight (CIOCASYNCCRYPT, poll(), CIOCASYNCFETCH). The modes
 * take turns over ROUNDS rounds and the best round of each is reported, so
 * whatever else the machine does weighs on all alike.
 *
 *   cryptodev_depth DEV SECONDS ROUNDS SIZE DEPTH...
 *
 * Output: "depth <n> <ops_per_s>" per mode, n = 0 for synchronous.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common.h"

#define MAX_DEPTH 16

static double run_sync(int fd, uint32_t ses, uint8_t *buf, uint32_t size,
		       double seconds)
{
	double start = now_sec(), end = start + seconds;
	uint8_t iv[16] = { 0 };
	unsigned long ops = 0;

	while (now_sec() < end) {
		if (cd_crypt(fd, ses, COP_ENCRYPT, 0, buf, buf, size, iv, NULL))
			return 0;
		ops++;
	}
	return ops / (now_sec() - start);
}

static double run_async(int fd, uint32_t ses, uint8_t *buf, uint32_t size,
			int depth, double seconds)
{
	double start = now_sec(), end = start + seconds;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint8_t iv[MAX_DEPTH][16] = { { 0 } };
	unsigned long ops = 0;
	int in_flight = 0, i;
	struct crypt_op cop;

	for (;;) {
		bool more = now_sec() < end;

		for (i = in_flight; more && i < depth; i++) {
			memset(&cop, 0, sizeof(cop));
			cop.ses = ses;
			cop.op = COP_ENCRYPT;
			cop.len = size;
			cop.src = cop.dst = buf + (size_t)i * size;
			cop.iv = iv[i];
			if (ioctl(fd, CIOCASYNCCRYPT, &cop) < 0)
				return 0;
			in_flight++;
		}
		if (!in_flight)
			break;
		if (poll(&pfd, 1, 10000) != 1)
			return 0;
		for (;;) {
			memset(&cop, 0, sizeof(cop));
			if (ioctl(fd, CIOCASYNCFETCH, &cop) < 0) {
				if (errno != EBUSY)
					return 0;
				break;
			}
			in_flight--;
			ops++;
		}
	}
	return ops / (now_sec() - start);
}

int main(int argc, char **argv)
{
	static const uint8_t key[32] = { 5 };
	double best[8] = { 0 }, seconds;
	int depths[8], ndepths, rounds, r, i, fd;
	uint32_t size, ses;
	uint8_t *buf;

	if (argc < 6) {
		fprintf(stderr, "usage: cryptodev_depth DEV SECONDS ROUNDS SIZE DEPTH...\n");
		return 2;
	}
	seconds = atof(argv[2]);
	rounds = atoi(argv[3]);
	size = (uint32_t)strtoul(argv[4], NULL, 0);
	ndepths = argc - 5 > 8 ? 8 : argc - 5;
	for (i = 0; i < ndepths; i++) {
		depths[i] = atoi(argv[5 + i]);
		if (depths[i] < 0 || depths[i] > MAX_DEPTH)
			return 2;
	}
	fd = dev_open(argv[1]);
	buf = calloc(MAX_DEPTH, size);
	if (fd < 0 || !buf || ses_new(fd, CRYPTO_AES_CBC, key, sizeof(key), 0,
				      NULL, 0, &ses))
		return 1;
	for (r = 0; r < rounds; r++) {
		for (i = 0; i < ndepths; i++) {
			double rate = depths[i] ?
				run_async(fd, ses, buf, size, depths[i], seconds) :
				run_sync(fd, ses, buf, size, seconds);

			if (!rate) {
				fprintf(stderr, "cryptodev_depth: depth %d failed: %s\n",
					depths[i], strerror(errno));
				return 1;
			}
			if (rate > best[i])
				best[i] = rate;
		}
	}
	for (i = 0; i < ndepths; i++)
		printf("depth %d %.0f\n", depths[i], best[i]);
	close(fd);
	free(buf);
	return 0;
}
