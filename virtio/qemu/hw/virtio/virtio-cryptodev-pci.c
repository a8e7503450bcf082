/*
 * virtio-cryptodev PCI binding: a modern-only (virtio 1.0) PCI function.
 *
 * This work is licensed under the terms of the GNU GPL, version 2 or
 * (at your option) any later version.  See the COPYING file in the
 * top-level directory.
 */

#include "qemu/osdep.h"
#include "hw/virtio/virtio-pci.h"
#include "hw/virtio/virtio-cryptodev.h"
#include "hw/qdev-properties.h"
#include "qapi/error.h"
#include "qemu/module.h"
#include "qom/object.h"

typedef struct VirtIOCryptodevPCI VirtIOCryptodevPCI;

#define TYPE_VIRTIO_CRYPTODEV_PCI "virtio-cryptodev-pci"
DECLARE_INSTANCE_CHECKER(VirtIOCryptodevPCI, VIRTIO_CRYPTODEV_PCI,
                         TYPE_VIRTIO_CRYPTODEV_PCI)

struct VirtIOCryptodevPCI {
    VirtIOPCIProxy parent_obj;
    VirtIOCryptodev vdev;
};

static VirtIOCryptodevProperty virtio_cryptodev_pci_properties[] = {
    DEFINE_PROP_UINT32("vectors", VirtIOPCIProxy, nvectors,
                       DEV_NVECTORS_UNSPECIFIED),
    VIRTIO_CRYPTODEV_PROPS_END
};

static void virtio_cryptodev_pci_realize(VirtIOPCIProxy *vpci_dev, Error **errp)
{
    VirtIOCryptodevPCI *dev = VIRTIO_CRYPTODEV_PCI(vpci_dev);
    VirtIOCryptodev *s = &dev->vdev;

    /*
     * A queue per vCPU, each with its own vector (and one for the config),
     * so the driver can have a request answered on the vCPU that made it.
     */
    if (s->num_queues == VIRTIO_CRYPTODEV_AUTO_NUM_QUEUES) {
        s->num_queues = MIN(virtio_pci_optimal_num_queues(0),
                            VIRTIO_CRYPTODEV_MAX_QUEUES);
    }
    if (vpci_dev->nvectors == DEV_NVECTORS_UNSPECIFIED) {
        vpci_dev->nvectors = s->num_queues + 1;
    }

    /* A new device id has no legacy PCI id: virtio 1.0 only. */
    virtio_pci_force_virtio_1(vpci_dev);
    qdev_realize(DEVICE(&dev->vdev), BUS(&vpci_dev->bus), errp);
}

static void virtio_cryptodev_pci_class_init(ObjectClass *klass, void *data)
{
    DeviceClass *dc = DEVICE_CLASS(klass);
    VirtioPCIClass *k = VIRTIO_PCI_CLASS(klass);
    PCIDeviceClass *pcidev_k = PCI_DEVICE_CLASS(klass);

    k->realize = virtio_cryptodev_pci_realize;
    set_bit(DEVICE_CATEGORY_MISC, dc->categories);
    device_class_set_props(dc, virtio_cryptodev_pci_properties);
    pcidev_k->revision = VIRTIO_PCI_ABI_VERSION;
    pcidev_k->class_id = PCI_CLASS_OTHERS;
}

static void virtio_cryptodev_pci_instance_init(Object *obj)
{
    VirtIOCryptodevPCI *dev = VIRTIO_CRYPTODEV_PCI(obj);

    virtio_instance_init_common(obj, &dev->vdev, sizeof(dev->vdev),
                                TYPE_VIRTIO_CRYPTODEV);
}

static const VirtioPCIDeviceTypeInfo virtio_cryptodev_pci_info = {
    .generic_name = TYPE_VIRTIO_CRYPTODEV_PCI,
    .instance_size = sizeof(VirtIOCryptodevPCI),
    .instance_init = virtio_cryptodev_pci_instance_init,
    .class_init = virtio_cryptodev_pci_class_init,
};

static void virtio_cryptodev_pci_register(void)
{
    virtio_pci_types_register(&virtio_cryptodev_pci_info);
}

type_init(virtio_cryptodev_pci_register)
