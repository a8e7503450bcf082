// SPDX-License-Identifier: GPL-2.0
/*
 * cryptodev_sessions: no session leaks on the device, whatever the caller
 * does. ROUNDS times, a child opens the device, creates sessions, starts
 * THREADS threads keeping requests in flight on them, frees a session with
 * CIOCFSESSION while they run, and is SIGKILLed at a random moment. Then a
 * fresh file must still be able to create max_sessions sessions.
 *
 *   cryptodev_sessions [DEV [ROUNDS [THREADS]]]
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

struct busy {
	int fd;
	uint32_t ses;
};

static void *busy_run(void *arg)
{
	struct busy *b = arg;
	uint8_t *buf = calloc(1, BUSY_LEN);
	uint8_t iv[16] = { 0 };

	while (buf && !cd_crypt(b->fd, b->ses, COP_ENCRYPT, 0, buf, buf,
				BUSY_LEN, iv, NULL))
		;
	free(buf);
	return NULL;
}

static void child(const char *dev, int nthreads)
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
	}
	for (i = 0; i < nthreads; i++)
		pthread_create(&thread, NULL, busy_run, &b[i % CHILD_SESSIONS]);
	usleep(2000);
	/* Freed while requests on it are in flight; the parent kills us soon. */
	for (i = 0; i < CHILD_SESSIONS; i++)
		ses_free(fd, ses[i]);
	pause();
	_exit(0);
}

int main(int argc, char **argv)
{
	const char *dev = dev_path(argc, argv);
	int rounds = argc > 2 ? atoi(argv[2]) : 100;
	int nthreads = argc > 3 ? atoi(argv[3]) : 8;
	unsigned long max = sysfs_limit(dev, "max_sessions", 1024);
	static const uint8_t key[16];
	struct tally t = { 0 };
	uint32_t *ids = calloc(max, sizeof(*ids));
	unsigned long made = 0;
	struct prng r;
	int round, fd, err = 0;

	prng_seed(&r, (uint64_t)time(NULL));
	for (round = 0; round < rounds; round++) {
		pid_t pid = fork();
		struct timespec delay = { 0, (long)(prng_next(&r) % 20000000) };

		if (pid == 0)
			child(dev, nthreads);
		if (pid < 0)
			break;
		nanosleep(&delay, NULL);
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	check(&t, round == rounds, "%d rounds of busy sessions freed and killed",
	      round);

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
