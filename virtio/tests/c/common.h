/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the /dev/cryptodevN test programs: device and sysfs
 * access, thin ioctl wrappers that return 0 or -errno, hex vectors and
 * one-line-per-check reporting.
 */
#ifndef CDTEST_COMMON_H
#define CDTEST_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <crypto/cryptodev.h>

#define CDT_DEFAULT_DEV		"/dev/cryptodev0"
#define CDT_SYSFS_CLASS		"/sys/class/virtio_cryptodev"
#define CDT_DEFAULT_MAX_LEN	65536u
#define SHA256_LEN		32
#define SHA1_LEN		20

/* Pass/fail counts of one program (or one thread); never shared. */
struct tally {
	unsigned int pass;
	unsigned int fail;
	unsigned int skip;
};

/* Print "ok   <what>" or "FAIL <what>" and count it; returns @ok. */
bool check(struct tally *t, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void skip(struct tally *t, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Print the closing "N passed, N failed" line; returns the exit status. */
int tally_finish(const struct tally *t, const char *prog);

/* Compare and, on mismatch, print a short hex prefix of both (never more). */
bool same_bytes(const uint8_t *got, const uint8_t *want, size_t len);

/* Parse a hex string into @out (at most @max bytes); returns the length. */
size_t unhex(const char *hex, uint8_t *out, size_t max);

/* argv[1] or the default device; the sysfs directory name is its basename. */
const char *dev_path(int argc, char **argv);
/* Read /sys/class/virtio_cryptodev/<dev>/<attr>; @fallback if absent. */
unsigned long sysfs_limit(const char *dev, const char *attr,
			  unsigned long fallback);
/* Largest CIOCCRYPT length the device takes, rounded down to a block. */
uint32_t dev_max_len(const char *dev);
/* MemAvailable from /proc/meminfo in kB, or -1. */
long mem_available_kb(void);
const char *errno_name(int err);

/* open(2) the device read-write with O_CLOEXEC; returns fd or -errno. */
int dev_open(const char *dev);

/* ioctl wrappers: 0 on success, -errno on failure. */
int ses_new(int fd, uint32_t cipher, const void *key, uint32_t keylen,
	    uint32_t mac, const void *mackey, uint32_t mackeylen,
	    uint32_t *ses);
int ses_free(int fd, uint32_t ses);
int ses_info(int fd, uint32_t ses, struct session_info_op *info);
int cd_crypt(int fd, uint32_t ses, uint16_t op, uint16_t flags,
	     const void *src, void *dst, uint32_t len, void *iv, void *mac);

/* NIST SP 800-38A F.2.5 (AES-256-CBC) through the device: 0 if it matches. */
int nist_cbc256_selftest(int fd);

/* Small per-thread PRNG (xorshift64*); not for keys that matter. */
struct prng {
	uint64_t s;
};

void prng_seed(struct prng *r, uint64_t seed);
uint64_t prng_next(struct prng *r);
void prng_fill(struct prng *r, void *buf, size_t len);

/* Monotonic time in seconds. */
double now_sec(void);

#endif /* CDTEST_COMMON_H */
