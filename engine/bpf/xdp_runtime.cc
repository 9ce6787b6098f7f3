// SPDX-License-Identifier: Apache-2.0
#include "xlb/xdp_runtime.h"

#include <linux/bpf.h>

namespace xlb {

bool XdpMapInfo::perCpu() const noexcept {
  return type == BPF_MAP_TYPE_PERCPU_ARRAY || type == BPF_MAP_TYPE_PERCPU_HASH ||
         type == BPF_MAP_TYPE_LRU_PERCPU_HASH;
}

std::size_t XdpRuntime::valueBytes(XdpMap m) const {
  const XdpMapInfo i = info(m);
  return i.perCpu() ? std::size_t{cpus()} * perCpuStride(i.valueSize) : i.valueSize;
}

}  // namespace xlb
