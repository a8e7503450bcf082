// SPDX-License-Identifier: GPL-2.0
/*
 * virtio-cryptodev hostile guest: a test-only driver for the virtio-cryptodev
 * device that sends it malformed descriptor chains and checks that every one
 * is answered with the right status and used length, never with a crash or a
 * hang. Load it instead of the real driver.
 *
 * The first probe runs the whole battery and ends with a chain that has no
 * device-writable buffer: the device must mark itself broken (NEEDS_RESET)
 * and answer nothing. Unbinding resets the device; a later probe checks that
 * a reset device works again, then breaks it with a writable part too short
 * for the response.
 *
 * Each case prints "hostile: ok <case>" or "hostile: FAIL <case> ...", and a
 * probe ends with "hostile: N passed, M failed".
 */

#define pr_fmt(fmt) "hostile: " fmt

#include <linux/completion.h>
#include <linux/jiffies.h>
#include <linux/list.h>
#include <linux/module.h>
#include <linux/random.h>
#include <linux/scatterlist.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>
#include <linux/virtio.h>
#include <linux/virtio_config.h>
#include <crypto/cryptodev.h>
#include <virtio_cryptodev.h>

#define HOSTILE_MAX_SEGS	8
#define HOSTILE_TIMEOUT		(10 * HZ)	/* an answer later than this is a hang */
#define HOSTILE_BROKEN_WAIT	(2 * HZ)	/* how long a broken device stays silent */
#define HOSTILE_MAX_FLIGHT	2048	/* more than any queue: the ring fills */
#define RESP_LEN		sizeof(struct virtio_cryptodev_resp)

enum { OUT = 0, IN = 1 };

struct hostile_dev {
	struct virtio_device *vdev;
	struct virtqueue *vq;
	spinlock_t lock;		/* the queue and @abandoned */
	struct list_head abandoned;	/* requests the device never answered */
	u32 max_data_len;
	u32 max_sessions;
	unsigned int passed;
	unsigned int failed;
};

/* One chain: readable segments first, then writable ones, each kmalloc'ed. */
struct hostile_req {
	struct list_head node;		/* on hostile_dev.abandoned */
	struct completion done;
	unsigned int used_len;
	bool abandoned;			/* timed out: owned by the ring */
	int err;			/* the first failure while building */
	unsigned int nout;
	unsigned int nin;
	void *buf[HOSTILE_MAX_SEGS];
	unsigned int len[HOSTILE_MAX_SEGS];
	struct scatterlist sg[HOSTILE_MAX_SEGS];
	struct scatterlist *sgs[HOSTILE_MAX_SEGS];
};

static int hostile_round;

/* NIST SP 800-38A F.2.1, CBC-AES128.Encrypt, first block. */
static const u8 nist_key[16] = {
	0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6,
	0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c,
};
static const u8 nist_iv[16] = {
	0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
};
static const u8 nist_pt[16] = {
	0x6b, 0xc1, 0xbe, 0xe2, 0x2e, 0x40, 0x9f, 0x96,
	0xe9, 0x3d, 0x7e, 0x11, 0x73, 0x93, 0x17, 0x2a,
};
static const u8 nist_ct[16] = {
	0x76, 0x49, 0xab, 0xac, 0x81, 0x19, 0xb2, 0x46,
	0xce, 0xe9, 0x8e, 0x9b, 0x12, 0xe9, 0x19, 0x7d,
};

/* RFC 4231 test case 1, HMAC-SHA-256: key 0x0b x 20, "Hi There". */
static const u8 rfc4231_mac[32] = {
	0xb0, 0x34, 0x4c, 0x61, 0xd8, 0xdb, 0x38, 0x53,
	0x5c, 0xa8, 0xaf, 0xce, 0xaf, 0x0b, 0xf1, 0x2b,
	0x88, 0x1d, 0xc2, 0x00, 0xc9, 0x83, 0x3d, 0xa7,
	0x26, 0xe9, 0x37, 0x6c, 0x2e, 0x32, 0xcf, 0xf7,
};

/* ---- requests ----------------------------------------------------------- */

static void hreq_free(struct hostile_req *r)
{
	unsigned int i;

	for (i = 0; i < r->nout + r->nin; i++)
		kfree(r->buf[i]);
	kfree(r);
}

static struct hostile_req *hreq_new(void)
{
	struct hostile_req *r = kzalloc(sizeof(*r), GFP_KERNEL);

	if (r)
		init_completion(&r->done);
	return r;
}

/* Appends a zeroed segment; readable segments must all come first. */
static void *hreq_add(struct hostile_req *r, int dir, size_t len)
{
	unsigned int n;
	void *buf;

	if (!r || r->err)
		return NULL;
	n = r->nout + r->nin;
	if (n == HOSTILE_MAX_SEGS || (dir == OUT && r->nin) || !len ||
	    len > UINT_MAX) {
		r->err = -EINVAL;
		return NULL;
	}
	buf = kzalloc(len, GFP_KERNEL | __GFP_NOWARN);
	if (!buf) {
		r->err = -ENOMEM;
		return NULL;
	}
	r->buf[n] = buf;
	r->len[n] = len;
	sg_init_one(&r->sg[n], buf, len);
	r->sgs[n] = &r->sg[n];
	if (dir == OUT)
		r->nout++;
	else
		r->nin++;
	return buf;
}

static void *hreq_add_copy(struct hostile_req *r, const void *src, size_t len)
{
	void *buf = hreq_add(r, OUT, len);

	if (buf)
		memcpy(buf, src, len);
	return buf;
}

/* Adds a segment of @len bytes when @len is not zero (zero means none). */
static void hreq_add_opt(struct hostile_req *r, int dir, size_t len)
{
	if (len)
		hreq_add(r, dir, len);
}

static size_t hreq_in_len(const struct hostile_req *r)
{
	size_t total = 0;
	unsigned int i;

	for (i = r->nout; i < r->nout + r->nin; i++)
		total += r->len[i];
	return total;
}

/* Copies out of the writable segments, as if they were one buffer. */
static size_t hreq_read_in(const struct hostile_req *r, size_t off, void *dst,
			   size_t len)
{
	size_t done = 0;
	unsigned int i;

	for (i = r->nout; i < r->nout + r->nin && done < len; i++) {
		size_t n;

		if (off >= r->len[i]) {
			off -= r->len[i];
			continue;
		}
		n = min_t(size_t, r->len[i] - off, len - done);
		memcpy((u8 *)dst + done, (u8 *)r->buf[i] + off, n);
		done += n;
		off = 0;
	}
	return done;
}

/* The response sits at the end of the writable buffers. */
static bool hreq_resp(const struct hostile_req *r,
		      struct virtio_cryptodev_resp *resp)
{
	size_t in_len = hreq_in_len(r);

	if (in_len < RESP_LEN)
		return false;
	return hreq_read_in(r, in_len - RESP_LEN, resp, RESP_LEN) == RESP_LEN;
}

/* Frees @r unless the ring still owns it. */
static void hreq_put(struct hostile_dev *hd, struct hostile_req *r)
{
	bool abandoned;

	if (!r)
		return;
	spin_lock_irq(&hd->lock);
	abandoned = r->abandoned;
	spin_unlock_irq(&hd->lock);
	if (!abandoned)
		hreq_free(r);
}

static void hostile_done(struct virtqueue *vq)
{
	struct hostile_dev *hd = vq->vdev->priv;
	struct hostile_req *r;
	unsigned long flags;
	unsigned int len;

	spin_lock_irqsave(&hd->lock, flags);
	do {
		virtqueue_disable_cb(vq);
		while ((r = virtqueue_get_buf(vq, &len))) {
			if (r->abandoned) {
				list_del(&r->node);
				hreq_free(r);
				continue;
			}
			r->used_len = len;
			complete(&r->done);
		}
	} while (!virtqueue_enable_cb(vq));
	spin_unlock_irqrestore(&hd->lock, flags);
}

/* Adds @r to the ring without kicking; -ENOSPC when the ring is full. */
static int hreq_queue(struct hostile_dev *hd, struct hostile_req *r)
{
	int err;

	if (!r)
		return -ENOMEM;
	if (r->err)
		return r->err;
	spin_lock_irq(&hd->lock);
	err = virtqueue_add_sgs(hd->vq, r->sgs, r->nout, r->nin, r, GFP_ATOMIC);
	spin_unlock_irq(&hd->lock);
	return err;
}

static void hostile_kick(struct hostile_dev *hd)
{
	spin_lock_irq(&hd->lock);
	virtqueue_kick(hd->vq);
	spin_unlock_irq(&hd->lock);
}

/*
 * Waits for the answer to a queued request. On timeout the request is left to
 * the ring (a late answer or the removal frees it) and -ETIMEDOUT returned.
 */
static int hreq_wait(struct hostile_dev *hd, struct hostile_req *r,
		     unsigned long timeout)
{
	int err = 0;

	if (wait_for_completion_timeout(&r->done, timeout))
		return 0;
	spin_lock_irq(&hd->lock);
	if (!completion_done(&r->done)) {
		r->abandoned = true;
		list_add(&r->node, &hd->abandoned);
		err = -ETIMEDOUT;
	}
	spin_unlock_irq(&hd->lock);
	return err;
}

static int hreq_run(struct hostile_dev *hd, struct hostile_req *r)
{
	int err = hreq_queue(hd, r);

	if (err)
		return err;
	hostile_kick(hd);
	return hreq_wait(hd, r, HOSTILE_TIMEOUT);
}

/* ---- verdicts ----------------------------------------------------------- */

static void hostile_ok(struct hostile_dev *hd, const char *name)
{
	hd->passed++;
	pr_info("ok %s\n", name);
}

static __printf(3, 4) void hostile_fail(struct hostile_dev *hd,
					const char *name, const char *fmt, ...)
{
	struct va_format vaf;
	va_list args;

	va_start(args, fmt);
	vaf.fmt = fmt;
	vaf.va = &args;
	hd->failed++;
	pr_info("FAIL %s %pV\n", name, &vaf);
	va_end(args);
}

/*
 * Checks an answered request: the status, the output length the response
 * names and the used length the device reported. Returns true on a match.
 */
static bool hostile_verdict(struct hostile_dev *hd, const char *name,
			    struct hostile_req *r, int err, u32 want_status,
			    u32 want_out)
{
	struct virtio_cryptodev_resp resp;
	u32 status, out_len;

	if (err) {
		hostile_fail(hd, name, "no answer (%d)", err);
		return false;
	}
	if (!hreq_resp(r, &resp)) {
		hostile_fail(hd, name, "no room for a response");
		return false;
	}
	status = le32_to_cpu(resp.status);
	out_len = le32_to_cpu(resp.out_len);
	/* The used length covers the response: the whole writable part. */
	if (status != want_status || out_len != want_out ||
	    r->used_len != hreq_in_len(r)) {
		hostile_fail(hd, name,
			     "status %u out_len %u used %u, want %u/%u/%zu",
			     status, out_len, r->used_len, want_status,
			     want_out, hreq_in_len(r));
		return false;
	}
	hostile_ok(hd, name);
	return true;
}

/* Sends @r, checks its answer and frees it. */
static bool hostile_expect(struct hostile_dev *hd, const char *name,
			   struct hostile_req *r, u32 want_status, u32 want_out)
{
	int err = hreq_run(hd, r);
	bool ok = hostile_verdict(hd, name, r, err, want_status, want_out);

	hreq_put(hd, r);
	return ok;
}

/* ---- helpers for well-formed requests ----------------------------------- */

static struct virtio_cryptodev_req hdr_create(u32 cipher, u32 mac, u32 key_len,
					      u32 mac_key_len)
{
	return (struct virtio_cryptodev_req) {
		.opcode = cpu_to_le32(VIRTIO_CRYPTODEV_OP_CREATE_SESSION),
		.cipher = cpu_to_le32(cipher),
		.mac = cpu_to_le32(mac),
		.key_len = cpu_to_le32(key_len),
		.mac_key_len = cpu_to_le32(mac_key_len),
	};
}

static struct virtio_cryptodev_req hdr_session(u32 opcode, u32 session_id)
{
	return (struct virtio_cryptodev_req) {
		.opcode = cpu_to_le32(opcode),
		.session_id = cpu_to_le32(session_id),
	};
}

static struct virtio_cryptodev_req hdr_crypt(u32 session_id, u32 op, u32 iv_len,
					     u32 data_len)
{
	return (struct virtio_cryptodev_req) {
		.opcode = cpu_to_le32(VIRTIO_CRYPTODEV_OP_CRYPT),
		.session_id = cpu_to_le32(session_id),
		.op = cpu_to_le32(op),
		.iv_len = cpu_to_le32(iv_len),
		.data_len = cpu_to_le32(data_len),
	};
}

/* Creates a session; returns the device's status or a negative errno. */
static int hostile_create(struct hostile_dev *hd, u32 cipher, u32 mac,
			  const u8 *key, u32 key_len, const u8 *mac_key,
			  u32 mac_key_len, u32 *id)
{
	struct virtio_cryptodev_req hdr = hdr_create(cipher, mac, key_len,
						     mac_key_len);
	struct virtio_cryptodev_resp resp;
	struct hostile_req *r = hreq_new();
	int ret;

	hreq_add_copy(r, &hdr, sizeof(hdr));
	if (key_len)
		hreq_add_copy(r, key, key_len);
	if (mac_key_len)
		hreq_add_copy(r, mac_key, mac_key_len);
	hreq_add(r, IN, RESP_LEN);
	ret = hreq_run(hd, r);
	if (!ret) {
		if (r->used_len != RESP_LEN || !hreq_resp(r, &resp)) {
			ret = -EIO;
		} else {
			ret = le32_to_cpu(resp.status);
			*id = le32_to_cpu(resp.session_id);
		}
	}
	hreq_put(hd, r);
	return ret;
}

static int hostile_create_aes(struct hostile_dev *hd, u32 *id)
{
	return hostile_create(hd, CRYPTO_AES_CBC, 0, nist_key, sizeof(nist_key),
			      NULL, 0, id);
}

static int hostile_destroy(struct hostile_dev *hd, u32 id)
{
	struct virtio_cryptodev_req hdr =
		hdr_session(VIRTIO_CRYPTODEV_OP_DESTROY_SESSION, id);
	struct virtio_cryptodev_resp resp;
	struct hostile_req *r = hreq_new();
	int ret;

	hreq_add_copy(r, &hdr, sizeof(hdr));
	hreq_add(r, IN, RESP_LEN);
	ret = hreq_run(hd, r);
	if (!ret)
		ret = hreq_resp(r, &resp) ? le32_to_cpu(resp.status) : -EIO;
	hreq_put(hd, r);
	return ret;
}

/* The NIST block under @id, as a request ready to queue. */
static struct hostile_req *hreq_nist(u32 id)
{
	struct virtio_cryptodev_req hdr =
		hdr_crypt(id, VIRTIO_CRYPTODEV_ENCRYPT, sizeof(nist_iv),
			  sizeof(nist_pt));
	struct hostile_req *r = hreq_new();

	hreq_add_copy(r, &hdr, sizeof(hdr));
	hreq_add_copy(r, nist_iv, sizeof(nist_iv));
	hreq_add_copy(r, nist_pt, sizeof(nist_pt));
	hreq_add(r, IN, sizeof(nist_ct));
	hreq_add(r, IN, RESP_LEN);
	return r;
}

/* Checks an answered NIST request, ciphertext included. */
static bool hostile_nist_verdict(struct hostile_dev *hd, const char *name,
				 struct hostile_req *r, int err)
{
	u8 ct[sizeof(nist_ct)];

	if (!err && r->used_len == sizeof(ct) + RESP_LEN &&
	    (hreq_read_in(r, 0, ct, sizeof(ct)) != sizeof(ct) ||
	     memcmp(ct, nist_ct, sizeof(ct)))) {
		hostile_fail(hd, name, "wrong ciphertext");
		return false;
	}
	return hostile_verdict(hd, name, r, err, VIRTIO_CRYPTODEV_S_OK,
			       sizeof(nist_ct));
}

/* A fresh session, one NIST block, the session destroyed again. */
static void case_valid(struct hostile_dev *hd, const char *name)
{
	struct hostile_req *r;
	u32 id = 0;
	int ret, err;

	ret = hostile_create_aes(hd, &id);
	if (ret != VIRTIO_CRYPTODEV_S_OK) {
		hostile_fail(hd, name, "create session: %d", ret);
		return;
	}
	r = hreq_nist(id);
	err = hreq_run(hd, r);
	hostile_nist_verdict(hd, name, r, err);
	hreq_put(hd, r);
	ret = hostile_destroy(hd, id);
	if (ret != VIRTIO_CRYPTODEV_S_OK)
		hostile_fail(hd, name, "destroy session: %d", ret);
}

/* RFC 4231 test case 1 through a MAC-only session. */
static void case_hmac_vector(struct hostile_dev *hd)
{
	static const char *name = "hmac-sha256 rfc 4231 vector";
	static const u8 msg[] = "Hi There";
	struct virtio_cryptodev_req hdr;
	struct hostile_req *r;
	u8 key[20], mac[sizeof(rfc4231_mac)];
	u32 id;
	int ret, err;

	memset(key, 0x0b, sizeof(key));
	ret = hostile_create(hd, 0, CRYPTO_SHA2_256_HMAC, NULL, 0, key,
			     sizeof(key), &id);
	if (ret != VIRTIO_CRYPTODEV_S_OK) {
		hostile_fail(hd, name, "create session: %d", ret);
		return;
	}
	hdr = hdr_crypt(id, VIRTIO_CRYPTODEV_ENCRYPT, 0, sizeof(msg) - 1);
	r = hreq_new();
	hreq_add_copy(r, &hdr, sizeof(hdr));
	hreq_add_copy(r, msg, sizeof(msg) - 1);
	hreq_add(r, IN, sizeof(mac) + RESP_LEN);
	err = hreq_run(hd, r);
	if (!err && r->used_len == sizeof(mac) + RESP_LEN &&
	    (hreq_read_in(r, 0, mac, sizeof(mac)) != sizeof(mac) ||
	     memcmp(mac, rfc4231_mac, sizeof(mac))))
		hostile_fail(hd, name, "wrong digest");
	else
		hostile_verdict(hd, name, r, err, VIRTIO_CRYPTODEV_S_OK,
				sizeof(mac));
	hreq_put(hd, r);
	if (hostile_destroy(hd, id) != VIRTIO_CRYPTODEV_S_OK)
		hostile_fail(hd, name, "destroy session");
}

/* ---- the battery -------------------------------------------------------- */

static void case_short_headers(struct hostile_dev *hd)
{
	static const unsigned int lens[] = {
		1, 4, sizeof(struct virtio_cryptodev_req) - 1,
	};
	struct virtio_cryptodev_req hdr = hdr_create(CRYPTO_AES_CBC, 0, 16, 0);
	struct hostile_req *r;
	char name[48];
	unsigned int i;

	r = hreq_new();
	hreq_add(r, IN, RESP_LEN);
	hostile_expect(hd, "no readable buffer", r, VIRTIO_CRYPTODEV_S_BADREQ, 0);

	for (i = 0; i < ARRAY_SIZE(lens); i++) {
		snprintf(name, sizeof(name), "header of %u bytes", lens[i]);
		r = hreq_new();
		hreq_add_copy(r, &hdr, lens[i]);
		hreq_add(r, IN, RESP_LEN);
		hostile_expect(hd, name, r, VIRTIO_CRYPTODEV_S_BADREQ, 0);
	}
}

static void case_unknown_opcodes(struct hostile_dev *hd)
{
	static const u32 opcodes[] = { 0, 4, 0x80000001, 0xffffffff };
	struct virtio_cryptodev_req hdr;
	struct hostile_req *r;
	char name[48];
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(opcodes); i++) {
		snprintf(name, sizeof(name), "unknown opcode %#x", opcodes[i]);
		hdr = hdr_session(opcodes[i], 1);
		r = hreq_new();
		hreq_add_copy(r, &hdr, sizeof(hdr));
		hreq_add(r, IN, 64);
		hreq_add(r, IN, RESP_LEN);
		hostile_expect(hd, name, r, VIRTIO_CRYPTODEV_S_BADREQ, 0);
	}
}

struct create_case {
	const char *name;
	u32 cipher;
	u32 mac;
	u32 key_len;		/* as the header claims */
	u32 mac_key_len;
	u32 payload[2];		/* readable segments actually sent */
	u32 out_room;		/* writable bytes before the response */
	u32 want;
};

static const struct create_case create_cases[] = {
	{ "create without algorithm", 0, 0, 0, 0, { 0 }, 0,
	  VIRTIO_CRYPTODEV_S_BADREQ },
	{ "create aes key_len 0", CRYPTO_AES_CBC, 0, 0, 0, { 0 }, 0,
	  VIRTIO_CRYPTODEV_S_NOTSUPP },
	{ "create aes key_len 15", CRYPTO_AES_CBC, 0, 15, 0, { 15 }, 0,
	  VIRTIO_CRYPTODEV_S_NOTSUPP },
	{ "create aes key_len 33", CRYPTO_AES_CBC, 0, 33, 0, { 33 }, 0,
	  VIRTIO_CRYPTODEV_S_NOTSUPP },
	{ "create aes key_len 64", CRYPTO_AES_CBC, 0, 64, 0, { 64 }, 0,
	  VIRTIO_CRYPTODEV_S_NOTSUPP },
	{ "create key_len beyond max_key_len", CRYPTO_AES_CBC, 0,
	  VIRTIO_CRYPTODEV_MAX_KEY_LEN + 1, 0,
	  { VIRTIO_CRYPTODEV_MAX_KEY_LEN + 1 }, 0, VIRTIO_CRYPTODEV_S_BADREQ },
	{ "create key_len 0xffffffff", CRYPTO_AES_CBC, 0, 0xffffffff, 0, { 16 },
	  0, VIRTIO_CRYPTODEV_S_BADREQ },
	{ "create key_len larger than payload", CRYPTO_AES_CBC, 0, 32, 0,
	  { 16 }, 0, VIRTIO_CRYPTODEV_S_BADREQ },
	{ "create key_len smaller than payload", CRYPTO_AES_CBC, 0, 16, 0,
	  { 32 }, 0, VIRTIO_CRYPTODEV_S_BADREQ },
	{ "create mac_key_len larger than payload", 0, CRYPTO_SHA2_256_HMAC, 0,
	  32, { 16 }, 0, VIRTIO_CRYPTODEV_S_BADREQ },
	{ "create mac_key_len smaller than payload", 0, CRYPTO_SHA2_256_HMAC,
	  0, 16, { 32 }, 0, VIRTIO_CRYPTODEV_S_BADREQ },
	{ "create mac_key_len 0xffffffff", 0, CRYPTO_SHA2_256_HMAC, 0,
	  0xffffffff, { 16 }, 0, VIRTIO_CRYPTODEV_S_BADREQ },
	{ "create key_len + mac_key_len wraps", CRYPTO_AES_CBC,
	  CRYPTO_SHA2_256_HMAC, 16, 0xfffffff0, { 16 }, 0,
	  VIRTIO_CRYPTODEV_S_BADREQ },
	{ "create extra readable descriptor", CRYPTO_AES_CBC, 0, 16, 0,
	  { 16, 16 }, 0, VIRTIO_CRYPTODEV_S_BADREQ },
	{ "create unknown cipher 0xffffffff", 0xffffffff, 0, 16, 0, { 16 }, 0,
	  VIRTIO_CRYPTODEV_S_NOTSUPP },
	{ "create unsupported cipher 3des", CRYPTO_3DES_CBC, 0, 24, 0, { 24 },
	  0, VIRTIO_CRYPTODEV_S_NOTSUPP },
	{ "create hash as cipher", CRYPTO_SHA2_256, 0, 16, 0, { 16 }, 0,
	  VIRTIO_CRYPTODEV_S_NOTSUPP },
	{ "create cipher as mac", 0, CRYPTO_AES_CBC, 0, 16, { 16 }, 0,
	  VIRTIO_CRYPTODEV_S_NOTSUPP },
	{ "create unknown mac 12345", 0, 12345, 0, 16, { 16 }, 0,
	  VIRTIO_CRYPTODEV_S_NOTSUPP },
	{ "create cipher key without cipher", 0, CRYPTO_SHA2_256_HMAC, 16, 16,
	  { 16, 16 }, 0, VIRTIO_CRYPTODEV_S_BADREQ },
	{ "create mac key without mac", CRYPTO_AES_CBC, 0, 16, 16, { 16, 16 },
	  0, VIRTIO_CRYPTODEV_S_BADREQ },
	{ "create hash with a key", 0, CRYPTO_SHA2_256, 0, 16, { 16 }, 0,
	  VIRTIO_CRYPTODEV_S_BADREQ },
	/* Well-formed, with odd but legal shapes: these must succeed. */
	{ "create aes key split over descriptors", CRYPTO_AES_CBC, 0, 32, 0,
	  { 7, 25 }, 0, VIRTIO_CRYPTODEV_S_OK },
	{ "create with unused writable room", CRYPTO_AES_CBC, 0, 24, 0, { 24 },
	  48, VIRTIO_CRYPTODEV_S_OK },
	{ "create hmac with empty key", 0, CRYPTO_SHA2_256_HMAC, 0, 0, { 0 }, 0,
	  VIRTIO_CRYPTODEV_S_OK },
};

static void case_create(struct hostile_dev *hd, const struct create_case *c)
{
	struct virtio_cryptodev_req hdr = hdr_create(c->cipher, c->mac,
						     c->key_len, c->mac_key_len);
	struct virtio_cryptodev_resp resp;
	struct hostile_req *r = hreq_new();
	unsigned int i;
	int err;

	hreq_add_copy(r, &hdr, sizeof(hdr));
	for (i = 0; i < ARRAY_SIZE(c->payload); i++)
		hreq_add_opt(r, OUT, c->payload[i]);
	hreq_add_opt(r, IN, c->out_room);
	hreq_add(r, IN, RESP_LEN);
	err = hreq_run(hd, r);
	if (hostile_verdict(hd, c->name, r, err, c->want, 0) &&
	    c->want == VIRTIO_CRYPTODEV_S_OK && hreq_resp(r, &resp) &&
	    hostile_destroy(hd, le32_to_cpu(resp.session_id)) !=
	    VIRTIO_CRYPTODEV_S_OK)
		hostile_fail(hd, c->name, "the new session cannot be destroyed");
	hreq_put(hd, r);
}

/* Ids the device never handed out, and one it handed out and took back. */
static void case_bogus_sessions(struct hostile_dev *hd)
{
	u32 ids[4] = { 0, 0xffffffff, get_random_u32() | 0x40000000, 0 };
	static const char * const what[] = {
		"0", "0xffffffff", "random", "destroyed",
	};
	struct virtio_cryptodev_req hdr;
	struct hostile_req *r;
	char name[64];
	unsigned int i;
	int ret;

	ret = hostile_create_aes(hd, &ids[3]);
	if (ret != VIRTIO_CRYPTODEV_S_OK) {
		hostile_fail(hd, "bogus sessions", "create session: %d", ret);
		return;
	}
	ret = hostile_destroy(hd, ids[3]);
	if (ret != VIRTIO_CRYPTODEV_S_OK) {
		hostile_fail(hd, "bogus sessions", "destroy session: %d", ret);
		return;
	}

	for (i = 0; i < ARRAY_SIZE(ids); i++) {
		snprintf(name, sizeof(name), "destroy session %s", what[i]);
		hdr = hdr_session(VIRTIO_CRYPTODEV_OP_DESTROY_SESSION, ids[i]);
		r = hreq_new();
		hreq_add_copy(r, &hdr, sizeof(hdr));
		hreq_add(r, IN, RESP_LEN);
		hostile_expect(hd, name, r, VIRTIO_CRYPTODEV_S_NOSESSION, 0);

		snprintf(name, sizeof(name), "crypt on session %s", what[i]);
		r = hreq_nist(ids[i]);
		hostile_expect(hd, name, r, VIRTIO_CRYPTODEV_S_NOSESSION, 0);
	}

	hdr = hdr_session(VIRTIO_CRYPTODEV_OP_DESTROY_SESSION, ids[3]);
	r = hreq_new();
	hreq_add_copy(r, &hdr, sizeof(hdr));
	hreq_add(r, OUT, 16);
	hreq_add(r, IN, RESP_LEN);
	hostile_expect(hd, "destroy with a payload", r,
		       VIRTIO_CRYPTODEV_S_BADREQ, 0);
}

enum { SES_AES, SES_HMAC, SES_AES_HMAC, SES_COUNT };

/* A length the case computes from the device's limits. */
#define LEN_MAX_PLUS	0xfffffffe	/* max_data_len + 16 */

struct crypt_case {
	const char *name;
	int session;
	u32 op;
	u32 iv_len;		/* as the header claims */
	u32 data_len;
	u32 iv_buf;		/* readable bytes actually sent */
	u32 data_buf;
	u32 out_buf;		/* writable bytes before the response */
	u32 want;
	u32 want_out;
};

static const struct crypt_case crypt_cases[] = {
	{ "crypt data_len beyond max_data_len", SES_AES, 0, 16, LEN_MAX_PLUS,
	  16, LEN_MAX_PLUS, LEN_MAX_PLUS, VIRTIO_CRYPTODEV_S_BADREQ },
	{ "crypt data_len 0xffffffff", SES_AES, 0, 16, 0xffffffff, 16, 32, 32,
	  VIRTIO_CRYPTODEV_S_BADREQ },
	{ "crypt data_len larger than buffer", SES_AES, 0, 16, 64, 16, 32, 64,
	  VIRTIO_CRYPTODEV_S_BADREQ },
	{ "crypt data_len smaller than buffer", SES_AES, 0, 16, 16, 16, 32, 32,
	  VIRTIO_CRYPTODEV_S_BADREQ },
	{ "crypt iv_len 0xffffffff", SES_AES, 0, 0xffffffff, 16, 16, 16, 16,
	  VIRTIO_CRYPTODEV_S_BADREQ },
	{ "crypt iv_len + data_len wraps", SES_AES, 0, 0xfffffff0, 32, 16, 16,
	  32, VIRTIO_CRYPTODEV_S_BADREQ },
	{ "crypt iv_len 0", SES_AES, 0, 0, 16, 0, 16, 16,
	  VIRTIO_CRYPTODEV_S_BADREQ },
	{ "crypt iv_len 8", SES_AES, 0, 8, 16, 8, 16, 16,
	  VIRTIO_CRYPTODEV_S_BADREQ },
	{ "crypt iv_len 32", SES_AES, 0, 32, 16, 32, 16, 16,
	  VIRTIO_CRYPTODEV_S_BADREQ },
	{ "crypt data_len 0", SES_AES, 0, 16, 0, 16, 0, 16,
	  VIRTIO_CRYPTODEV_S_BADREQ },
	{ "crypt len 1", SES_AES, 0, 16, 1, 16, 1, 16,
	  VIRTIO_CRYPTODEV_S_BADREQ },
	{ "crypt len 17 not a block multiple", SES_AES, 0, 16, 17, 16, 17, 32,
	  VIRTIO_CRYPTODEV_S_BADREQ },
	{ "crypt op 2", SES_AES, 2, 16, 16, 16, 16, 16,
	  VIRTIO_CRYPTODEV_S_BADREQ },
	{ "crypt op 0xffffffff", SES_AES, 0xffffffff, 16, 16, 16, 16, 16,
	  VIRTIO_CRYPTODEV_S_BADREQ },
	{ "crypt output too short", SES_AES, 0, 16, 32, 16, 32, 16,
	  VIRTIO_CRYPTODEV_S_BADREQ },
	{ "crypt output one byte short", SES_AES, 1, 16, 32, 16, 32, 31,
	  VIRTIO_CRYPTODEV_S_BADREQ },
	{ "crypt no output room", SES_AES, 0, 16, 16, 16, 16, 0,
	  VIRTIO_CRYPTODEV_S_BADREQ },
	{ "hmac digest buffer short", SES_HMAC, 0, 0, 16, 0, 16, 31,
	  VIRTIO_CRYPTODEV_S_BADREQ },
	{ "hmac with an iv", SES_HMAC, 0, 16, 16, 16, 16, 32,
	  VIRTIO_CRYPTODEV_S_BADREQ },
	{ "aes+hmac output without digest room", SES_AES_HMAC, 0, 16, 16, 16,
	  16, 16, VIRTIO_CRYPTODEV_S_BADREQ },
	{ "aes+hmac output one byte short", SES_AES_HMAC, 1, 16, 16, 16, 16,
	  47, VIRTIO_CRYPTODEV_S_BADREQ },
	/* Well-formed: answered with output, room to spare is not an error. */
	{ "aes decrypt with spare writable room", SES_AES, 1, 16, 32, 16, 32,
	  64, VIRTIO_CRYPTODEV_S_OK, 32 },
	{ "hmac of an empty message", SES_HMAC, 0, 0, 0, 0, 0, 32,
	  VIRTIO_CRYPTODEV_S_OK, 32 },
	{ "aes+hmac encrypt", SES_AES_HMAC, 0, 16, 48, 16, 48, 80,
	  VIRTIO_CRYPTODEV_S_OK, 80 },
};

static u32 crypt_len(const struct hostile_dev *hd, u32 len)
{
	return len == LEN_MAX_PLUS ? hd->max_data_len + 16 : len;
}

static void case_crypt(struct hostile_dev *hd, const struct crypt_case *c,
		       const u32 *ids)
{
	struct virtio_cryptodev_req hdr =
		hdr_crypt(ids[c->session], c->op, c->iv_len,
			  crypt_len(hd, c->data_len));
	struct hostile_req *r = hreq_new();

	hreq_add_copy(r, &hdr, sizeof(hdr));
	hreq_add_opt(r, OUT, c->iv_buf);
	hreq_add_opt(r, OUT, crypt_len(hd, c->data_buf));
	hreq_add_opt(r, IN, crypt_len(hd, c->out_buf));
	hreq_add(r, IN, RESP_LEN);
	hostile_expect(hd, c->name, r, c->want, c->want_out);
}

static void case_crypt_all(struct hostile_dev *hd)
{
	static const u8 key[32] = { 0x0b };
	u32 ids[SES_COUNT] = { 0 };
	bool made[SES_COUNT] = { false };
	unsigned int i;
	int ret;

	ret = hostile_create_aes(hd, &ids[SES_AES]);
	made[SES_AES] = ret == VIRTIO_CRYPTODEV_S_OK;
	ret = hostile_create(hd, 0, CRYPTO_SHA2_256_HMAC, NULL, 0, key, 32,
			     &ids[SES_HMAC]);
	made[SES_HMAC] = ret == VIRTIO_CRYPTODEV_S_OK;
	ret = hostile_create(hd, CRYPTO_AES_CBC, CRYPTO_SHA2_256_HMAC, nist_key,
			     16, key, 32, &ids[SES_AES_HMAC]);
	made[SES_AES_HMAC] = ret == VIRTIO_CRYPTODEV_S_OK;

	for (i = 0; i < ARRAY_SIZE(crypt_cases); i++) {
		if (!made[crypt_cases[i].session]) {
			hostile_fail(hd, crypt_cases[i].name,
				     "its session could not be created");
			continue;
		}
		case_crypt(hd, &crypt_cases[i], ids);
	}

	for (i = 0; i < SES_COUNT; i++)
		if (made[i] && hostile_destroy(hd, ids[i]) != VIRTIO_CRYPTODEV_S_OK)
			hostile_fail(hd, "crypt cases", "destroy session %u", i);
}

/* A valid request with every part split over descriptors of odd sizes. */
static void case_split(struct hostile_dev *hd)
{
	struct virtio_cryptodev_req hdr;
	struct hostile_req *r;
	u8 *p;
	u32 id;
	int ret, err;

	ret = hostile_create_aes(hd, &id);
	if (ret != VIRTIO_CRYPTODEV_S_OK) {
		hostile_fail(hd, "split descriptors", "create session: %d", ret);
		return;
	}
	hdr = hdr_crypt(id, VIRTIO_CRYPTODEV_ENCRYPT, 16, 16);
	r = hreq_new();
	hreq_add_copy(r, &hdr, 5);
	hreq_add_copy(r, (u8 *)&hdr + 5, sizeof(hdr) - 5);
	/* The IV and the data in one descriptor, split across a second. */
	p = hreq_add(r, OUT, 20);
	if (p) {
		memcpy(p, nist_iv, 16);
		memcpy(p + 16, nist_pt, 4);
	}
	hreq_add_copy(r, nist_pt + 4, 12);
	hreq_add(r, IN, 9);
	/* The rest of the output and the response share a descriptor. */
	hreq_add(r, IN, 7 + RESP_LEN / 2);
	hreq_add(r, IN, RESP_LEN / 2);
	err = hreq_run(hd, r);
	hostile_nist_verdict(hd, "header, data and response split over descriptors",
			     r, err);
	hreq_put(hd, r);
	if (hostile_destroy(hd, id) != VIRTIO_CRYPTODEV_S_OK)
		hostile_fail(hd, "split descriptors", "destroy session");
}

/* Fills the session table, checks the next one is refused, empties it. */
static void case_session_table(struct hostile_dev *hd)
{
	const char *name = "session table full";
	u32 *ids, id, made = 0, i;
	int ret = VIRTIO_CRYPTODEV_S_OK;

	ids = kcalloc(hd->max_sessions, sizeof(*ids), GFP_KERNEL);
	if (!ids) {
		hostile_fail(hd, name, "no memory");
		return;
	}
	while (made < hd->max_sessions) {
		ret = hostile_create_aes(hd, &ids[made]);
		if (ret != VIRTIO_CRYPTODEV_S_OK)
			break;
		made++;
	}
	if (made < hd->max_sessions) {
		hostile_fail(hd, name, "only %u of %u sessions: %d", made,
			     hd->max_sessions, ret);
	} else {
		ret = hostile_create_aes(hd, &id);
		if (ret == VIRTIO_CRYPTODEV_S_OK)
			hostile_destroy(hd, id);
		if (ret != VIRTIO_CRYPTODEV_S_NOSPACE)
			hostile_fail(hd, name, "one more session: %d", ret);
		else
			hostile_ok(hd, name);
	}

	for (i = 0; i < made; i++) {
		ret = hostile_destroy(hd, ids[i]);
		if (ret != VIRTIO_CRYPTODEV_S_OK) {
			hostile_fail(hd, "session table emptied", "destroy: %d",
				     ret);
			break;
		}
	}
	kfree(ids);
}

/* A header of random bytes and random length, the opcode mostly in range. */
static struct hostile_req *hreq_garbage(void)
{
	struct virtio_cryptodev_req *hdr;
	struct hostile_req *r = hreq_new();
	u32 len = 1 + get_random_u32() % (2 * sizeof(*hdr));

	hdr = hreq_add(r, OUT, len);
	if (hdr) {
		get_random_bytes(hdr, len);
		if (len >= sizeof(hdr->opcode) && get_random_u32() % 4)
			hdr->opcode = cpu_to_le32(get_random_u32() % 5);
	}
	hreq_add(r, IN, RESP_LEN + get_random_u32() % 64);
	return r;
}

/* A garbage request is answered with an error and nothing else. */
static bool hostile_garbage_ok(struct hostile_req *r)
{
	struct virtio_cryptodev_resp resp;
	u32 status;

	if (r->used_len != hreq_in_len(r) || !hreq_resp(r, &resp))
		return false;
	status = le32_to_cpu(resp.status);
	return status == VIRTIO_CRYPTODEV_S_BADREQ ||
	       status == VIRTIO_CRYPTODEV_S_NOTSUPP ||
	       status == VIRTIO_CRYPTODEV_S_NOSESSION;
}

/*
 * Fills the ring with garbage (and, when @id is not zero, a valid NIST request
 * every other slot), kicks once and checks every answer.
 */
static void case_flight(struct hostile_dev *hd, const char *name, u32 id)
{
	struct hostile_req **reqs;
	unsigned int n = 0, i, bad = 0, lost = 0, valid = 0;
	int err = 0;

	reqs = kcalloc(HOSTILE_MAX_FLIGHT, sizeof(*reqs), GFP_KERNEL);
	if (!reqs) {
		hostile_fail(hd, name, "no memory");
		return;
	}
	while (n < HOSTILE_MAX_FLIGHT) {
		struct hostile_req *r = id && n % 2 ? hreq_nist(id) :
				       hreq_garbage();

		err = hreq_queue(hd, r);
		if (err) {
			if (r)
				hreq_free(r);
			break;
		}
		reqs[n++] = r;
	}
	if (err != -ENOSPC) {
		hostile_fail(hd, name, "queueing request %u: %d", n, err);
		bad++;
	}
	hostile_kick(hd);

	for (i = 0; i < n; i++) {
		struct hostile_req *r = reqs[i];
		u8 ct[sizeof(nist_ct)];

		if (hreq_wait(hd, r, HOSTILE_TIMEOUT)) {
			lost++;
			continue;
		}
		if (id && i % 2) {
			valid++;
			if (r->used_len != sizeof(ct) + RESP_LEN ||
			    hreq_read_in(r, 0, ct, sizeof(ct)) != sizeof(ct) ||
			    memcmp(ct, nist_ct, sizeof(ct)))
				bad++;
		} else if (!hostile_garbage_ok(r)) {
			bad++;
		}
		hreq_free(r);
	}
	kfree(reqs);

	if (lost || bad)
		hostile_fail(hd, name, "%u in flight: %u unanswered, %u wrong",
			     n, lost, bad);
	else if (n < 2)
		hostile_fail(hd, name, "only %u in flight", n);
	else
		hostile_ok(hd, name);
	pr_info("%s: %u requests in flight, %u valid\n", name, n, valid);
}

static void case_flights(struct hostile_dev *hd)
{
	u32 id;
	int ret;

	case_flight(hd, "ring full of garbage headers", 0);

	ret = hostile_create_aes(hd, &id);
	if (ret != VIRTIO_CRYPTODEV_S_OK) {
		hostile_fail(hd, "ring of garbage and valid requests",
			     "create session: %d", ret);
		return;
	}
	case_flight(hd, "ring of garbage and valid requests", id);
	if (hostile_destroy(hd, id) != VIRTIO_CRYPTODEV_S_OK)
		hostile_fail(hd, "ring of garbage and valid requests",
			     "destroy session");
}

/*
 * A chain with no room for the response: the device cannot answer, so it
 * must break (NEEDS_RESET) and stay silent, and the guest goes on. The request
 * stays on the ring until removal resets the device.
 */
static void case_broken(struct hostile_dev *hd, const char *name,
			u32 writable)
{
	struct virtio_cryptodev_req hdr = hdr_session(
		VIRTIO_CRYPTODEV_OP_DESTROY_SESSION, 1);
	struct hostile_req *r = hreq_new();
	int err;
	u8 status;

	hreq_add_copy(r, &hdr, sizeof(hdr));
	hreq_add_opt(r, IN, writable);
	err = hreq_queue(hd, r);
	if (err) {
		hreq_put(hd, r);
		hostile_fail(hd, name, "queueing: %d", err);
		return;
	}
	hostile_kick(hd);
	err = hreq_wait(hd, r, HOSTILE_BROKEN_WAIT);
	status = hd->vdev->config->get_status(hd->vdev);
	if (!err) {
		hostile_fail(hd, name, "answered (used %u)", r->used_len);
		hreq_put(hd, r);
	} else if (!(status & VIRTIO_CONFIG_S_NEEDS_RESET)) {
		hostile_fail(hd, name, "device status %#x without NEEDS_RESET",
			     status);
	} else {
		hostile_ok(hd, name);
	}
}

static void hostile_battery(struct hostile_dev *hd)
{
	unsigned int i;

	case_valid(hd, "valid request first");
	case_hmac_vector(hd);
	case_short_headers(hd);
	case_unknown_opcodes(hd);
	for (i = 0; i < ARRAY_SIZE(create_cases); i++)
		case_create(hd, &create_cases[i]);
	case_bogus_sessions(hd);
	case_crypt_all(hd);
	case_split(hd);
	case_session_table(hd);
	case_flights(hd);
	case_valid(hd, "valid request after the garbage");
	case_broken(hd, "no writable buffer breaks the device", 0);
}

static void hostile_recovery(struct hostile_dev *hd)
{
	case_valid(hd, "valid request after reset");
	case_broken(hd, "writable part shorter than the response breaks the device",
		    RESP_LEN / 2);
}

/* ---- the driver ---------------------------------------------------------- */

static int hostile_probe(struct virtio_device *vdev)
{
	struct hostile_dev *hd;
	int round;

	hd = kzalloc(sizeof(*hd), GFP_KERNEL);
	if (!hd)
		return -ENOMEM;
	hd->vdev = vdev;
	spin_lock_init(&hd->lock);
	INIT_LIST_HEAD(&hd->abandoned);
	vdev->priv = hd;

	virtio_cread_le(vdev, struct virtio_cryptodev_config, max_data_len,
			&hd->max_data_len);
	virtio_cread_le(vdev, struct virtio_cryptodev_config, max_sessions,
			&hd->max_sessions);
	if (hd->max_data_len < VIRTIO_CRYPTODEV_MIN_DATA_LEN ||
	    hd->max_data_len > VIRTIO_CRYPTODEV_MAX_DATA_LEN ||
	    !hd->max_sessions ||
	    hd->max_sessions > VIRTIO_CRYPTODEV_MAX_SESSIONS) {
		dev_err(&vdev->dev, "device limits out of range\n");
		vdev->priv = NULL;
		kfree(hd);
		return -EINVAL;
	}

	hd->vq = virtio_find_single_vq(vdev, hostile_done, "requests");
	if (IS_ERR(hd->vq)) {
		int err = PTR_ERR(hd->vq);

		vdev->priv = NULL;
		kfree(hd);
		return err;
	}
	virtio_device_ready(vdev);

	round = ++hostile_round;
	pr_info("round %d: max_data_len %u, max_sessions %u\n", round,
		hd->max_data_len, hd->max_sessions);
	if (round == 1)
		hostile_battery(hd);
	else
		hostile_recovery(hd);
	pr_info("%u passed, %u failed\n", hd->passed, hd->failed);
	return 0;
}

static void hostile_remove(struct virtio_device *vdev)
{
	struct hostile_dev *hd = vdev->priv;
	struct hostile_req *r;

	/* After the reset the device touches no buffer: free what it held. */
	virtio_reset_device(vdev);
	spin_lock_irq(&hd->lock);
	while ((r = virtqueue_detach_unused_buf(hd->vq))) {
		if (r->abandoned)
			list_del(&r->node);
		hreq_free(r);
	}
	spin_unlock_irq(&hd->lock);
	if (!list_empty(&hd->abandoned))
		pr_info("FAIL remove: abandoned requests not on the ring\n");
	vdev->config->del_vqs(vdev);
	vdev->priv = NULL;
	kfree(hd);
}

/*
 * No MODULE_DEVICE_TABLE: udev must never load this in place of the real
 * driver; a test loads it by hand.
 */
static const struct virtio_device_id hostile_id_table[] = {
	{ VIRTIO_ID_CRYPTODEV, VIRTIO_DEV_ANY_ID },
	{ 0 },
};

static struct virtio_driver hostile_driver = {
	.driver.name = KBUILD_MODNAME,
	.driver.owner = THIS_MODULE,
	.id_table = hostile_id_table,
	.probe = hostile_probe,
	.remove = hostile_remove,
};

module_virtio_driver(hostile_driver);

MODULE_DESCRIPTION("virtio-cryptodev hostile guest: malformed chains for the device (test only)");
MODULE_LICENSE("GPL");
