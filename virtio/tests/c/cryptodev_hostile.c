// SPDX-License-Identifier: GPL-2.0
/*
 * Hostile user space against /dev/cryptodevN: every bad call must fail
 * with the errno of the table below, and the device must keep working.
 *
 *   cryptodev_hostile [DEVICE [ROUNDS]]
 *
 * Each round: bad ioctl numbers and argument pointers, bad CIOCGSESSION
 * requests, bad CIOCCRYPT requests, bad CIOCFSESSION requests, the session
 * limit, closing the file with operations in flight, then a NIST vector.
 * MemAvailable is printed before and after all rounds so a caller can
 * look for leaks.  Exit status 0 only if every case got its errno.
 *
 * The errno model (the guest driver implements exactly this):
 *
 *   what                                             errno
 *   -----------------------------------------------  ------
 *   unknown ioctl number                             EINVAL
 *   ioctl argument pointer NULL or unmapped          EFAULT
 *   CIOCGSESSION cipher == 0 and mac == 0            EINVAL
 *   CIOCGSESSION unknown/unsupported cipher or mac   EINVAL
 *   CIOCGSESSION AES key length not 16/24/32         EINVAL
 *   (XTS: not 32/48/64; CRYPTO_NULL: not 0)
 *   CIOCGSESSION key length huge (1 << 30)           EINVAL
 *   CIOCGSESSION key or mackey pointer bad           EFAULT
 *   CIOCGSESSION mackeylen > CRYPTO_HMAC_MAX_KEY_LEN EINVAL
 *   CIOCCRYPT unknown session id (0, 0xdeadbeef)     EINVAL
 *   CIOCCRYPT session of another open file           EINVAL
 *   CIOCCRYPT session already freed                  EINVAL
 *   CIOCCRYPT cipher len not a multiple of 16, or 0  EINVAL
 *   CIOCCRYPT len > max_data_len, len = 0xffffffff   EINVAL
 *   CIOCCRYPT op not COP_ENCRYPT/COP_DECRYPT         EINVAL
 *   CIOCCRYPT src/dst/iv/mac pointer bad             EFAULT
 *   CIOCCRYPT dst in a read-only mapping             EFAULT
 *   CIOCGSESSINFO unknown session id                 EINVAL
 *   CIOCFSESSION unknown id, or freed twice          ENOENT
 *   CIOCGSESSION beyond max_sessions                 ENOSPC
 *   any ioctl on a closed fd                         EBADF
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

#define BAD_PTR		((void *)1)
/* Kernel half of the x86-64 address space: never a user address. */
#define KERNEL_PTR	((void *)(uintptr_t)0xffff888000000000ull)
#define SES_DEADBEEF	0xdeadbeefu
#define INFLIGHT_THREADS 4
#define INFLIGHT_MAX_SEC 20.0

/* A buffer that ends right at a PROT_NONE page, so overruns fault. */
struct gbuf {
	uint8_t *p;
	void *base;
	size_t maplen;
};

enum ptr_kind { P_GOOD, P_NULL, P_BAD, P_KERNEL, P_RDONLY };
enum ses_kind { S_CIPHER, S_MAC, S_ZERO, S_DEADBEEF, S_FOREIGN, S_FREED };

/* Special lengths, resolved at run time. */
#define LEN_ABOVE_MAX	0xfffffffeu	/* max_data_len + 16 */

struct hctx {
	const char *dev;
	uint32_t max_len;
	unsigned long max_sessions;	/* 0: unknown */
	int fd, fd2;			/* two opens of the device */
	uint32_t ses_cipher, ses_mac;	/* on fd */
	uint32_t ses_foreign;		/* on fd2 */
	uint32_t ses_freed;		/* was on fd */
	struct gbuf key, src, dst, iv, mac;
	uint8_t *rdonly;		/* PROT_READ mapping */
	size_t rdonly_len;
	struct tally t;
};

/* ---- the tables ------------------------------------------------------ */

struct arg_case {
	const char *name;
	int expect;
	unsigned long cmd;
	void *arg;			/* NULL or a bad pointer */
};

static const struct arg_case arg_cases[] = {
	{ "CIOCGSESSION arg NULL", EFAULT, CIOCGSESSION, NULL },
	{ "CIOCGSESSION arg (void *)1", EFAULT, CIOCGSESSION, BAD_PTR },
	{ "CIOCGSESSION arg kernel address", EFAULT, CIOCGSESSION, KERNEL_PTR },
	{ "CIOCFSESSION arg NULL", EFAULT, CIOCFSESSION, NULL },
	{ "CIOCFSESSION arg (void *)1", EFAULT, CIOCFSESSION, BAD_PTR },
	{ "CIOCCRYPT arg NULL", EFAULT, CIOCCRYPT, NULL },
	{ "CIOCCRYPT arg (void *)1", EFAULT, CIOCCRYPT, BAD_PTR },
	{ "CIOCCRYPT arg kernel address", EFAULT, CIOCCRYPT, KERNEL_PTR },
	{ "CIOCGSESSINFO arg NULL", EFAULT, CIOCGSESSINFO, NULL },
	{ "CIOCGSESSINFO arg (void *)1", EFAULT, CIOCGSESSINFO, BAD_PTR },
};

/* Unknown ioctl numbers get a valid, zeroed argument. */
struct cmd_case {
	const char *name;
	unsigned long cmd;
};

static const struct cmd_case unknown_cmds[] = {
	{ "ioctl _IOWR('c', 200, struct crypt_op)",
	  _IOWR('c', 200, struct crypt_op) },
	{ "ioctl _IOWR('c', 104, u64) (CIOCCRYPT number, wrong size)",
	  _IOWR('c', 104, __u64) },
	{ "ioctl _IO('z', 1)", _IO('z', 1) },
	{ "ioctl CIOCKEY (public key: not supported)", CIOCKEY },
};

struct session_case {
	const char *name;
	int expect;
	uint32_t cipher;
	uint32_t keylen;
	enum ptr_kind key;
	uint32_t mac;
	uint32_t mackeylen;
	enum ptr_kind mackey;
};

static const struct session_case session_cases[] = {
	{ "CIOCGSESSION cipher 0 and mac 0", EINVAL,
	  0, 16, P_GOOD, 0, 0, P_NULL },
	{ "CIOCGSESSION cipher CRYPTO_DES_CBC", EINVAL,
	  CRYPTO_DES_CBC, 8, P_GOOD, 0, 0, P_NULL },
	{ "CIOCGSESSION cipher 999", EINVAL,
	  999, 16, P_GOOD, 0, 0, P_NULL },
	{ "CIOCGSESSION cipher CRYPTO_3DES_CBC (not supported)", EINVAL,
	  CRYPTO_3DES_CBC, 24, P_GOOD, 0, 0, P_NULL },
	{ "CIOCGSESSION AES-XTS keylen 16 (one key, XTS needs two)", EINVAL,
	  CRYPTO_AES_XTS, 16, P_GOOD, 0, 0, P_NULL },
	{ "CIOCGSESSION CRYPTO_NULL with a key", EINVAL,
	  CRYPTO_NULL, 16, P_GOOD, 0, 0, P_NULL },
	{ "CIOCGSESSION mac 999", EINVAL,
	  0, 0, P_NULL, 999, 32, P_GOOD },
	{ "CIOCGSESSION mac CRYPTO_RIPEMD160_HMAC", EINVAL,
	  0, 0, P_NULL, CRYPTO_RIPEMD160_HMAC, 32, P_GOOD },
	{ "CIOCGSESSION AES + mac 999", EINVAL,
	  CRYPTO_AES_CBC, 16, P_GOOD, 999, 32, P_GOOD },
	{ "CIOCGSESSION AES keylen 0", EINVAL,
	  CRYPTO_AES_CBC, 0, P_GOOD, 0, 0, P_NULL },
	{ "CIOCGSESSION AES keylen 15", EINVAL,
	  CRYPTO_AES_CBC, 15, P_GOOD, 0, 0, P_NULL },
	{ "CIOCGSESSION AES keylen 17", EINVAL,
	  CRYPTO_AES_CBC, 17, P_GOOD, 0, 0, P_NULL },
	{ "CIOCGSESSION AES keylen 33", EINVAL,
	  CRYPTO_AES_CBC, 33, P_GOOD, 0, 0, P_NULL },
	{ "CIOCGSESSION AES keylen 1<<30", EINVAL,
	  CRYPTO_AES_CBC, 1u << 30, P_GOOD, 0, 0, P_NULL },
	{ "CIOCGSESSION AES keylen 0xffffffff", EINVAL,
	  CRYPTO_AES_CBC, 0xffffffffu, P_GOOD, 0, 0, P_NULL },
	{ "CIOCGSESSION AES key NULL", EFAULT,
	  CRYPTO_AES_CBC, 16, P_NULL, 0, 0, P_NULL },
	{ "CIOCGSESSION AES key (void *)1", EFAULT,
	  CRYPTO_AES_CBC, 16, P_BAD, 0, 0, P_NULL },
	{ "CIOCGSESSION AES key kernel address", EFAULT,
	  CRYPTO_AES_CBC, 32, P_KERNEL, 0, 0, P_NULL },
	{ "CIOCGSESSION HMAC mackeylen 513", EINVAL,
	  0, 0, P_NULL, CRYPTO_SHA2_256_HMAC, CRYPTO_HMAC_MAX_KEY_LEN + 1, P_GOOD },
	{ "CIOCGSESSION HMAC mackeylen 1<<30", EINVAL,
	  0, 0, P_NULL, CRYPTO_SHA2_256_HMAC, 1u << 30, P_GOOD },
	{ "CIOCGSESSION HMAC mackey (void *)1", EFAULT,
	  0, 0, P_NULL, CRYPTO_SHA2_256_HMAC, 32, P_BAD },
	{ "CIOCGSESSION HMAC-SHA1 mackey kernel address", EFAULT,
	  0, 0, P_NULL, CRYPTO_SHA1_HMAC, 20, P_KERNEL },
	{ "CIOCGSESSION AES + HMAC mackey (void *)1", EFAULT,
	  CRYPTO_AES_CBC, 16, P_GOOD, CRYPTO_SHA2_256_HMAC, 32, P_BAD },
};

struct crypt_case {
	const char *name;
	int expect;
	enum ses_kind ses;
	uint16_t op;
	uint32_t len;			/* or LEN_ABOVE_MAX */
	enum ptr_kind src, dst, iv, mac;
};

static const struct crypt_case crypt_cases[] = {
	{ "CIOCCRYPT session id 0", EINVAL,
	  S_ZERO, COP_ENCRYPT, 64, P_GOOD, P_GOOD, P_GOOD, P_NULL },
	{ "CIOCCRYPT session id 0xdeadbeef", EINVAL,
	  S_DEADBEEF, COP_ENCRYPT, 64, P_GOOD, P_GOOD, P_GOOD, P_NULL },
	{ "CIOCCRYPT session of another open file", EINVAL,
	  S_FOREIGN, COP_ENCRYPT, 64, P_GOOD, P_GOOD, P_GOOD, P_NULL },
	{ "CIOCCRYPT session after CIOCFSESSION", EINVAL,
	  S_FREED, COP_ENCRYPT, 64, P_GOOD, P_GOOD, P_GOOD, P_NULL },
	{ "CIOCCRYPT len 1", EINVAL,
	  S_CIPHER, COP_ENCRYPT, 1, P_GOOD, P_GOOD, P_GOOD, P_NULL },
	{ "CIOCCRYPT len 15", EINVAL,
	  S_CIPHER, COP_ENCRYPT, 15, P_GOOD, P_GOOD, P_GOOD, P_NULL },
	{ "CIOCCRYPT len 17", EINVAL,
	  S_CIPHER, COP_DECRYPT, 17, P_GOOD, P_GOOD, P_GOOD, P_NULL },
	{ "CIOCCRYPT len 0 on a cipher session", EINVAL,
	  S_CIPHER, COP_ENCRYPT, 0, P_GOOD, P_GOOD, P_GOOD, P_NULL },
	{ "CIOCCRYPT len max_data_len + 16", EINVAL,
	  S_CIPHER, COP_ENCRYPT, LEN_ABOVE_MAX, P_GOOD, P_GOOD, P_GOOD, P_NULL },
	{ "CIOCCRYPT len 0xffffffff", EINVAL,
	  S_CIPHER, COP_ENCRYPT, 0xffffffffu, P_GOOD, P_GOOD, P_GOOD, P_NULL },
	{ "CIOCCRYPT len 0xfffffff0 (block multiple)", EINVAL,
	  S_CIPHER, COP_ENCRYPT, 0xfffffff0u, P_GOOD, P_GOOD, P_GOOD, P_NULL },
	{ "CIOCCRYPT HMAC len max_data_len + 16", EINVAL,
	  S_MAC, COP_ENCRYPT, LEN_ABOVE_MAX, P_GOOD, P_NULL, P_NULL, P_GOOD },
	{ "CIOCCRYPT op 2", EINVAL,
	  S_CIPHER, 2, 64, P_GOOD, P_GOOD, P_GOOD, P_NULL },
	{ "CIOCCRYPT op 0xffff", EINVAL,
	  S_CIPHER, 0xffff, 64, P_GOOD, P_GOOD, P_GOOD, P_NULL },
	{ "CIOCCRYPT src NULL", EFAULT,
	  S_CIPHER, COP_ENCRYPT, 64, P_NULL, P_GOOD, P_GOOD, P_NULL },
	{ "CIOCCRYPT src (void *)1", EFAULT,
	  S_CIPHER, COP_ENCRYPT, 64, P_BAD, P_GOOD, P_GOOD, P_NULL },
	{ "CIOCCRYPT src kernel address", EFAULT,
	  S_CIPHER, COP_DECRYPT, 64, P_KERNEL, P_GOOD, P_GOOD, P_NULL },
	{ "CIOCCRYPT dst (void *)1", EFAULT,
	  S_CIPHER, COP_ENCRYPT, 64, P_GOOD, P_BAD, P_GOOD, P_NULL },
	{ "CIOCCRYPT dst kernel address", EFAULT,
	  S_CIPHER, COP_ENCRYPT, 64, P_GOOD, P_KERNEL, P_GOOD, P_NULL },
	{ "CIOCCRYPT dst in a read-only mapping", EFAULT,
	  S_CIPHER, COP_ENCRYPT, 64, P_GOOD, P_RDONLY, P_GOOD, P_NULL },
	{ "CIOCCRYPT iv (void *)1", EFAULT,
	  S_CIPHER, COP_ENCRYPT, 64, P_GOOD, P_GOOD, P_BAD, P_NULL },
	{ "CIOCCRYPT iv kernel address", EFAULT,
	  S_CIPHER, COP_DECRYPT, 64, P_GOOD, P_GOOD, P_KERNEL, P_NULL },
	{ "CIOCCRYPT HMAC src (void *)1", EFAULT,
	  S_MAC, COP_ENCRYPT, 64, P_BAD, P_NULL, P_NULL, P_GOOD },
	{ "CIOCCRYPT HMAC mac (void *)1", EFAULT,
	  S_MAC, COP_ENCRYPT, 64, P_GOOD, P_NULL, P_NULL, P_BAD },
	{ "CIOCCRYPT HMAC mac in a read-only mapping", EFAULT,
	  S_MAC, COP_ENCRYPT, 64, P_GOOD, P_NULL, P_NULL, P_RDONLY },
};

/* ---- helpers --------------------------------------------------------- */

static bool expect(struct hctx *h, const char *name, int got, int want)
{
	return check(&h->t, got == want, "%s: got %s, expected %s", name,
		     errno_name(got), errno_name(want));
}

static int gbuf_alloc(struct gbuf *g, size_t len)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	size_t data = (len + page - 1) / page * page;

	g->maplen = data + page;
	g->base = mmap(NULL, g->maplen, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (g->base == MAP_FAILED) {
		g->base = NULL;
		return -errno;
	}
	if (mprotect((uint8_t *)g->base + data, page, PROT_NONE)) {
		munmap(g->base, g->maplen);
		g->base = NULL;
		return -errno;
	}
	g->p = (uint8_t *)g->base + data - len;
	memset(g->p, 0x42, len);
	return 0;
}

static void gbuf_free(struct gbuf *g)
{
	if (g->base)
		munmap(g->base, g->maplen);
	g->base = NULL;
}

static void *pick(const struct hctx *h, enum ptr_kind k, const struct gbuf *g)
{
	switch (k) {
	case P_GOOD:	return g->p;
	case P_NULL:	return NULL;
	case P_BAD:	return BAD_PTR;
	case P_KERNEL:	return KERNEL_PTR;
	case P_RDONLY:	return h->rdonly;
	}
	return NULL;
}

/* A session that should not exist was created: free it, keep going. */
static void drop_unexpected(int fd, uint32_t ses)
{
	int ret = ses_free(fd, ses);

	if (ret)
		printf("     (could not free the unexpected session: %s)\n",
		       errno_name(-ret));
}

/* ---- setup and teardown of one round --------------------------------- */

static int round_setup(struct hctx *h)
{
	uint8_t key[32];
	int ret;

	memset(key, 0x11, sizeof(key));
	h->fd = dev_open(h->dev);
	if (!check(&h->t, h->fd >= 0, "open %s (%s)", h->dev,
		   errno_name(h->fd < 0 ? -h->fd : 0)))
		return -1;
	h->fd2 = dev_open(h->dev);
	if (!check(&h->t, h->fd2 >= 0, "open %s a second time (%s)", h->dev,
		   errno_name(h->fd2 < 0 ? -h->fd2 : 0)))
		goto close_fd;

	ret = ses_new(h->fd, CRYPTO_AES_CBC, key, 16, 0, NULL, 0,
		      &h->ses_cipher);
	if (!check(&h->t, !ret, "setup: AES session (%s)", errno_name(-ret)))
		goto close_fd2;
	ret = ses_new(h->fd, 0, NULL, 0, CRYPTO_SHA2_256_HMAC, key, 32,
		      &h->ses_mac);
	if (!check(&h->t, !ret, "setup: HMAC session (%s)", errno_name(-ret)))
		goto free_cipher;
	ret = ses_new(h->fd2, CRYPTO_AES_CBC, key, 16, 0, NULL, 0,
		      &h->ses_foreign);
	if (!check(&h->t, !ret, "setup: AES session on the second file (%s)",
		   errno_name(-ret)))
		goto free_mac;
	ret = ses_new(h->fd, CRYPTO_AES_CBC, key, 32, 0, NULL, 0, &h->ses_freed);
	if (!ret)
		ret = ses_free(h->fd, h->ses_freed);
	if (!check(&h->t, !ret, "setup: a session created and freed (%s)",
		   errno_name(-ret)))
		goto free_foreign;
	return 0;

free_foreign:
	ses_free(h->fd2, h->ses_foreign);
free_mac:
	ses_free(h->fd, h->ses_mac);
free_cipher:
	ses_free(h->fd, h->ses_cipher);
close_fd2:
	close(h->fd2);
close_fd:
	close(h->fd);
	return -1;
}

static void round_teardown(struct hctx *h)
{
	int ret;

	ret = ses_free(h->fd2, h->ses_foreign);
	check(&h->t, !ret, "teardown: free the foreign session (%s)",
	      errno_name(-ret));
	ret = ses_free(h->fd, h->ses_mac);
	check(&h->t, !ret, "teardown: free the HMAC session (%s)",
	      errno_name(-ret));
	/* ses_cipher is left for close() to destroy. */
	check(&h->t, close(h->fd2) == 0, "teardown: close second file");
	check(&h->t, close(h->fd) == 0, "teardown: close first file");
}

/* ---- the cases ------------------------------------------------------- */

static void run_arg_cases(struct hctx *h)
{
	union {
		struct session_op s;
		struct crypt_op c;
		struct session_info_op i;
	} zero;
	size_t i;
	int ret;

	for (i = 0; i < sizeof(unknown_cmds) / sizeof(unknown_cmds[0]); i++) {
		memset(&zero, 0, sizeof(zero));
		ret = ioctl(h->fd, unknown_cmds[i].cmd, &zero) < 0 ? errno : 0;
		expect(h, unknown_cmds[i].name, ret, EINVAL);
	}
	for (i = 0; i < sizeof(arg_cases) / sizeof(arg_cases[0]); i++) {
		const struct arg_case *c = &arg_cases[i];

		ret = ioctl(h->fd, c->cmd, c->arg) < 0 ? errno : 0;
		expect(h, c->name, ret, c->expect);
	}
}

static void run_session_cases(struct hctx *h)
{
	size_t i;
	int ret;

	for (i = 0; i < sizeof(session_cases) / sizeof(session_cases[0]); i++) {
		const struct session_case *c = &session_cases[i];
		struct session_op sop;

		memset(&sop, 0, sizeof(sop));
		sop.cipher = c->cipher;
		sop.keylen = c->keylen;
		sop.key = pick(h, c->key, &h->key);
		sop.mac = c->mac;
		sop.mackeylen = c->mackeylen;
		sop.mackey = pick(h, c->mackey, &h->key);
		ret = ioctl(h->fd, CIOCGSESSION, &sop) < 0 ? errno : 0;
		expect(h, c->name, ret, c->expect);
		if (!ret)
			drop_unexpected(h->fd, sop.ses);
	}
}

static uint32_t pick_ses(const struct hctx *h, enum ses_kind k)
{
	switch (k) {
	case S_CIPHER:		return h->ses_cipher;
	case S_MAC:		return h->ses_mac;
	case S_ZERO:		return 0;
	case S_DEADBEEF:	return SES_DEADBEEF;
	case S_FOREIGN:		return h->ses_foreign;
	case S_FREED:		return h->ses_freed;
	}
	return 0;
}

static void run_crypt_cases(struct hctx *h)
{
	size_t i;
	int ret;

	for (i = 0; i < sizeof(crypt_cases) / sizeof(crypt_cases[0]); i++) {
		const struct crypt_case *c = &crypt_cases[i];
		uint32_t ses = pick_ses(h, c->ses);
		struct crypt_op cop;

		/* An id we hold ourselves would make "unknown id" meaningless. */
		if ((c->ses == S_ZERO || c->ses == S_DEADBEEF ||
		     c->ses == S_FREED) &&
		    (ses == h->ses_cipher || ses == h->ses_mac)) {
			skip(&h->t, "%s: that id is a live session here",
			     c->name);
			continue;
		}
		memset(&cop, 0, sizeof(cop));
		cop.ses = ses;
		cop.op = c->op;
		cop.len = c->len == LEN_ABOVE_MAX ? h->max_len + 16 : c->len;
		cop.src = pick(h, c->src, &h->src);
		cop.dst = pick(h, c->dst, &h->dst);
		cop.iv = pick(h, c->iv, &h->iv);
		cop.mac = pick(h, c->mac, &h->mac);
		ret = ioctl(h->fd, CIOCCRYPT, &cop) < 0 ? errno : 0;
		expect(h, c->name, ret, c->expect);
	}
}

static void run_free_cases(struct hctx *h)
{
	struct session_info_op info;
	uint8_t key[16] = { 0 };
	uint32_t ses;
	int ret;

	ret = ses_free(h->fd, SES_DEADBEEF);
	expect(h, "CIOCFSESSION id 0xdeadbeef", -ret, ENOENT);
	ret = ses_free(h->fd, h->ses_foreign);
	expect(h, "CIOCFSESSION session of another open file", -ret, ENOENT);

	ret = ses_new(h->fd, CRYPTO_AES_CBC, key, sizeof(key), 0, NULL, 0, &ses);
	if (check(&h->t, !ret, "double free: create (%s)", errno_name(-ret))) {
		ret = ses_free(h->fd, ses);
		expect(h, "double free: first CIOCFSESSION", -ret, 0);
		ret = ses_free(h->fd, ses);
		expect(h, "double free: second CIOCFSESSION", -ret, ENOENT);
		ret = cd_crypt(h->fd, ses, COP_ENCRYPT, 0, h->src.p, h->dst.p,
			       64, h->iv.p, NULL);
		expect(h, "CIOCCRYPT after double free", -ret, EINVAL);
	}
	ret = ses_info(h->fd, SES_DEADBEEF, &info);
	expect(h, "CIOCGSESSINFO id 0xdeadbeef", -ret, EINVAL);
	ret = ses_info(h->fd, h->ses_freed, &info);
	expect(h, "CIOCGSESSINFO freed session", -ret, EINVAL);
	/* The foreign session still works on its own file. */
	ret = cd_crypt(h->fd2, h->ses_foreign, COP_ENCRYPT, 0, h->src.p,
		       h->dst.p, 64, h->iv.p, NULL);
	expect(h, "CIOCCRYPT foreign session on its own file", -ret, 0);
}

/* Create AES sessions on @fd until one fails; returns how many worked. */
static unsigned long fill_sessions(int fd, uint32_t *ids, unsigned long cap,
				   int *err)
{
	uint8_t key[16];
	unsigned long n;
	int ret = 0;

	for (n = 0; n < cap; n++) {
		memset(key, (int)(n & 0xff), sizeof(key));
		ret = ses_new(fd, CRYPTO_AES_CBC, key, sizeof(key), 0, NULL, 0,
			      &ids[n]);
		if (ret)
			break;
	}
	*err = -ret;
	return n;
}

static void run_session_limit(struct hctx *h)
{
	unsigned long cap = h->max_sessions ? h->max_sessions + 64 : 65536;
	unsigned long n, n2;
	uint32_t *ids, extra;
	int fd, err, ret;

	ids = calloc(cap, sizeof(*ids));
	if (!check(&h->t, ids != NULL, "session limit: allocate id array"))
		return;
	fd = dev_open(h->dev);
	if (!check(&h->t, fd >= 0, "session limit: open"))
		goto out;

	n = fill_sessions(fd, ids, cap, &err);
	printf("     session limit: %lu sessions created on one file, then %s "
	       "(max_sessions %lu%s)\n", n, errno_name(err), h->max_sessions,
	       h->max_sessions ? "" : ", unknown");
	expect(h, "CIOCGSESSION beyond the session limit", err, ENOSPC);
	check(&h->t, n > 0, "session limit: at least one session fits");
	if (h->max_sessions)
		check(&h->t, n <= h->max_sessions,
		      "session limit: %lu created <= max_sessions %lu", n,
		      h->max_sessions);
	if (n > 0 && err == ENOSPC) {
		ret = ses_free(fd, ids[n - 1]);
		expect(h, "session limit: free one", -ret, 0);
		ret = ses_new(fd, CRYPTO_AES_CBC, ids, 16, 0, NULL, 0, &extra);
		expect(h, "session limit: one more fits after a free", -ret, 0);
		ret = ses_new(fd, CRYPTO_AES_CBC, ids, 16, 0, NULL, 0, &extra);
		expect(h, "session limit: and then no more", -ret, ENOSPC);
		if (!ret)
			drop_unexpected(fd, extra);
	}
	check(&h->t, close(fd) == 0, "session limit: close frees them all");

	fd = dev_open(h->dev);
	if (!check(&h->t, fd >= 0, "session limit: reopen"))
		goto out;
	n2 = fill_sessions(fd, ids, cap, &err);
	check(&h->t, n2 >= n,
	      "session limit: after close, %lu sessions fit again (before %lu)",
	      n2, n);
	check(&h->t, close(fd) == 0, "session limit: close again");
out:
	free(ids);
}

/* ---- closing the file with operations in flight ---------------------- */

struct inflight {
	int fd;
	uint32_t ses;
	uint32_t len;
	double deadline;
	pthread_t tid;
	/* results */
	unsigned long ok_ops;
	int last_err;			/* errno that ended the loop */
	unsigned long odd_errs;		/* errors other than EBADF */
	bool started;
	bool alloc_failed;
};

static void *inflight_main(void *p)
{
	struct inflight *f = p;
	uint8_t *buf, iv[16];
	int ret;

	buf = malloc(f->len);
	if (!buf) {
		f->alloc_failed = true;
		__atomic_store_n(&f->started, true, __ATOMIC_RELEASE);
		return NULL;
	}
	memset(buf, 0x77, f->len);
	for (;;) {
		memset(iv, 0, sizeof(iv));
		ret = cd_crypt(f->fd, f->ses, COP_ENCRYPT, 0, buf, buf, f->len,
			       iv, NULL);
		__atomic_store_n(&f->started, true, __ATOMIC_RELEASE);
		if (!ret) {
			f->ok_ops++;
		} else {
			f->last_err = -ret;
			if (ret != -EBADF)
				f->odd_errs++;
			break;
		}
		if (now_sec() > f->deadline) {
			f->last_err = ETIMEDOUT;
			break;
		}
	}
	free(buf);
	return NULL;
}

static void run_close_inflight(struct hctx *h)
{
	struct inflight f[INFLIGHT_THREADS];
	uint8_t key[32];
	uint32_t ses;
	int fd, ret, i, started = 0;
	unsigned long ops = 0;
	double t0;

	memset(key, 0x5c, sizeof(key));
	fd = dev_open(h->dev);
	if (!check(&h->t, fd >= 0, "close in flight: open"))
		return;
	ret = ses_new(fd, CRYPTO_AES_CBC, key, sizeof(key), 0, NULL, 0, &ses);
	if (!check(&h->t, !ret, "close in flight: session (%s)",
		   errno_name(-ret))) {
		close(fd);
		return;
	}

	t0 = now_sec();
	memset(f, 0, sizeof(f));
	for (i = 0; i < INFLIGHT_THREADS; i++) {
		f[i].fd = fd;
		f[i].ses = ses;
		f[i].len = h->max_len < 65536 ? h->max_len : 65536;
		f[i].deadline = t0 + INFLIGHT_MAX_SEC;
		ret = pthread_create(&f[i].tid, NULL, inflight_main, &f[i]);
		if (!check(&h->t, !ret, "close in flight: start thread %d", i))
			break;
		started++;
	}
	/* Wait until every thread has gone round at least once. */
	for (i = 0; i < started; i++)
		while (!__atomic_load_n(&f[i].started, __ATOMIC_ACQUIRE) &&
		       now_sec() < t0 + 5.0)
			usleep(1000);
	usleep(20000);

	/*
	 * Nothing in this process may open a file until the threads are
	 * joined: the fd number would be reused under them.
	 */
	check(&h->t, close(fd) == 0, "close in flight: close(fd) returns 0");
	for (i = 0; i < started; i++) {
		pthread_join(f[i].tid, NULL);
		ops += f[i].ok_ops;
		check(&h->t, !f[i].alloc_failed && f[i].odd_errs == 0 &&
		      f[i].last_err == EBADF,
		      "close in flight: thread %d did %lu ops, then %s "
		      "(expected EBADF)", i, f[i].ok_ops,
		      errno_name(f[i].last_err));
	}
	printf("     close in flight: %lu operations of %u bytes completed\n",
	       ops, f[0].len);
	ret = cd_crypt(fd, ses, COP_ENCRYPT, 0, h->src.p, h->dst.p, 64,
		       h->iv.p, NULL);
	expect(h, "CIOCCRYPT on the closed fd", -ret, EBADF);
}

/* ---- one round, and main --------------------------------------------- */

static void run_round(struct hctx *h, int round)
{
	int ret;

	printf("     --- round %d ---\n", round);
	if (round_setup(h))
		return;
	run_arg_cases(h);
	run_session_cases(h);
	run_crypt_cases(h);
	run_free_cases(h);
	round_teardown(h);
	run_session_limit(h);
	run_close_inflight(h);

	h->fd = dev_open(h->dev);
	if (check(&h->t, h->fd >= 0, "after the round: open")) {
		ret = nist_cbc256_selftest(h->fd);
		check(&h->t, !ret,
		      "after the round: NIST SP 800-38A F.2.5/F.2.6 passes (%s)",
		      ret == -EBADMSG ? "wrong answer" : errno_name(-ret));
		close(h->fd);
	}
}

static int buffers_setup(struct hctx *h)
{
	size_t page = (size_t)sysconf(_SC_PAGESIZE);
	int ret;

	ret = gbuf_alloc(&h->key, CRYPTO_CIPHER_MAX_KEY_LEN);
	if (!ret)
		ret = gbuf_alloc(&h->src, (size_t)h->max_len + 16);
	if (!ret)
		ret = gbuf_alloc(&h->dst, (size_t)h->max_len + 16);
	if (!ret)
		ret = gbuf_alloc(&h->iv, AES_BLOCK_LEN);
	if (!ret)
		ret = gbuf_alloc(&h->mac, HASH_MAX_LEN);
	if (ret)
		return ret;
	h->rdonly_len = 16 * page;
	h->rdonly = mmap(NULL, h->rdonly_len, PROT_READ,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (h->rdonly == MAP_FAILED) {
		h->rdonly = NULL;
		return -errno;
	}
	return 0;
}

static void buffers_free(struct hctx *h)
{
	if (h->rdonly)
		munmap(h->rdonly, h->rdonly_len);
	gbuf_free(&h->mac);
	gbuf_free(&h->iv);
	gbuf_free(&h->dst);
	gbuf_free(&h->src);
	gbuf_free(&h->key);
}

int main(int argc, char **argv)
{
	struct hctx h = { 0 };
	long rounds = 1, before, after;
	char *end;
	int r;

	h.dev = dev_path(argc, argv);
	if (argc > 2) {
		rounds = strtol(argv[2], &end, 0);
		if (*end || rounds < 1 || rounds > 1000000) {
			fprintf(stderr, "usage: %s [DEVICE [ROUNDS]]\n", argv[0]);
			return 2;
		}
	}
	h.max_len = dev_max_len(h.dev);
	h.max_sessions = sysfs_limit(h.dev, "max_sessions", 0);
	printf("     %s: max_data_len %u, max_sessions %lu, %ld round(s)\n",
	       h.dev, h.max_len, h.max_sessions, rounds);
	if (!check(&h.t, buffers_setup(&h) == 0, "allocate guarded buffers")) {
		buffers_free(&h);
		return tally_finish(&h.t, "cryptodev_hostile");
	}

	before = mem_available_kb();
	for (r = 1; r <= rounds; r++) {
		unsigned int failed = h.t.fail;

		run_round(&h, r);
		if (h.t.fail != failed && r == 1 && h.fd < 0)
			break;		/* no device at all: one round says it */
	}
	after = mem_available_kb();
	printf("     MemAvailable before %ld kB, after %ld kB, change %+ld kB "
	       "over %ld round(s)\n", before, after, after - before, rounds);

	buffers_free(&h);
	return tally_finish(&h.t, "cryptodev_hostile");
}
