// SPDX-License-Identifier: GPL-2.0
/*
 * Helpers shared by the /dev/cryptodevN test programs.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "common.h"

#define HEX_PREFIX	8	/* bytes of a mismatching buffer we may show */

bool check(struct tally *t, bool ok, const char *fmt, ...)
{
	va_list ap;

	fputs(ok ? "ok   " : "FAIL ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	if (ok)
		t->pass++;
	else
		t->fail++;
	return ok;
}

void skip(struct tally *t, const char *fmt, ...)
{
	va_list ap;

	fputs("skip ", stdout);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	t->skip++;
}

int tally_finish(const struct tally *t, const char *prog)
{
	printf("%s: %u passed, %u failed, %u skipped\n",
	       prog, t->pass, t->fail, t->skip);
	fflush(stdout);
	return t->fail ? EXIT_FAILURE : EXIT_SUCCESS;
}

static void print_at(const char *label, const uint8_t *p, size_t off,
		     size_t len)
{
	size_t i, end = off + HEX_PREFIX < len ? off + HEX_PREFIX : len;

	printf("     %s [%zu..] ", label, off);
	for (i = off; i < end; i++)
		printf("%02x", p[i]);
	printf("%s\n", end < len ? "..." : "");
}

bool same_bytes(const uint8_t *got, const uint8_t *want, size_t len)
{
	size_t i;

	if (memcmp(got, want, len) == 0)
		return true;
	for (i = 0; i < len && got[i] == want[i]; i++)
		;
	printf("     first difference at byte %zu of %zu\n", i, len);
	print_at("got ", got, i, len);
	print_at("want", want, i, len);
	return false;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

size_t unhex(const char *hex, uint8_t *out, size_t max)
{
	size_t n = 0;
	int hi, lo;

	while (hex[0] && hex[1] && n < max) {
		hi = hexval(hex[0]);
		lo = hexval(hex[1]);
		if (hi < 0 || lo < 0) {
			fprintf(stderr, "bad hex vector\n");
			abort();
		}
		out[n++] = (uint8_t)(hi << 4 | lo);
		hex += 2;
	}
	if (*hex) {
		fprintf(stderr, "hex vector too long or odd\n");
		abort();
	}
	return n;
}

const char *dev_path(int argc, char **argv)
{
	return argc > 1 && argv[1][0] ? argv[1] : CDT_DEFAULT_DEV;
}

unsigned long sysfs_limit(const char *dev, const char *attr,
			  unsigned long fallback)
{
	char path[512], buf[64], *copy, *end;
	unsigned long v;
	ssize_t n;
	int fd;

	copy = strdup(dev);
	if (!copy)
		return fallback;
	snprintf(path, sizeof(path), "%s/%s/%s", CDT_SYSFS_CLASS,
		 basename(copy), attr);
	free(copy);

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return fallback;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return fallback;
	buf[n] = '\0';
	errno = 0;
	v = strtoul(buf, &end, 0);
	if (errno || end == buf || v == 0)
		return fallback;
	return v;
}

uint32_t dev_max_len(const char *dev)
{
	unsigned long v = sysfs_limit(dev, "max_data_len", CDT_DEFAULT_MAX_LEN);

	if (v > UINT32_MAX)
		v = UINT32_MAX;
	return (uint32_t)(v & ~(unsigned long)(AES_BLOCK_LEN - 1));
}

long mem_available_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f;

	f = fopen("/proc/meminfo", "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

const char *errno_name(int err)
{
	switch (err) {
	case 0:		return "0 (success)";
	case EINVAL:	return "EINVAL";
	case EFAULT:	return "EFAULT";
	case ENOENT:	return "ENOENT";
	case ENOSPC:	return "ENOSPC";
	case ENOMEM:	return "ENOMEM";
	case EBADF:	return "EBADF";
	case ENODEV:	return "ENODEV";
	case ENOTTY:	return "ENOTTY";
	case EBUSY:	return "EBUSY";
	case EIO:	return "EIO";
	case EPERM:	return "EPERM";
	case EACCES:	return "EACCES";
	case EOPNOTSUPP: return "EOPNOTSUPP";
	case EINTR:	return "EINTR";
	default:	return strerror(err);
	}
}

int dev_open(const char *dev)
{
	int fd = open(dev, O_RDWR | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int ses_new(int fd, uint32_t cipher, const void *key, uint32_t keylen,
	    uint32_t mac, const void *mackey, uint32_t mackeylen,
	    uint32_t *ses)
{
	struct session_op sop;

	memset(&sop, 0, sizeof(sop));
	sop.cipher = cipher;
	sop.key = (uint8_t *)key;
	sop.keylen = keylen;
	sop.mac = mac;
	sop.mackey = (uint8_t *)mackey;
	sop.mackeylen = mackeylen;
	if (ioctl(fd, CIOCGSESSION, &sop) < 0)
		return -errno;
	*ses = sop.ses;
	return 0;
}

int ses_free(int fd, uint32_t ses)
{
	return ioctl(fd, CIOCFSESSION, &ses) < 0 ? -errno : 0;
}

int ses_info(int fd, uint32_t ses, struct session_info_op *info)
{
	memset(info, 0, sizeof(*info));
	info->ses = ses;
	return ioctl(fd, CIOCGSESSINFO, info) < 0 ? -errno : 0;
}

int cd_crypt(int fd, uint32_t ses, uint16_t op, uint16_t flags,
	     const void *src, void *dst, uint32_t len, void *iv, void *mac)
{
	struct crypt_op cop;

	memset(&cop, 0, sizeof(cop));
	cop.ses = ses;
	cop.op = op;
	cop.flags = flags;
	cop.len = len;
	cop.src = (uint8_t *)src;
	cop.dst = dst;
	cop.iv = iv;
	cop.mac = mac;
	return ioctl(fd, CIOCCRYPT, &cop) < 0 ? -errno : 0;
}

/* NIST SP 800-38A, F.2.5 CBC-AES256.Encrypt, all four blocks. */
static const char nist256_key[] =
	"603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4";
static const char nist_iv[] = "000102030405060708090a0b0c0d0e0f";
static const char nist_pt[] =
	"6bc1bee22e409f96e93d7e117393172a" "ae2d8a571e03ac9c9eb76fac45af8e51"
	"30c81c46a35ce411e5fbc1191a0a52ef" "f69f2445df4f9b17ad2b417be66c3710";
static const char nist256_ct[] =
	"f58c4c04d6e5f1ba779eabfb5f7bfbd6" "9cfc4e967edb808d679f777bc6702c7d"
	"39f23369a9d9bacfa530e26304231461" "b2eb05e2c39be9fcda6c19078c6a9d1b";

int nist_cbc256_selftest(int fd)
{
	uint8_t key[32], iv[16], pt[64], ct[64], out[64];
	uint32_t ses = 0;
	int ret;

	unhex(nist256_key, key, sizeof(key));
	unhex(nist_pt, pt, sizeof(pt));
	unhex(nist256_ct, ct, sizeof(ct));

	ret = ses_new(fd, CRYPTO_AES_CBC, key, sizeof(key), 0, NULL, 0, &ses);
	if (ret)
		return ret;
	unhex(nist_iv, iv, sizeof(iv));
	ret = cd_crypt(fd, ses, COP_ENCRYPT, 0, pt, out, sizeof(pt), iv, NULL);
	if (!ret && memcmp(out, ct, sizeof(ct)))
		ret = -EBADMSG;
	if (!ret) {
		unhex(nist_iv, iv, sizeof(iv));
		ret = cd_crypt(fd, ses, COP_DECRYPT, 0, ct, out, sizeof(ct),
			       iv, NULL);
		if (!ret && memcmp(out, pt, sizeof(pt)))
			ret = -EBADMSG;
	}
	if (ses_free(fd, ses) && !ret)
		ret = -EIO;
	return ret;
}

void prng_seed(struct prng *r, uint64_t seed)
{
	r->s = seed ? seed : 0x9e3779b97f4a7c15ull;
}

uint64_t prng_next(struct prng *r)
{
	r->s ^= r->s >> 12;
	r->s ^= r->s << 25;
	r->s ^= r->s >> 27;
	return r->s * 0x2545f4914f6cdd1dull;
}

void prng_fill(struct prng *r, void *buf, size_t len)
{
	uint8_t *p = buf;
	uint64_t v;
	size_t n;

	while (len) {
		v = prng_next(r);
		n = len < sizeof(v) ? len : sizeof(v);
		memcpy(p, &v, n);
		p += n;
		len -= n;
	}
}

double now_sec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}
