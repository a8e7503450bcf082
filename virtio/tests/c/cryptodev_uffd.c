// SPDX-License-Identifier: GPL-2.0
/*
 * cryptodev_uffd: a request held in the middle of its ioctl. The IV sits in
 * a page registered with userfaultfd, so the driver's copy of it stalls
 * until this program supplies the page: the request has looked up its
 * session and pinned its data by then. While it is held:
 *
 *  - its pinned pages are charged to the caller (VmLck in /proc/self/status
 *    grows by the request's size), so no user pins memory outside its
 *    memlock limit;
 *  - the caller frees the request's session (CIOCFSESSION) and creates
 *    another with a different key. The held request must still run under
 *    its own session's key, and the freed session must be gone afterwards:
 *    a request never runs on a session that was freed, or on another's.
 *
 *   cryptodev_uffd [DEV]
 *
 * Needs userfaultfd for kernel-mode faults: root, or
 * vm.unprivileged_userfaultfd=1.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common.h"

#define LEN		(1024 * 1024)
#define STALL_MS	10000

struct held {
	int fd;
	uint32_t ses;
	uint8_t *buf;
	uint8_t *iv;
	int err;
};

static const uint8_t key_a[32] = { 0xa1 };
static const uint8_t key_b[32] = { 0xb2 };
static const uint8_t iv_bytes[16] = { 0x10, 0x20, 0x30, 0x40 };

static void *held_run(void *arg)
{
	struct held *h = arg;

	h->err = cd_crypt(h->fd, h->ses, COP_ENCRYPT, 0, h->buf, h->buf, LEN,
			  h->iv, NULL);
	return NULL;
}

/* Kilobytes of locked (and pinned-and-charged) memory of this process. */
static long vm_locked_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmLck: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}

/* A page whose first touch waits for this program, through @uffd. */
static uint8_t *stalling_page(int *uffd)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	long page = sysconf(_SC_PAGESIZE);
	uint8_t *p;

	*uffd = syscall(SYS_userfaultfd, O_CLOEXEC);
	if (*uffd < 0 || ioctl(*uffd, UFFDIO_API, &api))
		return NULL;
	p = mmap(NULL, page, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	reg.range.start = (unsigned long)p;
	reg.range.len = page;
	if (ioctl(*uffd, UFFDIO_REGISTER, &reg))
		return NULL;
	return p;
}

/* Whether a fault on the registered page comes within STALL_MS. */
static bool fault_seen(int uffd)
{
	struct pollfd pfd = { .fd = uffd, .events = POLLIN };
	struct uffd_msg msg;

	return poll(&pfd, 1, STALL_MS) == 1 &&
	       read(uffd, &msg, sizeof(msg)) == sizeof(msg) &&
	       msg.event == UFFD_EVENT_PAGEFAULT;
}

/* Supplies @page, the IV at its start: the held request goes on. */
static bool supply(int uffd, uint8_t *page)
{
	long size = sysconf(_SC_PAGESIZE);
	uint8_t *src = calloc(1, size);
	struct uffdio_copy copy = {
		.dst = (unsigned long)page, .len = size,
	};
	bool ok;

	if (!src)
		return false;
	memcpy(src, iv_bytes, sizeof(iv_bytes));
	copy.src = (unsigned long)src;
	ok = !ioctl(uffd, UFFDIO_COPY, &copy);
	free(src);
	return ok;
}

int main(int argc, char **argv)
{
	const char *dev = dev_path(argc, argv);
	uint8_t *want = malloc(LEN), *page, iv[sizeof(iv_bytes)];
	uint32_t ses_a, ses_b, ses_ref;
	struct held h = { 0 };
	struct tally t = { 0 };
	struct prng r;
	long before, during, after;
	pthread_t thread;
	int uffd, err;

	h.buf = malloc(LEN);
	h.fd = dev_open(dev);
	if (!check(&t, h.fd >= 0 && want && h.buf, "open %s", dev))
		return tally_finish(&t, "cryptodev_uffd");
	prng_seed(&r, 0x0ffd);
	prng_fill(&r, h.buf, LEN);
	memcpy(want, h.buf, LEN);

	/* What key A gives, from a session of its own. */
	err = ses_new(h.fd, CRYPTO_AES_CBC, key_a, sizeof(key_a), 0, NULL, 0,
		      &ses_ref);
	if (!check(&t, !err, "reference session (%s)", errno_name(-err)))
		return tally_finish(&t, "cryptodev_uffd");
	memcpy(iv, iv_bytes, sizeof(iv));
	err = cd_crypt(h.fd, ses_ref, COP_ENCRYPT, 0, want, want, LEN, iv,
		       NULL);
	check(&t, !err, "reference encryption (%s)", errno_name(-err));
	ses_free(h.fd, ses_ref);

	page = stalling_page(&uffd);
	if (!check(&t, page != NULL, "userfaultfd page (%s)",
		   errno_name(errno)))
		return tally_finish(&t, "cryptodev_uffd");
	err = ses_new(h.fd, CRYPTO_AES_CBC, key_a, sizeof(key_a), 0, NULL, 0,
		      &ses_a);
	if (!check(&t, !err, "session A (%s)", errno_name(-err)))
		return tally_finish(&t, "cryptodev_uffd");
	h.ses = ses_a;
	h.iv = page;

	before = vm_locked_kb();
	if (pthread_create(&thread, NULL, held_run, &h))
		return tally_finish(&t, "cryptodev_uffd");
	if (!check(&t, fault_seen(uffd), "the request stalls copying its IV")) {
		supply(uffd, page);
		pthread_join(thread, NULL);
		return tally_finish(&t, "cryptodev_uffd");
	}
	during = vm_locked_kb();
	check(&t, during - before >= LEN / 1024,
	      "a held 1 MiB request's pinned pages are charged to its caller (VmLck %ld kB -> %ld kB)",
	      before, during);

	err = ses_free(h.fd, ses_a);
	check(&t, !err, "CIOCFSESSION on the held request's session (%s)",
	      errno_name(-err));
	err = ses_new(h.fd, CRYPTO_AES_CBC, key_b, sizeof(key_b), 0, NULL, 0,
		      &ses_b);
	check(&t, !err, "another session with another key (%s)",
	      errno_name(-err));

	check(&t, supply(uffd, page), "the IV page supplied");
	pthread_join(thread, NULL);
	check(&t, !h.err, "the held request completes (%s)",
	      errno_name(-h.err));
	check(&t, same_bytes(h.buf, want, LEN),
	      "the held request ran under its own session's key");

	err = cd_crypt(h.fd, ses_a, COP_ENCRYPT, 0, h.buf, h.buf, 16, iv,
		       NULL);
	check(&t, err == -EINVAL, "the freed session is gone afterwards (%s)",
	      errno_name(-err));
	after = vm_locked_kb();
	check(&t, after == before, "the charge is returned (VmLck %ld kB)",
	      after);

	ses_free(h.fd, ses_b);
	close(h.fd);
	close(uffd);
	free(h.buf);
	free(want);
	return tally_finish(&t, "cryptodev_uffd");
}
