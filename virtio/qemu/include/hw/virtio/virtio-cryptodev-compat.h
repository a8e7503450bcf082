/*
 * virtio-cryptodev on every QEMU it builds into. The device is written
 * against QEMU 10.0's interfaces; what an older QEMU (7.2) calls otherwise
 * is supplied here, and nowhere else. Where the difference can be seen in
 * the headers it is tested there; otherwise by QEMU's version.
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or
 * (at your option) any later version.  See the COPYING file in the
 * top-level directory.
 */

#ifndef QEMU_VIRTIO_CRYPTODEV_COMPAT_H
#define QEMU_VIRTIO_CRYPTODEV_COMPAT_H

#include "block/thread-pool.h"
#include "hw/qdev-properties.h"
#include "qemu/main-loop.h"

#define VIRTIO_CRYPTODEV_QEMU_AT_LEAST(major, minor) \
    (QEMU_VERSION_MAJOR > (major) || \
     (QEMU_VERSION_MAJOR == (major) && QEMU_VERSION_MINOR >= (minor)))

/* 10.0 moved sysemu/ to system/. */
#if __has_include("system/iothread.h")
#include "system/iothread.h"
#include "system/runstate.h"
#else
#include "sysemu/iothread.h"
#include "sysemu/runstate.h"
#endif

/* 9.1 renamed the hash algorithms (QCryptoHashAlgorithm, ..._ALG_...). */
#if !VIRTIO_CRYPTODEV_QEMU_AT_LEAST(9, 1)
typedef QCryptoHashAlgorithm QCryptoHashAlgo;
#define QCRYPTO_HASH_ALGO_MD5 QCRYPTO_HASH_ALG_MD5
#define QCRYPTO_HASH_ALGO_SHA1 QCRYPTO_HASH_ALG_SHA1
#define QCRYPTO_HASH_ALGO_SHA224 QCRYPTO_HASH_ALG_SHA224
#define QCRYPTO_HASH_ALGO_SHA256 QCRYPTO_HASH_ALG_SHA256
#define QCRYPTO_HASH_ALGO_SHA384 QCRYPTO_HASH_ALG_SHA384
#define QCRYPTO_HASH_ALGO_SHA512 QCRYPTO_HASH_ALG_SHA512
#endif

/*
 * 9.2 made property arrays const and counted; before, they were writable
 * and ended with a terminator.
 */
#ifdef DEFINE_PROP_END_OF_LIST
typedef Property VirtIOCryptodevProperty;
#define VIRTIO_CRYPTODEV_PROPS_END DEFINE_PROP_END_OF_LIST(),
#else
typedef const Property VirtIOCryptodevProperty;
#define VIRTIO_CRYPTODEV_PROPS_END
#endif

/*
 * Work for the thread pool of the main loop's AioContext, with no completion
 * callback. 8.1 took the pool from the caller's context instead of an
 * argument; the device calls this under the BQL, in the main context.
 */
static inline void virtio_cryptodev_pool_submit(ThreadPoolFunc *func,
                                                void *arg)
{
#if VIRTIO_CRYPTODEV_QEMU_AT_LEAST(8, 1)
    thread_pool_submit_aio(func, arg, NULL, NULL);
#else
    thread_pool_submit(aio_get_thread_pool(qemu_get_aio_context()), func, arg);
#endif
}

#endif
