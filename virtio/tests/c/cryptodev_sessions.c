// SPDX-License-Identifier: GPL-2.0
/*
 * cryptodev_sessions: no session leaks on the device, whatever the caller
 * does. ROUNDS times, a child opens the device, creates sessions, starts
 * THREADS threads keeping requests in flight on them, frees a session with
 * CIOCFSESSION while they run, and is SIGKILLed within 5 ms of starting to
 * free them. Then a fresh file must still be able to create max_sessions
 * sessions.
 *
 * With FILL (pages), another process keeps FILL_THREADS requests in flight
 * on its own file the whole time, of FILL and FILL + 1 page-aligned pages
 * in turn. On a device without indirect descriptors a CRYPT in place takes
 * 2n + 3 descriptors for n pages: with FILL 254 a pair of them takes all
 * 1024 of the ring, so a destroy (2 descriptors) often has to wait for a
 * slot, and a SIGKILL lands while it waits.
 *
 *   cryptodev_sessions [DEV [ROUNDS [THREADS [FILL]]]]
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#define CHILD_SESSIONS 4
#define BUSY_LEN (64 * 1024)
#define FILL_THREADS 4

struct busy {
	int fd;
	uint32_t ses;
	size_t len;
};

/* Requests of b->len bytes in a loop, until one fails. */
static void *busy_run(void *arg)
{
	struct busy *b = arg;
	uint8_t *buf = NULL;
	uint8_t iv[16] = { 0 };

	/* Page-aligned: the request spans exactly len / 4096 pages. */
	if (posix_memalign((void **)&buf, 4096, b->len))
		return NULL;
	memset(buf, 0, b->len);
	while (buf && !cd_crypt(b->fd, b->ses, COP_ENCRYPT, 0, buf, buf,
				b->len, iv, NULL))
		;
	free(buf);
	return NULL;
}

/* Tells the parent through @ready, then frees its sessions: the kill comes around then. */
static void child(const char *dev, int nthreads, int ready)
{
	static const uint8_t key[16];
	uint32_t ses[CHILD_SESSIONS];
	struct busy b[CHILD_SESSIONS];
	pthread_t thread;
	int fd = dev_open(dev), i;

	if (fd < 0)
		_exit(2);
	for (i = 0; i < CHILD_SESSIONS; i++) {
		if (ses_new(fd, CRYPTO_AES_CBC, key, sizeof(key), 0, NULL, 0,
			    &ses[i]))
			_exit(3);
		b[i].fd = fd;
		b[i].ses = ses[i];
		b[i].len = BUSY_LEN;
	}
	for (i = 0; i < nthreads; i++)
		pthread_create(&thread, NULL, busy_run, &b[i % CHILD_SESSIONS]);
	usleep(2000);
	/* Freed while requests on it are in flight; the parent kills us soon. */
	if (write(ready, "", 1) != 1)
		_exit(4);
	for (i = 0; i < CHILD_SESSIONS; i++)
		ses_free(fd, ses[i]);
	pause();
	_exit(0);
}

/* A process keeping requests of @pages and @pages + 1 in flight until killed. */
static pid_t start_filler(const char *dev, unsigned long pages)
{
	static const uint8_t key[16];
	struct busy b[FILL_THREADS];
	pthread_t thread;
	pid_t pid = fork();
	uint32_t ses;
	int fd, i;

	if (pid)
		return pid;
	fd = dev_open(dev);
	if (fd < 0 ||
	    ses_new(fd, CRYPTO_AES_CBC, key, sizeof(key), 0, NULL, 0, &ses))
		_exit(2);
	for (i = 0; i < FILL_THREADS; i++) {
		b[i].fd = fd;
		b[i].ses = ses;
		b[i].len = (pages + i % 2) * 4096;
		pthread_create(&thread, NULL, busy_run, &b[i]);
	}
	pause();
	_exit(0);
}

int main(int argc, char **argv)
{
	const char *dev = dev_path(argc, argv);
	int rounds = argc > 2 ? atoi(argv[2]) : 100;
	int nthreads = argc > 3 ? atoi(argv[3]) : 8;
	pid_t filler = 0;
	unsigned long max = sysfs_limit(dev, "max_sessions", 1024);
	static const uint8_t key[16];
	struct tally t = { 0 };
	uint32_t *ids = calloc(max, sizeof(*ids));
	unsigned long made = 0;
	struct prng r;
	int round, fd, err = 0;

	prng_seed(&r, (uint64_t)time(NULL));
	if (argc > 4) {
		filler = start_filler(dev, strtoul(argv[4], NULL, 0));
		/* Its requests in flight before the first round. */
		sleep(1);
	}
	for (round = 0; round < rounds; round++) {
		struct timespec delay = { 0, (long)(prng_next(&r) % 5000000) };
		int ready[2];
		pid_t pid;
		char c;

		if (pipe(ready))
			break;
		pid = fork();
		if (pid == 0)
			child(dev, nthreads, ready[1]);
		close(ready[1]);
		if (pid < 0)
			break;
		/* Up to 5 ms after it starts freeing: destroys in flight or waiting. */
		if (read(ready[0], &c, 1) == 1)
			nanosleep(&delay, NULL);
		close(ready[0]);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	check(&t, round == rounds, "%d rounds of busy sessions freed and killed",
	      round);
	if (filler > 0) {
		kill(filler, SIGKILL);
		waitpid(filler, NULL, 0);
	}

	fd = dev_open(dev);
	if (!check(&t, fd >= 0 && ids, "a fresh file"))
		return tally_finish(&t, "cryptodev_sessions");
	while (made < max) {
		err = ses_new(fd, CRYPTO_AES_CBC, key, sizeof(key), 0, NULL, 0,
			      &ids[made]);
		if (err)
			break;
		made++;
	}
	check(&t, made == max,
	      "a fresh file creates all %lu sessions (made %lu, then %s)",
	      max, made, errno_name(-err));
	while (made)
		ses_free(fd, ids[--made]);
	check(&t, !nist_cbc256_selftest(fd), "NIST vector afterwards");
	close(fd);
	free(ids);
	return tally_finish(&t, "cryptodev_sessions");
}
