// SPDX-License-Identifier: Apache-2.0
#include "pcap_io.h"

#include <pcap/pcap.h>

namespace xlb::sim {

bool readPcap(const std::string& path, std::vector<PcapFrame>& frames, std::string& error) {
  char err[PCAP_ERRBUF_SIZE] = {};
  pcap_t* p =
      pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_NANO, err);
  if (p == nullptr) {
    error = path + ": " + err;
    return false;
  }
  if (pcap_datalink(p) != DLT_EN10MB) {
    error = path + ": not an Ethernet capture (link type " + std::to_string(pcap_datalink(p)) + ")";
    pcap_close(p);
    return false;
  }
  pcap_pkthdr* h = nullptr;
  const u_char* d = nullptr;
  int rc = 0;
  while ((rc = pcap_next_ex(p, &h, &d)) == 1) {
    PcapFrame f;
    f.ts = static_cast<TimeNs>(h->ts.tv_sec) * kNsPerSec + static_cast<TimeNs>(h->ts.tv_usec);
    f.data.assign(d, d + h->caplen);
    frames.push_back(std::move(f));
  }
  if (rc == -1) error = path + ": " + pcap_geterr(p);
  pcap_close(p);
  return rc != -1;
}

std::unique_ptr<PcapWriter> PcapWriter::open(const std::string& path, std::string& error) {
  std::unique_ptr<PcapWriter> w(new PcapWriter());
  w->pcap_ = pcap_open_dead_with_tstamp_precision(DLT_EN10MB, 65535, PCAP_TSTAMP_PRECISION_NANO);
  if (w->pcap_ == nullptr) {
    error = "cannot create a pcap handle";
    return nullptr;
  }
  w->dumper_ = pcap_dump_open(w->pcap_, path.c_str());
  if (w->dumper_ == nullptr) {
    error = path + ": " + pcap_geterr(w->pcap_);
    return nullptr;
  }
  return w;
}

PcapWriter::~PcapWriter() {
  if (dumper_ != nullptr) pcap_dump_close(dumper_);
  if (pcap_ != nullptr) pcap_close(pcap_);
}

void PcapWriter::write(TimeNs ts, const std::uint8_t* data, std::uint32_t len) {
  pcap_pkthdr h{};
  h.ts.tv_sec = static_cast<time_t>(ts / kNsPerSec);
  h.ts.tv_usec = static_cast<suseconds_t>(ts % kNsPerSec);  // nanoseconds (nano precision)
  h.caplen = len;
  h.len = len;
  pcap_dump(reinterpret_cast<u_char*>(dumper_), &h, data);
  ++frames_;
  for (std::uint32_t i = 0; i < len; ++i) digest_ = (digest_ ^ data[i]) * 0x100000001b3ull;
  digest_ = (digest_ ^ len) * 0x100000001b3ull;
}

}  // namespace xlb::sim
