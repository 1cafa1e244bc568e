/* The device models, each in its own file with its ops table. */
#ifndef MV_DEVICES_H
#define MV_DEVICES_H

#include "vmm/virtio.h"

extern const struct virtio_dev_ops virtio_rng_ops;

#endif
