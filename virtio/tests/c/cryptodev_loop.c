// SPDX-License-Identifier: GPL-2.0
/*
 * cryptodev_loop: THREADS threads encrypt SIZE bytes (default 4 KiB) over and
 * over on one open file until an ioctl fails, then report how many operations
 * each did and the errno that stopped it. The hot-unplug test runs it while
 * the device is removed: every thread must stop with ENODEV, none may hang or
 * crash. The QMP test runs it with 1 MiB to saturate the device.
 *
 *   cryptodev_loop [DEV [THREADS [SIZE]]]
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common.h"

#define LOOP_LEN 4096

struct loop_thread {
	pthread_t thread;
	int fd;
	uint32_t ses;
	uint32_t len;
	unsigned long ops;
	int err;
};

static void *loop_run(void *arg)
{
	struct loop_thread *t = arg;
	static const uint8_t zero_iv[16];
	uint8_t *buf = calloc(1, t->len);
	uint8_t iv[16];

	if (!buf) {
		t->err = -ENOMEM;
		return NULL;
	}
	for (;;) {
		memcpy(iv, zero_iv, sizeof(iv));
		t->err = cd_crypt(t->fd, t->ses, COP_ENCRYPT, 0, buf, buf,
				  t->len, iv, NULL);
		if (t->err)
			break;
		t->ops++;
	}
	free(buf);
	return NULL;
}

int main(int argc, char **argv)
{
	const char *dev = dev_path(argc, argv);
	int nthreads = argc > 2 ? atoi(argv[2]) : 4;
	uint32_t len = argc > 3 ? (uint32_t)strtoul(argv[3], NULL, 0) : LOOP_LEN;
	static const uint8_t key[32];
	struct loop_thread *threads;
	struct tally t = { 0 };
	uint32_t ses;
	int fd, i, err;

	if (nthreads < 1 || nthreads > 64)
		nthreads = 4;
	if (!len || len % 16 || len > dev_max_len(dev))
		len = LOOP_LEN;
	fd = dev_open(dev);
	if (!check(&t, fd >= 0, "open %s (%s)", dev, errno_name(-fd)))
		return tally_finish(&t, "cryptodev_loop");
	err = ses_new(fd, CRYPTO_AES_CBC, key, sizeof(key), 0, NULL, 0, &ses);
	if (!check(&t, !err, "CIOCGSESSION (%s)", errno_name(-err)))
		return tally_finish(&t, "cryptodev_loop");

	threads = calloc(nthreads, sizeof(*threads));
	if (!check(&t, threads != NULL, "allocate threads"))
		return tally_finish(&t, "cryptodev_loop");
	for (i = 0; i < nthreads; i++) {
		threads[i].fd = fd;
		threads[i].ses = ses;
		threads[i].len = len;
		check(&t, !pthread_create(&threads[i].thread, NULL, loop_run,
					  &threads[i]), "start thread %d", i);
	}
	printf("     looping\n");
	fflush(stdout);
	for (i = 0; i < nthreads; i++) {
		pthread_join(threads[i].thread, NULL);
		check(&t, threads[i].err == -ENODEV,
		      "thread %d: %lu ops, then %s (expected ENODEV)", i,
		      threads[i].ops, errno_name(-threads[i].err));
	}
	err = ses_free(fd, ses);
	check(&t, err == -ENODEV, "CIOCFSESSION after removal: %s (expected ENODEV)",
	      errno_name(-err));
	check(&t, close(fd) == 0, "close after removal");
	err = dev_open(dev);
	check(&t, err == -ENOENT, "open after removal: %s (expected ENOENT)",
	      errno_name(-err));
	free(threads);
	return tally_finish(&t, "cryptodev_loop");
}
