// SPDX-License-Identifier: GPL-2.0
/*
 * cryptodev_async: the asynchronous interface, as cryptodev-linux offers it.
 *
 *   CIOCASYNCCRYPT queues, up to 16 per file (the 17th is EBUSY); poll()
 *   says POLLIN when an answer waits; CIOCASYNCFETCH hands answers back in
 *   the order they came, with their crypt_op, EBUSY when none waits.
 *   Every answer equals the synchronous CIOCCRYPT of the same input
 *   (AES-CBC, in and out of place; HMAC-SHA256 digests).
 *   Closing a file with requests in flight loses nothing and leaks nothing:
 *   the pinned pages are unpinned (VmLck back to its value), the device
 *   still answers.
 *
 *   cryptodev_async [DEV [ROUNDS]]
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "common.h"

#define DEPTH 16
#define LEN (64 * 1024)

static long vm_locked_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "VmLck: %ld kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb;
}

static int queue(int fd, uint32_t ses, const void *src, void *dst, uint32_t len,
		 void *iv, void *mac)
{
	struct crypt_op cop = {
		.ses = ses, .op = COP_ENCRYPT, .len = len,
		.src = (void *)src, .dst = dst, .iv = iv, .mac = mac,
	};

	return ioctl(fd, CIOCASYNCCRYPT, &cop) < 0 ? -errno : 0;
}

static int fetch(int fd, struct crypt_op *cop)
{
	memset(cop, 0, sizeof(*cop));
	return ioctl(fd, CIOCASYNCFETCH, cop) < 0 ? -errno : 0;
}

static void ciphers(struct tally *t, int fd, uint32_t ses)
{
	static uint8_t in[DEPTH][LEN], out[DEPTH][LEN], ref[LEN];
	uint8_t iv[DEPTH][16], iv_copy[16];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct crypt_op cop;
	int i, err, queued = 0, fetched = 0, right = 0;
	struct prng r;

	prng_seed(&r, 16);
	for (i = 0; i < DEPTH; i++) {
		prng_fill(&r, in[i], LEN);
		prng_fill(&r, iv[i], 16);
		/* Every other one in place: out[i] starts as a copy of in[i]. */
		memcpy(out[i], in[i], LEN);
		err = queue(fd, ses, i % 2 ? out[i] : in[i], out[i], LEN, iv[i],
			    NULL);
		queued += !err;
	}
	check(t, queued == DEPTH, "%d AES-CBC requests queued", queued);
	err = queue(fd, ses, in[0], ref, LEN, iv[0], NULL);
	check(t, err == -EBUSY, "request 17 on one file: got %s, expected EBUSY",
	      errno_name(-err));

	while (fetched < queued) {
		if (poll(&pfd, 1, 10000) != 1 || !(pfd.revents & POLLIN))
			break;
		while (!(err = fetch(fd, &cop))) {
			i = (int)(((uint8_t *)cop.dst - &out[0][0]) / LEN);
			fetched++;
			memcpy(iv_copy, iv[i], sizeof(iv_copy));
			if (i >= 0 && i < DEPTH &&
			    !cd_crypt(fd, ses, COP_ENCRYPT, 0, in[i], ref, LEN,
				      iv_copy, NULL) &&
			    same_bytes(out[i], ref, LEN))
				right++;
		}
		if (err != -EBUSY)
			break;
	}
	check(t, fetched == queued && right == queued,
	      "poll + CIOCASYNCFETCH: %d of %d answered, %d equal to CIOCCRYPT",
	      fetched, queued, right);
	err = fetch(fd, &cop);
	check(t, err == -EBUSY, "CIOCASYNCFETCH with none waiting: got %s, expected EBUSY",
	      errno_name(-err));
}

static void macs(struct tally *t, int fd, uint32_t ses)
{
	static uint8_t in[8][4096];
	uint8_t mac[8][SHA256_LEN], ref[SHA256_LEN];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	struct crypt_op cop;
	int i, got = 0, right = 0;
	struct prng r;

	prng_seed(&r, 8);
	for (i = 0; i < 8; i++) {
		prng_fill(&r, in[i], sizeof(in[i]));
		queue(fd, ses, in[i], NULL, sizeof(in[i]), NULL, mac[i]);
	}
	while (got < 8 && poll(&pfd, 1, 10000) == 1) {
		while (!fetch(fd, &cop)) {
			i = (int)(((uint8_t *)cop.mac - &mac[0][0]) / SHA256_LEN);
			got++;
			if (i >= 0 && i < 8 &&
			    !cd_crypt(fd, ses, COP_ENCRYPT, 0, in[i], NULL,
				      sizeof(in[i]), NULL, ref) &&
			    same_bytes(mac[i], ref, SHA256_LEN))
				right++;
		}
	}
	check(t, got == 8 && right == 8,
	      "8 async HMAC-SHA256: %d answered, %d equal to CIOCCRYPT", got, right);
}

/* Queue a full file of 1 MiB requests and close it at once, @rounds times. */
static void close_in_flight(struct tally *t, const char *dev, int rounds)
{
	static uint8_t buf[DEPTH][1024 * 1024];
	static const uint8_t key[32];
	long before = vm_locked_kb();
	uint8_t iv[16] = { 0 };
	int round, i, queued = 0;
	uint32_t ses;

	for (round = 0; round < rounds; round++) {
		int fd = dev_open(dev);

		if (fd < 0 || ses_new(fd, CRYPTO_AES_CBC, key, sizeof(key), 0,
				      NULL, 0, &ses))
			break;
		for (i = 0; i < DEPTH; i++)
			queued += !queue(fd, ses, buf[i], buf[i], sizeof(buf[i]),
					 iv, NULL);
		close(fd);
	}
	check(t, round == rounds && queued == rounds * DEPTH,
	      "%d files closed with %d MiB requests in flight each", round, DEPTH);
	check(t, vm_locked_kb() == before,
	      "no page stays pinned after close (VmLck %ld kB, was %ld kB)",
	      vm_locked_kb(), before);
}

int main(int argc, char **argv)
{
	const char *dev = dev_path(argc, argv);
	int rounds = argc > 2 ? atoi(argv[2]) : 20;
	static const uint8_t key[32] = { 7 };
	struct tally t = { 0 };
	uint32_t cipher, mac;
	int fd, err;

	fd = dev_open(dev);
	if (fd < 0) {
		fprintf(stderr, "cryptodev_async: %s: %s\n", dev, errno_name(-fd));
		return 2;
	}
	err = ses_new(fd, CRYPTO_AES_CBC, key, sizeof(key), 0, NULL, 0, &cipher);
	if (!err)
		err = ses_new(fd, 0, NULL, 0, CRYPTO_SHA2_256_HMAC, key,
			      sizeof(key), &mac);
	if (!check(&t, !err, "sessions (%s)", errno_name(-err)))
		return tally_finish(&t, "cryptodev_async");
	ciphers(&t, fd, cipher);
	macs(&t, fd, mac);
	close(fd);
	close_in_flight(&t, dev, rounds);
	fd = dev_open(dev);
	check(&t, fd >= 0 && !nist_cbc256_selftest(fd), "NIST vector afterwards");
	close(fd);
	return tally_finish(&t, "cryptodev_async");
}
