// SPDX-License-Identifier: GPL-2.0
/*
 * cryptodev_bench: AES-256-CBC encrypt throughput through a cryptodev device
 * node and through AF_ALG skcipher, at several request sizes, each for a
 * fixed time on one thread (one request in flight, as a chat peer has).
 *
 *   cryptodev_bench [-t SECONDS] [-r ROUNDS] [-s SIZE,...] PROVIDER[@MAX]...
 *
 * PROVIDER is a device node (/dev/cryptodev0, /dev/crypto) or alg:NAME, an
 * AF_ALG skcipher bound to an algorithm or driver name: alg:cbc(aes) gets the
 * kernel's best (aesni), alg:virtio_crypto_aes_cbc upstream virtio-crypto.
 * @MAX skips sizes above MAX bytes for that provider. Sizes default to
 * 256,4096,65536,1048576.
 *
 * Each size is measured in ROUNDS (default 3) rounds of SECONDS (default
 * 0.5) per provider, the providers taking turns within a round, and the
 * best round is reported: whatever else the machine is doing then weighs
 * on every provider alike, and the ratios between them stay meaningful.
 *
 * Output, one line each (everything else starts with "#", "ok" or "FAIL"):
 *   bench <provider> <size> <ops_per_s> <mb_per_s>
 *   driver <provider> <driver name>          (cryptodev: CIOCGSESSINFO)
 *   irq <provider> <virtioN> <interrupts> <requests>
 * The irq line sums /proc/interrupts over the provider's virtio device
 * (virtioN-*) before and after its runs; it is printed for device nodes
 * served by virtio-cryptodev and for AF_ALG names containing virtio_crypto,
 * so the work is seen to reach the device. Every provider must produce the
 * same ciphertext for one 4 KiB buffer, checked before timing.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/if_alg.h>

#include "common.h"

#ifndef SOL_ALG
#define SOL_ALG 279
#endif

#define MAX_SIZES	16
#define MAX_ROUNDS	100
#define CHECK_LEN	4096
#define WARMUP_OPS	3
#define MB		1e6

static const uint32_t default_sizes[] = { 256, 4096, 65536, 1048576 };

struct provider {
	char spec[PATH_MAX];	/* as given, without @MAX */
	unsigned long max_len;	/* sizes above are skipped; 0: none */
	char label[96];		/* no spaces: cryptodev0, afalg:cbc(aes) */
	char irq_dev[32];	/* virtioN whose interrupts count, or "" */
	bool afalg;
	/* cryptodev */
	int fd;
	uint32_t ses;
	/* AF_ALG */
	int tfm;
	int op;
};

static const uint8_t bench_key[32] = {
	0x60, 0x3d, 0xeb, 0x10, 0x15, 0xca, 0x71, 0xbe,
	0x2b, 0x73, 0xae, 0xf0, 0x85, 0x7d, 0x77, 0x81,
	0x1f, 0x35, 0x2c, 0x07, 0x3b, 0x61, 0x08, 0xd7,
	0x2d, 0x98, 0x10, 0xa3, 0x09, 0x14, 0xdf, 0xf4,
};

/* The device name (virtioN) behind /dev/cryptodevN, from sysfs. */
static void cryptodev_irq_dev(struct provider *p)
{
	char link[PATH_MAX], target[PATH_MAX], tmp[PATH_MAX];
	ssize_t n;

	snprintf(tmp, sizeof(tmp), "%s", p->spec);
	snprintf(link, sizeof(link), "%s/%s/device", CDT_SYSFS_CLASS,
		 basename(tmp));
	n = readlink(link, target, sizeof(target) - 1);
	if (n <= 0)
		return;
	target[n] = '\0';
	snprintf(p->irq_dev, sizeof(p->irq_dev), "%s", basename(target));
}

/* The first virtio device bound to upstream's virtio_crypto driver. */
static void virtio_crypto_irq_dev(struct provider *p)
{
	DIR *d = opendir("/sys/bus/virtio/drivers/virtio_crypto");
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)))
		if (!strncmp(e->d_name, "virtio", 6) &&
		    strlen(e->d_name) < sizeof(p->irq_dev)) {
			snprintf(p->irq_dev, sizeof(p->irq_dev), "%s",
				 e->d_name);
			break;
		}
	closedir(d);
}

/* Sum of every CPU's count on /proc/interrupts lines named "<dev>-...". */
static unsigned long long irq_count(const char *dev)
{
	char line[4096], want[48];
	unsigned long long total = 0;
	FILE *f;

	if (!*dev)
		return 0;
	snprintf(want, sizeof(want), " %s-", dev);
	f = fopen("/proc/interrupts", "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		char *p = strchr(line, ':');

		if (!p || !strstr(line, want))
			continue;
		for (p++;;) {
			char *end;
			unsigned long long v = strtoull(p, &end, 10);

			if (end == p)
				break;
			total += v;
			p = end;
		}
	}
	fclose(f);
	return total;
}

static int provider_open(struct provider *p)
{
	if (!strncmp(p->spec, "alg:", 4)) {
		struct sockaddr_alg sa = { .salg_family = AF_ALG };
		const char *name = p->spec + 4;
		int force = 8 << 20;

		p->afalg = true;
		snprintf(p->label, sizeof(p->label), "afalg:%s", name);
		if (strlen(name) >= sizeof(sa.salg_name))
			return -ENAMETOOLONG;
		strcpy((char *)sa.salg_type, "skcipher");
		strcpy((char *)sa.salg_name, name);
		p->tfm = socket(AF_ALG, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
		if (p->tfm < 0)
			return -errno;
		if (bind(p->tfm, (struct sockaddr *)&sa, sizeof(sa)) ||
		    setsockopt(p->tfm, SOL_ALG, ALG_SET_KEY, bench_key,
			       sizeof(bench_key)))
			return -errno;
		p->op = accept4(p->tfm, NULL, 0, SOCK_CLOEXEC);
		if (p->op < 0)
			return -errno;
		/*
		 * A whole 1 MiB request must fit the socket's send buffer, or
		 * sendmsg waits for a reader that never comes. Root may force
		 * it past wmem_max; otherwise ask for what is allowed.
		 */
		if (setsockopt(p->op, SOL_SOCKET, SO_SNDBUFFORCE, &force,
			       sizeof(force)))
			setsockopt(p->op, SOL_SOCKET, SO_SNDBUF, &force,
				   sizeof(force));
		if (strstr(name, "virtio_crypto"))
			virtio_crypto_irq_dev(p);
		return 0;
	}
	{
		char tmp[PATH_MAX];
		struct session_info_op info;
		int err;

		snprintf(tmp, sizeof(tmp), "%s", p->spec);
		snprintf(p->label, sizeof(p->label), "%s", basename(tmp));
		p->fd = dev_open(p->spec);
		if (p->fd < 0)
			return p->fd;
		err = ses_new(p->fd, CRYPTO_AES_CBC, bench_key,
			      sizeof(bench_key), 0, NULL, 0, &p->ses);
		if (err)
			return err;
		if (!ses_info(p->fd, p->ses, &info))
			printf("driver %s %.*s\n", p->label,
			       (int)sizeof(info.cipher_info.cra_driver_name),
			       info.cipher_info.cra_driver_name);
		cryptodev_irq_dev(p);
		return 0;
	}
}

/* One AF_ALG request: send the IV and the data, read the result back. */
static int afalg_encrypt(struct provider *p, const uint8_t *src, uint8_t *dst,
			 uint32_t len, const uint8_t *iv)
{
	char cbuf[CMSG_SPACE(sizeof(uint32_t)) +
		  CMSG_SPACE(sizeof(struct af_alg_iv) + AES_BLOCK_LEN)] = { 0 };
	struct iovec iov = { .iov_base = (void *)src, .iov_len = len };
	struct msghdr msg = {
		.msg_control = cbuf, .msg_controllen = sizeof(cbuf),
		.msg_iov = &iov, .msg_iovlen = 1,
	};
	struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
	struct af_alg_iv *aiv;
	size_t done = 0;
	ssize_t n;

	c->cmsg_level = SOL_ALG;
	c->cmsg_type = ALG_SET_OP;
	c->cmsg_len = CMSG_LEN(sizeof(uint32_t));
	*(uint32_t *)CMSG_DATA(c) = ALG_OP_ENCRYPT;
	c = CMSG_NXTHDR(&msg, c);
	c->cmsg_level = SOL_ALG;
	c->cmsg_type = ALG_SET_IV;
	c->cmsg_len = CMSG_LEN(sizeof(*aiv) + AES_BLOCK_LEN);
	aiv = (struct af_alg_iv *)CMSG_DATA(c);
	aiv->ivlen = AES_BLOCK_LEN;
	memcpy(aiv->iv, iv, AES_BLOCK_LEN);

	n = sendmsg(p->op, &msg, 0);
	if (n < 0)
		return -errno;
	if ((size_t)n != len)
		return -EMSGSIZE;
	while (done < len) {
		n = read(p->op, dst + done, len - done);
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;
		done += n;
	}
	return 0;
}

static int provider_encrypt(struct provider *p, const uint8_t *src,
			    uint8_t *dst, uint32_t len)
{
	uint8_t iv[AES_BLOCK_LEN] = { 0 };

	if (p->afalg)
		return afalg_encrypt(p, src, dst, len, iv);
	return cd_crypt(p->fd, p->ses, COP_ENCRYPT, 0, src, dst, len, iv,
			NULL);
}

/*
 * Encrypt @len bytes over and over for @seconds; ops/s, or -errno. *@count
 * gets the requests made, warm-ups included.
 */
static double bench_one(struct provider *p, const uint8_t *src, uint8_t *dst,
			uint32_t len, double seconds, unsigned long *count)
{
	unsigned long ops = 0;
	double start, elapsed;
	int i, err;

	for (i = 0; i < WARMUP_OPS; i++) {
		err = provider_encrypt(p, src, dst, len);
		if (err)
			return err;
	}
	start = now_sec();
	do {
		err = provider_encrypt(p, src, dst, len);
		if (err)
			return err;
		ops++;
		elapsed = now_sec() - start;
	} while (elapsed < seconds);
	*count += ops + WARMUP_OPS;
	return ops / elapsed;
}

static int parse_sizes(const char *arg, uint32_t *sizes)
{
	char *copy = strdup(arg), *tok, *save = NULL;
	int n = 0;

	if (!copy)
		return -1;
	for (tok = strtok_r(copy, ",", &save); tok && n < MAX_SIZES;
	     tok = strtok_r(NULL, ",", &save)) {
		unsigned long v = strtoul(tok, NULL, 0);

		if (!v || v % AES_BLOCK_LEN || v > (64ul << 20)) {
			free(copy);
			return -1;
		}
		sizes[n++] = (uint32_t)v;
	}
	free(copy);
	return n;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: cryptodev_bench [-t SECONDS] [-r ROUNDS] [-s SIZE,...] "
		"PROVIDER[@MAX]...\n  PROVIDER: /dev/cryptodevN | /dev/crypto | "
		"alg:NAME (AF_ALG skcipher)\n");
	exit(2);
}

int main(int argc, char **argv)
{
	uint32_t sizes[MAX_SIZES];
	int nsizes = 4, nprov, rounds = 3, i, j, k, opt, err;
	double seconds = 0.5, *best;
	struct provider *prov;
	uint8_t *src, *dst, *want;
	unsigned long *requests;
	unsigned long long *irq_before;
	uint32_t max_size = 0;
	struct tally t = { 0 };
	struct prng r;

	memcpy(sizes, default_sizes, sizeof(default_sizes));
	while ((opt = getopt(argc, argv, "t:r:s:")) != -1) {
		switch (opt) {
		case 't':
			seconds = strtod(optarg, NULL);
			if (!(seconds > 0 && seconds < 3600))
				usage();
			break;
		case 'r':
			rounds = atoi(optarg);
			if (rounds < 1 || rounds > MAX_ROUNDS)
				usage();
			break;
		case 's':
			nsizes = parse_sizes(optarg, sizes);
			if (nsizes < 1)
				usage();
			break;
		default:
			usage();
		}
	}
	nprov = argc - optind;
	if (nprov < 1)
		usage();
	for (i = 0; i < nsizes; i++)
		if (sizes[i] > max_size)
			max_size = sizes[i];
	if (max_size < CHECK_LEN)
		max_size = CHECK_LEN;

	prov = calloc(nprov, sizeof(*prov));
	best = calloc((size_t)nprov * nsizes, sizeof(*best));
	requests = calloc(nprov, sizeof(*requests));
	irq_before = calloc(nprov, sizeof(*irq_before));
	src = malloc(max_size);
	dst = malloc(max_size);
	want = malloc(CHECK_LEN);
	if (!prov || !best || !requests || !irq_before || !src || !dst ||
	    !want) {
		fprintf(stderr, "cryptodev_bench: out of memory\n");
		return EXIT_FAILURE;
	}
	prng_seed(&r, 0x5eed);
	prng_fill(&r, src, max_size);
	printf("# cryptodev_bench: AES-256-CBC encrypt, one request in flight, "
	       "best of %d rounds of %.2f s per size\n", rounds, seconds);

	for (i = 0; i < nprov; i++) {
		struct provider *p = &prov[i];
		char *at;

		snprintf(p->spec, sizeof(p->spec), "%s", argv[optind + i]);
		at = strrchr(p->spec, '@');
		if (at) {
			*at = '\0';
			p->max_len = strtoul(at + 1, NULL, 0);
		}
		p->fd = p->tfm = p->op = -1;
		err = provider_open(p);
		if (!check(&t, !err, "open %s (%s)", p->spec, errno_name(-err)))
			continue;
		/* Same key, IV and data: every provider must agree. */
		err = provider_encrypt(p, src, dst, CHECK_LEN);
		if (!check(&t, !err, "%s: encrypt %u B (%s)", p->label,
			   CHECK_LEN, errno_name(-err)))
			continue;
		if (!i)
			memcpy(want, dst, CHECK_LEN);
		else
			check(&t, same_bytes(dst, want, CHECK_LEN),
			      "%s: same ciphertext as %s", p->label,
			      prov[0].label);
	}
	if (t.fail)
		return tally_finish(&t, "cryptodev_bench");

	for (i = 0; i < nprov; i++)
		irq_before[i] = irq_count(prov[i].irq_dev);
	for (j = 0; j < nsizes; j++) {
		for (k = 0; k < rounds; k++) {
			for (i = 0; i < nprov; i++) {
				struct provider *p = &prov[i];
				double ops;

				if (p->max_len && sizes[j] > p->max_len)
					continue;
				ops = bench_one(p, src, dst, sizes[j], seconds,
						&requests[i]);
				if (ops < 0) {
					check(&t, false, "%s: %u B (%s)",
					      p->label, sizes[j],
					      errno_name((int)-ops));
					p->max_len = sizes[j] - 1;
					continue;
				}
				if (ops > best[i * nsizes + j])
					best[i * nsizes + j] = ops;
			}
		}
		for (i = 0; i < nprov; i++) {
			double ops = best[i * nsizes + j];

			if (ops > 0)
				printf("bench %s %u %.1f %.2f\n", prov[i].label,
				       sizes[j], ops, ops * sizes[j] / MB);
			else
				printf("# skip %s %u: above its limit\n",
				       prov[i].label, sizes[j]);
		}
		fflush(stdout);
	}
	for (i = 0; i < nprov; i++)
		if (*prov[i].irq_dev)
			printf("irq %s %s %llu %lu\n", prov[i].label,
			       prov[i].irq_dev,
			       irq_count(prov[i].irq_dev) - irq_before[i],
			       requests[i]);

	for (i = 0; i < nprov; i++) {
		if (prov[i].fd >= 0) {
			ses_free(prov[i].fd, prov[i].ses);
			close(prov[i].fd);
		}
		if (prov[i].op >= 0)
			close(prov[i].op);
		if (prov[i].tfm >= 0)
			close(prov[i].tfm);
	}
	free(prov);
	free(best);
	free(requests);
	free(irq_before);
	free(src);
	free(dst);
	free(want);
	return tally_finish(&t, "cryptodev_bench");
}
