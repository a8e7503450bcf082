// SPDX-License-Identifier: GPL-2.0
/*
 * Concurrency stress for /dev/cryptodevN.
 *
 *   cryptodev_stress [DEVICE [PROCESSES [THREADS [OPS_PER_THREAD]]]]
 *
 * PROCESSES children (fork) each run THREADS threads.  Even-numbered
 * threads open the device themselves; odd-numbered ones share one fd per
 * process, and on it one shared session that every sharing thread uses
 * concurrently.  Each operation picks a random key (16/24/32 bytes), IV
 * and size, and is checked without a software AES:
 *   - encrypt(x) through session A equals encrypt(x) through an independent
 *     session B with the same key and IV (two sessions, same answer),
 *   - the ciphertext differs from x, and decrypt(ciphertext) == x,
 *   - every 8th operation also runs HMAC-SHA256 through two sessions with
 *     the same key and compares the MACs,
 *   - every 16th operation goes through the process-wide shared session.
 * At the end the parent runs a NIST SP 800-38A vector.  Prints total ops
 * and ops/s; exit status 0 only if nothing failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common.h"

#define MAX_FAIL_LINES	5	/* per thread, so a broken device stays readable */
#define SHARED_KEY_LEN	32
#define REKEY_EVERY	32	/* ops between new sessions A/B */

/* What one process hands to each of its threads. */
struct proc_shared {
	const char *dev;
	int fd;				/* shared by odd-numbered threads */
	uint32_t ses;			/* one session on fd, used concurrently */
	uint8_t key[SHARED_KEY_LEN];	/* its key */
	uint32_t max_len;
	unsigned long ops;
	int proc;
};

struct thread_arg {
	const struct proc_shared *sh;
	int idx;
	pthread_t tid;
	/* results */
	unsigned long ops;
	unsigned long fails;
};

struct counts {
	unsigned long ops;
	unsigned long fails;
};

/* Everything one thread works with; lives on its stack. */
struct worker {
	const struct proc_shared *sh;
	struct thread_arg *arg;
	struct prng r;
	int fd;
	uint32_t ses_a, ses_b;
	uint8_t key[32];
	uint32_t keylen;
	uint8_t *x, *ca, *cb, *back;
	uint32_t buf_len;
};

static void fail(struct worker *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void fail(struct worker *w, const char *fmt, ...)
{
	va_list ap;

	if (w->arg->fails++ >= MAX_FAIL_LINES)
		return;
	printf("FAIL proc %d thread %d op %lu: ", w->sh->proc, w->arg->idx,
	       w->arg->ops);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void worker_drop_sessions(struct worker *w)
{
	int ret;

	if (w->ses_a) {
		ret = ses_free(w->fd, w->ses_a);
		if (ret)
			fail(w, "CIOCFSESSION A: %s", errno_name(-ret));
	}
	if (w->ses_b) {
		ret = ses_free(w->fd, w->ses_b);
		if (ret)
			fail(w, "CIOCFSESSION B: %s", errno_name(-ret));
	}
	w->ses_a = 0;
	w->ses_b = 0;
}

/* Two independent sessions with one fresh random key. */
static int worker_rekey(struct worker *w)
{
	static const uint32_t lens[] = { 16, 24, 32 };
	int ret;

	worker_drop_sessions(w);
	w->keylen = lens[prng_next(&w->r) % 3];
	prng_fill(&w->r, w->key, w->keylen);
	ret = ses_new(w->fd, CRYPTO_AES_CBC, w->key, w->keylen, 0, NULL, 0,
		      &w->ses_a);
	if (ret) {
		fail(w, "CIOCGSESSION A: %s", errno_name(-ret));
		return ret;
	}
	ret = ses_new(w->fd, CRYPTO_AES_CBC, w->key, w->keylen, 0, NULL, 0,
		      &w->ses_b);
	if (ret) {
		fail(w, "CIOCGSESSION B: %s", errno_name(-ret));
		w->ses_b = 0;
		return ret;
	}
	return 0;
}

/* Mostly small and medium sizes, sometimes up to the buffer size. */
static uint32_t random_len(struct worker *w)
{
	uint32_t blocks = w->buf_len / AES_BLOCK_LEN;
	uint64_t v = prng_next(&w->r);

	if (v % 4 == 0)
		return (uint32_t)(1 + (v >> 8) % blocks) * AES_BLOCK_LEN;
	if (blocks > 256)
		blocks = 256;
	return (uint32_t)(1 + (v >> 8) % blocks) * AES_BLOCK_LEN;
}

/* encrypt via A and B, compare, decrypt via the other one, compare. */
static void op_cipher(struct worker *w, int fd_a, uint32_t ses_a,
		      int fd_b, uint32_t ses_b, const char *what)
{
	uint32_t len = random_len(w);
	uint8_t iv0[16], iv[16];
	int ret;

	prng_fill(&w->r, w->x, len);
	prng_fill(&w->r, iv0, sizeof(iv0));

	memcpy(iv, iv0, sizeof(iv));
	ret = cd_crypt(fd_a, ses_a, COP_ENCRYPT, 0, w->x, w->ca, len, iv, NULL);
	if (ret) {
		fail(w, "%s encrypt %u B via A: %s", what, len, errno_name(-ret));
		return;
	}
	/* B encrypts in place in a copy, to cover both buffer layouts. */
	memcpy(w->cb, w->x, len);
	memcpy(iv, iv0, sizeof(iv));
	ret = cd_crypt(fd_b, ses_b, COP_ENCRYPT, 0, w->cb, w->cb, len, iv, NULL);
	if (ret) {
		fail(w, "%s encrypt %u B via B: %s", what, len, errno_name(-ret));
		return;
	}
	if (memcmp(w->ca, w->cb, len)) {
		fail(w, "%s %u B: two sessions with one key disagree", what, len);
		return;
	}
	if (!memcmp(w->ca, w->x, len)) {
		fail(w, "%s %u B: ciphertext equals plaintext", what, len);
		return;
	}
	memcpy(iv, iv0, sizeof(iv));
	ret = cd_crypt(fd_b, ses_b, COP_DECRYPT, 0, w->ca, w->back, len, iv,
		       NULL);
	if (ret) {
		fail(w, "%s decrypt %u B: %s", what, len, errno_name(-ret));
		return;
	}
	if (memcmp(w->back, w->x, len))
		fail(w, "%s %u B: decrypt(encrypt(x)) != x", what, len);
}

/* HMAC-SHA256 with a random key through two fresh sessions. */
static void op_hmac(struct worker *w)
{
	uint8_t key[64], mac_a[HASH_MAX_LEN], mac_b[HASH_MAX_LEN];
	uint32_t keylen = 1 + prng_next(&w->r) % sizeof(key);
	uint32_t len = random_len(w), sa, sb;
	int ret;

	prng_fill(&w->r, key, keylen);
	prng_fill(&w->r, w->x, len);
	ret = ses_new(w->fd, 0, NULL, 0, CRYPTO_SHA2_256_HMAC, key, keylen, &sa);
	if (ret) {
		fail(w, "HMAC CIOCGSESSION: %s", errno_name(-ret));
		return;
	}
	ret = ses_new(w->fd, 0, NULL, 0, CRYPTO_SHA2_256_HMAC, key, keylen, &sb);
	if (ret) {
		fail(w, "HMAC CIOCGSESSION: %s", errno_name(-ret));
		goto free_a;
	}
	memset(mac_a, 0, sizeof(mac_a));
	memset(mac_b, 0xff, sizeof(mac_b));
	ret = cd_crypt(w->fd, sa, COP_ENCRYPT, 0, w->x, NULL, len, NULL, mac_a);
	if (!ret)
		ret = cd_crypt(w->fd, sb, COP_ENCRYPT, 0, w->x, NULL, len, NULL,
			       mac_b);
	if (ret)
		fail(w, "HMAC %u B: %s", len, errno_name(-ret));
	else if (memcmp(mac_a, mac_b, SHA256_LEN))
		fail(w, "HMAC %u B: two sessions with one key disagree", len);
	ret = ses_free(w->fd, sb);
	if (ret)
		fail(w, "HMAC CIOCFSESSION: %s", errno_name(-ret));
free_a:
	ret = ses_free(w->fd, sa);
	if (ret)
		fail(w, "HMAC CIOCFSESSION: %s", errno_name(-ret));
}

static void *worker_main(void *p)
{
	struct thread_arg *arg = p;
	const struct proc_shared *sh = arg->sh;
	struct worker w = { .sh = sh, .arg = arg };
	bool own_fd = (arg->idx % 2) == 0;
	unsigned long i;

	prng_seed(&w.r, ((uint64_t)getpid() << 32) ^ (uint64_t)arg->idx * 7919 ^
		  (uint64_t)(now_sec() * 1e6));
	w.buf_len = sh->max_len < 65536 ? sh->max_len : 65536;
	w.x = malloc(w.buf_len);
	w.ca = malloc(w.buf_len);
	w.cb = malloc(w.buf_len);
	w.back = malloc(w.buf_len);
	if (!w.x || !w.ca || !w.cb || !w.back) {
		fail(&w, "out of memory");
		goto out;
	}
	if (own_fd) {
		w.fd = dev_open(sh->dev);
		if (w.fd < 0) {
			fail(&w, "open %s: %s", sh->dev, errno_name(-w.fd));
			goto out;
		}
	} else {
		w.fd = sh->fd;
	}

	for (i = 0; i < sh->ops; i++) {
		if (i % REKEY_EVERY == 0 && worker_rekey(&w))
			break;
		if (i % 16 == 15 && !own_fd) {
			/* The shared session, against a private one: same key. */
			uint32_t mine;
			int ret = ses_new(w.fd, CRYPTO_AES_CBC, sh->key,
					  sizeof(sh->key), 0, NULL, 0, &mine);

			if (ret) {
				fail(&w, "CIOCGSESSION (shared key): %s",
				     errno_name(-ret));
				break;
			}
			op_cipher(&w, sh->fd, sh->ses, w.fd, mine, "shared");
			ret = ses_free(w.fd, mine);
			if (ret)
				fail(&w, "CIOCFSESSION: %s", errno_name(-ret));
		} else if (i % 8 == 7) {
			op_hmac(&w);
		} else {
			op_cipher(&w, w.fd, w.ses_a, w.fd, w.ses_b, "AES-CBC");
		}
		arg->ops++;
	}
	worker_drop_sessions(&w);
	if (own_fd && close(w.fd))
		fail(&w, "close: %s", errno_name(errno));
out:
	free(w.back);
	free(w.cb);
	free(w.ca);
	free(w.x);
	return NULL;
}

/* One child process: THREADS threads, then its counts down the pipe. */
static int run_process(struct proc_shared *sh, int nthreads, int out_fd)
{
	struct thread_arg *args;
	struct counts c = { 0 };
	struct prng r;
	int i, ret, started = 0;

	args = calloc(nthreads, sizeof(*args));
	if (!args)
		return EXIT_FAILURE;

	sh->fd = dev_open(sh->dev);
	if (sh->fd < 0) {
		printf("FAIL proc %d: open %s: %s\n", sh->proc, sh->dev,
		       errno_name(-sh->fd));
		c.fails++;
		goto report;
	}
	prng_seed(&r, (uint64_t)getpid() * 0x100000001b3ull);
	prng_fill(&r, sh->key, sizeof(sh->key));
	ret = ses_new(sh->fd, CRYPTO_AES_CBC, sh->key, sizeof(sh->key), 0,
		      NULL, 0, &sh->ses);
	if (ret) {
		printf("FAIL proc %d: shared CIOCGSESSION: %s\n", sh->proc,
		       errno_name(-ret));
		c.fails++;
		goto close_fd;
	}

	for (i = 0; i < nthreads; i++) {
		args[i].sh = sh;
		args[i].idx = i;
		ret = pthread_create(&args[i].tid, NULL, worker_main, &args[i]);
		if (ret) {
			printf("FAIL proc %d: pthread_create: %s\n", sh->proc,
			       strerror(ret));
			c.fails++;
			break;
		}
		started++;
	}
	for (i = 0; i < started; i++) {
		pthread_join(args[i].tid, NULL);
		c.ops += args[i].ops;
		c.fails += args[i].fails;
	}

	ret = ses_free(sh->fd, sh->ses);
	if (ret) {
		printf("FAIL proc %d: shared CIOCFSESSION: %s\n", sh->proc,
		       errno_name(-ret));
		c.fails++;
	}
close_fd:
	if (close(sh->fd)) {
		printf("FAIL proc %d: close: %s\n", sh->proc, strerror(errno));
		c.fails++;
	}
report:
	printf("%s proc %d: %lu ops, %lu failed\n", c.fails ? "FAIL" : "ok  ",
	       sh->proc, c.ops, c.fails);
	fflush(stdout);
	if (write(out_fd, &c, sizeof(c)) != (ssize_t)sizeof(c))
		c.fails++;
	free(args);
	return c.fails ? EXIT_FAILURE : EXIT_SUCCESS;
}

static long arg_long(int argc, char **argv, int i, long def, long max)
{
	char *end;
	long v;

	if (argc <= i)
		return def;
	v = strtol(argv[i], &end, 0);
	if (*end || v < 1 || v > max) {
		fprintf(stderr, "argument %d: want 1..%ld\n", i, max);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	struct proc_shared sh = { 0 };
	struct tally t = { 0 };
	struct counts total = { 0 };
	int nproc, nthreads, i, status, pipefd[2];
	double t0, dt;
	pid_t pid;

	sh.dev = dev_path(argc, argv);
	nproc = arg_long(argc, argv, 2, 4, 256);
	nthreads = arg_long(argc, argv, 3, 4, 256);
	sh.ops = arg_long(argc, argv, 4, 250, 100000000);
	sh.max_len = dev_max_len(sh.dev);
	if (sh.max_len < AES_BLOCK_LEN)
		sh.max_len = AES_BLOCK_LEN;
	printf("     %s: %d processes x %d threads x %lu ops, max_data_len %u\n",
	       sh.dev, nproc, nthreads, sh.ops, sh.max_len);
	fflush(stdout);

	if (pipe(pipefd)) {
		perror("pipe");
		return EXIT_FAILURE;
	}
	t0 = now_sec();
	for (i = 0; i < nproc; i++) {
		pid = fork();
		if (pid < 0) {
			check(&t, false, "fork: %s", strerror(errno));
			break;
		}
		if (pid == 0) {
			close(pipefd[0]);
			sh.proc = i;
			_exit(run_process(&sh, nthreads, pipefd[1]));
		}
	}
	close(pipefd[1]);
	for (;;) {
		struct counts c;
		ssize_t n = read(pipefd[0], &c, sizeof(c));

		if (n == 0)
			break;
		if (n != (ssize_t)sizeof(c)) {
			if (n < 0 && errno == EINTR)
				continue;
			check(&t, false, "short read of a child's counts");
			break;
		}
		total.ops += c.ops;
		total.fails += c.fails;
	}
	close(pipefd[0]);
	while ((pid = wait(&status)) > 0)
		check(&t, WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "child %d exit status 0 (wait status 0x%x)", (int)pid, status);
	dt = now_sec() - t0;

	printf("     total %lu ops in %.2f s: %.0f ops/s\n", total.ops, dt,
	       dt > 0 ? total.ops / dt : 0.0);
	check(&t, total.fails == 0, "%lu operations, %lu failed", total.ops,
	      total.fails);
	check(&t, total.ops == (unsigned long)nproc * nthreads * sh.ops,
	      "every planned operation ran (%lu of %lu)", total.ops,
	      (unsigned long)nproc * nthreads * sh.ops);

	sh.fd = dev_open(sh.dev);
	if (check(&t, sh.fd >= 0, "reopen %s", sh.dev)) {
		int ret = nist_cbc256_selftest(sh.fd);

		check(&t, ret == 0, "NIST SP 800-38A F.2.5/F.2.6 still passes (%s)",
		      ret == -EBADMSG ? "wrong answer" : errno_name(-ret));
		close(sh.fd);
	}
	return tally_finish(&t, "cryptodev_stress");
}
