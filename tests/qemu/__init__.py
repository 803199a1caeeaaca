"""The real-hypervisor tier: libvirtd + QEMU (TCG) with a tiny real guest."""
