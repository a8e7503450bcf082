// SPDX-License-Identifier: GPL-2.0
/*
 * cryptodev_fuzz: random ioctl sequences against /dev/cryptodevN, as an
 * unprivileged user would send them. THREADS threads share a few open files
 * and for SECONDS pick, from one SEED, an ioctl (every number the ABI has,
 * and random ones) with random arguments: session ids alive, freed, foreign
 * or random; algorithms, key and data lengths at and around every limit;
 * pointers NULL, unaligned, unmapped, read-only, in the kernel's half, or
 * good; flags random. Now and then a thread closes its file and opens a
 * new one, or clones it with CRIOGET, while others use it. Every call must
 * return (an errno is fine); the caller checks dmesg and runs the vectors.
 *
 *   cryptodev_fuzz [DEV [SECONDS [THREADS [SEED]]]]
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "common.h"

#define FILES 4
#define BUF_LEN (256 * 1024)

static const char *fuzz_dev;
static double fuzz_deadline;
static uint8_t *good, *rdonly, *unmapped;
static uint32_t max_len;
static int files[FILES];
static pthread_mutex_t files_lock = PTHREAD_MUTEX_INITIALIZER;

static const unsigned long ioctls[] = {
	CRIOGET, CIOCGSESSION, CIOCFSESSION, CIOCCRYPT, CIOCKEY, CIOCASYMFEAT,
	CIOCGSESSINFO, CIOCAUTHCRYPT, CIOCASYNCCRYPT, CIOCASYNCFETCH,
	CIOCCPHASH,
};
static const uint32_t algs[] = {
	0, CRYPTO_AES_CBC, CRYPTO_SHA1_HMAC, CRYPTO_SHA2_256_HMAC,
	CRYPTO_SHA2_512_HMAC, CRYPTO_SHA1, CRYPTO_SHA2_256, CRYPTO_SHA2_512,
	CRYPTO_AES_CTR, CRYPTO_AES_GCM, 999, 0xffffffff,
};

struct fuzz_thread {
	pthread_t thread;
	struct prng r;
	uint32_t ses[8];
	unsigned long calls;
	unsigned long ok;
};

static uint32_t pick(struct prng *r, uint32_t n)
{
	return (uint32_t)(prng_next(r) % n);
}

static void *any_ptr(struct prng *r, size_t len)
{
	switch (pick(r, 8)) {
	case 0:
		return NULL;
	case 1:
		return (void *)(uintptr_t)1;
	case 2:
		return (void *)(uintptr_t)0xffff888000000000ull;
	case 3:
		return unmapped;
	case 4:
		return rdonly;
	case 5: /* the end of the good buffer: runs into the guard page */
		return good + BUF_LEN - (len % BUF_LEN);
	default:
		return good + pick(r, 64);
	}
}

static uint32_t any_len(struct prng *r)
{
	static const uint32_t edges[] = { 0, 1, 15, 16, 17, 4096, 65536 };

	switch (pick(r, 6)) {
	case 0:
		return edges[pick(r, sizeof(edges) / sizeof(edges[0]))];
	case 1:
		return max_len + 16 * pick(r, 3) - 16;
	case 2:
		return (uint32_t)prng_next(r);
	default:
		return 16 * pick(r, 64);
	}
}

static uint32_t any_ses(struct fuzz_thread *ft)
{
	switch (pick(&ft->r, 4)) {
	case 0:
		return (uint32_t)prng_next(&ft->r);
	case 1:
		return pick(&ft->r, 64);
	default:
		return ft->ses[pick(&ft->r, 8)];
	}
}

static int any_file(struct fuzz_thread *ft)
{
	int fd;

	pthread_mutex_lock(&files_lock);
	fd = files[pick(&ft->r, FILES)];
	pthread_mutex_unlock(&files_lock);
	return fd;
}

static void churn_file(struct fuzz_thread *ft)
{
	int i = (int)pick(&ft->r, FILES), fd = dev_open(fuzz_dev), old;

	if (fd < 0)
		return;
	pthread_mutex_lock(&files_lock);
	old = files[i];
	files[i] = fd;
	pthread_mutex_unlock(&files_lock);
	/* Others may still be using it: a closed fd is their EBADF. */
	close(old);
}

static void one_call(struct fuzz_thread *ft)
{
	struct prng *r = &ft->r;
	union {
		struct session_op sop;
		struct crypt_op cop;
		struct session_info_op info;
		uint32_t u32;
		uint8_t raw[512];
	} arg;
	unsigned long cmd;
	void *argp = &arg;
	int fd = any_file(ft), ret;

	memset(&arg, 0, sizeof(arg));
	cmd = pick(r, 10) ? ioctls[pick(r, sizeof(ioctls) / sizeof(ioctls[0]))]
			  : (unsigned long)prng_next(r);
	if (!pick(r, 16))
		argp = any_ptr(r, sizeof(arg));
	else if (!pick(r, 8))
		prng_fill(r, &arg, sizeof(arg));
	else if (cmd == CIOCGSESSION) {
		arg.sop.cipher = algs[pick(r, sizeof(algs) / sizeof(algs[0]))];
		arg.sop.mac = algs[pick(r, sizeof(algs) / sizeof(algs[0]))];
		arg.sop.keylen = pick(r, 4) ? 16 * (1 + pick(r, 2)) : any_len(r);
		arg.sop.mackeylen = pick(r, 4) ? pick(r, 80) : any_len(r);
		arg.sop.key = pick(r, 4) ? good : any_ptr(r, arg.sop.keylen);
		arg.sop.mackey = pick(r, 4) ? good : any_ptr(r, arg.sop.mackeylen);
	} else if (cmd == CIOCCRYPT || cmd == CIOCASYNCCRYPT) {
		arg.cop.ses = any_ses(ft);
		arg.cop.op = pick(r, 8) ? pick(r, 2) : (uint16_t)prng_next(r);
		arg.cop.flags = pick(r, 4) ? 0 : (uint16_t)prng_next(r);
		arg.cop.len = any_len(r);
		arg.cop.src = pick(r, 4) ? good : any_ptr(r, arg.cop.len);
		arg.cop.dst = pick(r, 3) ? (pick(r, 2) ? arg.cop.src : good + 64) :
					   any_ptr(r, arg.cop.len);
		arg.cop.iv = pick(r, 4) ? good + BUF_LEN - 16 : any_ptr(r, 16);
		arg.cop.mac = pick(r, 4) ? good + 128 : any_ptr(r, 64);
	} else if (cmd == CIOCFSESSION || cmd == CIOCGSESSINFO) {
		arg.info.ses = any_ses(ft);
	}
	ret = ioctl(fd, cmd, argp);
	ft->calls++;
	if (ret < 0)
		return;
	ft->ok++;
	if (cmd == CIOCGSESSION && argp == &arg)
		ft->ses[pick(r, 8)] = arg.sop.ses;
	else if (cmd == CRIOGET && argp == &arg)
		close((int)arg.u32);
}

static void *fuzz_run(void *p)
{
	struct fuzz_thread *ft = p;

	while (now_sec() < fuzz_deadline) {
		if (!pick(&ft->r, 200))
			churn_file(ft);
		else
			one_call(ft);
	}
	return NULL;
}

int main(int argc, char **argv)
{
	double seconds = argc > 2 ? atof(argv[2]) : 10;
	int nthreads = argc > 3 ? atoi(argv[3]) : 4;
	uint64_t seed = argc > 4 ? strtoull(argv[4], NULL, 0) : 1;
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	struct fuzz_thread *threads;
	unsigned long calls = 0, ok = 0;
	struct tally t = { 0 };
	uint8_t *map;
	int i, fd;

	fuzz_dev = dev_path(argc, argv);
	max_len = dev_max_len(fuzz_dev);
	/* good, a guard page; a read-only page; an unmapped page. */
	map = mmap(NULL, BUF_LEN + 3 * page, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (map == MAP_FAILED)
		return 2;
	good = map;
	mprotect(map + BUF_LEN, page, PROT_NONE);
	rdonly = map + BUF_LEN + page;
	mprotect(rdonly, page, PROT_READ);
	unmapped = map + BUF_LEN + 2 * page;
	munmap(unmapped, page);

	for (i = 0; i < FILES; i++) {
		files[i] = dev_open(fuzz_dev);
		if (files[i] < 0) {
			fprintf(stderr, "cryptodev_fuzz: %s: %s\n", fuzz_dev,
				errno_name(-files[i]));
			return 2;
		}
	}
	threads = calloc(nthreads, sizeof(*threads));
	fuzz_deadline = now_sec() + seconds;
	for (i = 0; i < nthreads; i++) {
		prng_seed(&threads[i].r, seed * 1000003 + i);
		pthread_create(&threads[i].thread, NULL, fuzz_run, &threads[i]);
	}
	for (i = 0; i < nthreads; i++) {
		pthread_join(threads[i].thread, NULL);
		calls += threads[i].calls;
		ok += threads[i].ok;
	}
	/* Every descriptor, CRIOGET clones left in random places included. */
	for (i = 3; i < 65536; i++)
		close(i);
	printf("cryptodev_fuzz: seed %llu, %d threads, %.0f s: %lu ioctls, %lu succeeded\n",
	       (unsigned long long)seed, nthreads, seconds, calls, ok);
	check(&t, calls > 0, "every ioctl returned");
	fd = dev_open(fuzz_dev);
	check(&t, fd >= 0 && !nist_cbc256_selftest(fd),
	      "NIST vector on a fresh file afterwards");
	close(fd);
	free(threads);
	return tally_finish(&t, "cryptodev_fuzz");
}
