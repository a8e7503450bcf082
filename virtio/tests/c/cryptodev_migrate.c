// SPDX-License-Identifier: GPL-2.0
/*
 * cryptodev_migrate: holds an AES-256-CBC and an HMAC-SHA256 session on one
 * open file while THREADS threads check known answers through them for
 * SECONDS (NIST SP 800-38A F.2.5 and RFC 4231 case 2), as the VM it runs in is
 * live-migrated from host to host. The sessions are made once, before the
 * first migration: their ids must keep working, and every answer must be the
 * known one. Prints the ids, "checking", then the counts, and exits non-zero
 * on any mismatch or error. Linked statically: the migration guest boots from
 * an initramfs of its own, with no C library.
 *
 *   cryptodev_migrate [DEV [THREADS [SECONDS]]]
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static const char key_hex[] =
	"603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4";
static const char iv_hex[] = "000102030405060708090a0b0c0d0e0f";
static const char pt_hex[] =
	"6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
	"30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710";
static const char ct_hex[] =
	"f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d"
	"39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b";
static const char mac_hex[] =
	"5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
static const char mac_key[] = "Jefe";
static const char mac_data[] = "what do ya want for nothing?";

struct vectors {
	uint8_t key[32], iv[16], pt[64], ct[64], mac[32];
};

struct worker {
	pthread_t thread;
	int fd;
	uint32_t cbc, hmac;
	const struct vectors *v;
	double until;
	unsigned long ops, mismatches, errors;
	int first_err;
};

static void note_error(struct worker *w, int err)
{
	if (!w->errors++)
		w->first_err = err;
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	uint8_t out[64], iv[16], mac[32];
	int err;

	while (now_sec() < w->until) {
		memcpy(iv, w->v->iv, sizeof(iv));
		err = cd_crypt(w->fd, w->cbc, COP_ENCRYPT, 0, w->v->pt, out,
			       sizeof(out), iv, NULL);
		if (err)
			note_error(w, err);
		else if (memcmp(out, w->v->ct, sizeof(out)))
			w->mismatches++;
		err = cd_crypt(w->fd, w->hmac, COP_ENCRYPT, 0, mac_data, NULL,
			       strlen(mac_data), NULL, mac);
		if (err)
			note_error(w, err);
		else if (memcmp(mac, w->v->mac, sizeof(mac)))
			w->mismatches++;
		w->ops += 2;
	}
	return NULL;
}

int main(int argc, char **argv)
{
	const char *dev = dev_path(argc, argv);
	int nthreads = argc > 2 ? atoi(argv[2]) : 4;
	double seconds = argc > 3 ? atof(argv[3]) : 30;
	unsigned long ops = 0, mismatches = 0, errors = 0;
	struct session_info_op info;
	struct worker *workers;
	struct vectors v;
	struct tally t = { 0 };
	uint32_t cbc, hmac;
	int fd, i, err;

	if (nthreads < 1 || nthreads > 64)
		nthreads = 4;
	unhex(key_hex, v.key, sizeof(v.key));
	unhex(iv_hex, v.iv, sizeof(v.iv));
	unhex(pt_hex, v.pt, sizeof(v.pt));
	unhex(ct_hex, v.ct, sizeof(v.ct));
	unhex(mac_hex, v.mac, sizeof(v.mac));
	fd = dev_open(dev);
	if (!check(&t, fd >= 0, "open %s (%s)", dev, errno_name(-fd)))
		return tally_finish(&t, "cryptodev_migrate");
	err = ses_new(fd, CRYPTO_AES_CBC, v.key, sizeof(v.key), 0, NULL, 0, &cbc);
	if (!check(&t, !err, "AES-256-CBC session (%s)", errno_name(-err)))
		return tally_finish(&t, "cryptodev_migrate");
	err = ses_new(fd, 0, NULL, 0, CRYPTO_SHA2_256_HMAC, mac_key,
		      strlen(mac_key), &hmac);
	if (!check(&t, !err, "HMAC-SHA256 session (%s)", errno_name(-err)))
		return tally_finish(&t, "cryptodev_migrate");
	printf("     sessions %u %u\n     checking\n", cbc, hmac);
	fflush(stdout);

	workers = calloc(nthreads, sizeof(*workers));
	if (!check(&t, workers != NULL, "allocate threads"))
		return tally_finish(&t, "cryptodev_migrate");
	for (i = 0; i < nthreads; i++) {
		workers[i] = (struct worker){ .fd = fd, .cbc = cbc, .hmac = hmac,
					      .v = &v, .until = now_sec() + seconds };
		check(&t, !pthread_create(&workers[i].thread, NULL, worker_run,
					  &workers[i]), "start thread %d", i);
	}
	for (i = 0; i < nthreads; i++) {
		pthread_join(workers[i].thread, NULL);
		ops += workers[i].ops;
		mismatches += workers[i].mismatches;
		errors += workers[i].errors;
		if (workers[i].errors)
			printf("     thread %d: first error %s\n", i,
			       errno_name(-workers[i].first_err));
	}
	printf("     %lu operations, %lu mismatches, %lu errors\n", ops,
	       mismatches, errors);
	check(&t, ops > 0 && !mismatches && !errors,
	      "every answer the known one, across the migrations");
	check(&t, !ses_info(fd, cbc, &info) && !ses_info(fd, hmac, &info),
	      "both sessions still known by their ids");
	free(workers);
	return tally_finish(&t, "cryptodev_migrate");
}
