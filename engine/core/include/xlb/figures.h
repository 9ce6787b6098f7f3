// SPDX-License-Identifier: Apache-2.0
// The scalar figures of the engine and its workers, each declared once. A list entry names the
// member, where the figure sits in GET /api/v1/stats (group and key), its Prometheus metric
// ("" when another metric already carries it) and its help text. The structs that hold the
// figures declare their members from these lists, and folding across workers, the stats JSON and
// the metrics are loops over the tables built from them, so adding a figure is one line here.
// Figures with a label dimension (per reason, TCP state, close reason) are arrays beside them,
// keyed by their own lists (bpf/xlb_common.h, enum tables).
#pragma once

#include <array>
#include <cstdint>
#include <string_view>

namespace xlb {

enum class FigureKind : std::uint8_t { kCounter, kGauge };

// X(member, group, key, metric, kind, help)
// Counted by the pipeline on the packet path (WorkerCounters), plain integers per worker.
#define XLB_PIPELINE_FIGURES(X)                                                                    \
  X(packets, "packets", "engine", "xlb_engine_packets_total", kCounter,                            \
    "Packets the AF_XDP engine processed")                                                         \
  X(bytes, "bytes", "engine", "xlb_engine_bytes_total", kCounter,                                  \
    "Bytes of the frames the AF_XDP engine processed")                                             \
  X(batches, "workers", "batches", "xlb_worker_batches_total", kCounter,                           \
    "Receive batches the workers processed")                                                       \
  X(cookiesValidated, "syncookies", "validated", "xlb_syncookies_validated_total", kCounter,       \
    "ACKs whose cookie checked out")                                                               \
  X(heldReleased, "syncookies", "held_released", "xlb_synproxy_held_released_total", kCounter,     \
    "Client segments held during a SYN proxy's backend handshake, sent once the backend answered") \
  X(synTimestamped, "snat", "syn_timestamped", "xlb_snat_syn_timestamped_total", kCounter,         \
    "SYNs forwarded with their TSval set from the LB clock (safe SNAT port reuse)")                \
  X(synNoTimestamp, "snat", "syn_without_timestamp", "xlb_snat_syn_without_timestamp_total",       \
    kCounter, "SYNs without timestamps: a backend in TIME_WAIT may refuse their port reuse")       \
  X(twCollisions, "snat", "time_wait_collisions", "xlb_snat_time_wait_collisions_total", kCounter, \
    "SYNs a backend answered with a plain ACK (its TIME_WAIT refused the reuse)")                  \
  X(synRetransmits, "conntrack", "syn_retransmits", "xlb_syn_retransmits_total", kCounter,         \
    "SYNs to backends sent again on xlb's own timer (the backend had not answered)")               \
  X(quicCids, "quic", "connection_ids_learned", "xlb_quic_connection_ids_learned_total", kCounter, \
    "QUIC long-header packets from backends whose server-chosen connection ID was recorded")       \
  X(quicRebinds, "quic", "rebinds", "xlb_quic_rebinds_total", kCounter,                            \
    "QUIC flows found by connection ID from a new client address or port, kept on their backend")  \
  X(rstKept, "conntrack", "resets_in_window_kept", "xlb_resets_in_window_kept_total", kCounter,    \
    "Resets of an established connection ahead of the expected number: passed on for the "         \
    "endpoint to judge (RFC 5961), the connection kept")

// Read from a worker's table, SNAT pool and rings when it publishes (WorkerStats).
#define XLB_WORKER_FIGURES(X)                                                                 \
  X(active, "conntrack", "active", "", kGauge,                                                \
    "Connection entries in use (the sum of xlb_conntrack_entries)")                           \
  X(created, "conntrack", "created", "xlb_conntrack_created_total", kCounter,                 \
    "Connection entries created")                                                             \
  X(capacity, "conntrack", "capacity", "xlb_conntrack_capacity", kGauge,                      \
    "Connection entries the tables can hold")                                                 \
  X(snatInUse, "snat", "ports_in_use", "xlb_snat_ports_in_use", kGauge,                       \
    "SNAT ports held by connections")                                                         \
  X(snatCapacity, "snat", "ports_total", "xlb_snat_ports_capacity", kGauge,                   \
    "SNAT ports the workers can hand out (addresses times the port range)")                   \
  X(handedOff, "workers", "handed_off", "xlb_worker_handed_off_total", kCounter,              \
    "Frames a worker received for a connection another worker owns, passed to that worker")   \
  X(handoffDrops, "workers", "handoff_drops", "xlb_worker_handoff_drops_total", kCounter,     \
    "Frames dropped because the ring to the owner worker was full")                           \
  X(sendDrops, "workers", "send_drops", "xlb_worker_send_drops_total", kCounter,              \
    "Frames the engine produced but could not transmit (no TX frame or ring room)")           \
  X(sourceEventsLost, "workers", "source_events_lost", "xlb_worker_source_events_lost_total", \
    kCounter, "Invalid-ACK crossings (automatic blocking) lost to a full queue")

// Per AF_XDP queue (group: the queue's object in "afxdp"; metrics labelled by queue). Counted by
// the worker's I/O (IoCounters) ...
#define XLB_IO_FIGURES(X)                                                        \
  X(rxFrames, "afxdp", "rx", "xlb_xsk_rx_frames_total", kCounter,                \
    "Frames received on the AF_XDP socket")                                      \
  X(txFrames, "afxdp", "tx", "xlb_xsk_tx_frames_total", kCounter,                \
    "Frames transmitted on the AF_XDP socket")                                   \
  X(txRingFull, "afxdp", "tx_ring_full", "xlb_xsk_tx_ring_full_total", kCounter, \
    "Frames recycled because the TX ring had no room")

// ... and by the kernel for the socket (XDP_STATISTICS, XskKernelStats).
#define XLB_XSK_KERNEL_FIGURES(X)                                                         \
  X(rxDropped, "afxdp", "rx_dropped", "xlb_xsk_rx_dropped_total", kCounter,               \
    "Kernel: frames dropped for want of room (XDP_STATISTICS)")                           \
  X(rxRingFull, "afxdp", "rx_ring_full", "xlb_xsk_rx_ring_full_total", kCounter,          \
    "Kernel: times the RX ring was full (XDP_STATISTICS)")                                \
  X(fillRingEmpty, "afxdp", "fill_ring_empty", "xlb_xsk_fill_ring_empty_total", kCounter, \
    "Kernel: times the fill ring was empty (XDP_STATISTICS)")

// Declares a list's members as plain counters (inside the struct that holds them).
#define XLB_FIGURE_MEMBER(m, ...) std::uint64_t m = 0;

// How a table entry describes a figure held in `Holder`.
template <typename Holder>
struct Figure {
  std::uint64_t Holder::*member;
  std::string_view group;
  std::string_view key;
  std::string_view metric;
  FigureKind kind;
  std::string_view help;
};

// The table of a list for the struct that holds it: Figure<Holder> rows in list order.
#define XLB_FIGURE_ROW(m, g, k, metric, kind, help) \
  Figure<FigureHolder>{&FigureHolder::m, g, k, metric, FigureKind::kind, help},
#define XLB_FIGURE_TABLE(Holder, LIST)       \
  [] {                                       \
    using FigureHolder = Holder;             \
    return std::array{LIST(XLB_FIGURE_ROW)}; \
  }()

// Adds `from`'s figures of table `t` into `to` (folding workers into one total).
template <typename Holder, typename Table>
void addFigures(Holder& to, const Holder& from, const Table& t) noexcept {
  for (const Figure<Holder>& f : t) to.*f.member += from.*f.member;
}

}  // namespace xlb
