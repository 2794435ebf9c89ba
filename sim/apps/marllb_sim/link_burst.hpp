// Bursts on the ports to the other process, safe against net_memif's teardown of a dead peer.
//
// DPDK 22.11's memif PMD frees a connection in the EAL interrupt thread when the peer's
// socket closes (a killed process): memif_disconnect() clears ETH_MEMIF_FLAG_CONNECTED, then
// memif_free_regions() munmaps the shared rings and buffers and frees their descriptors
// (drivers/net/memif/memif_socket.c, rte_eth_memif.c). Nothing waits for an lcore already
// inside eth_memif_rx/tx past its check of that flag, so an lcore preempted there faults on
// the unmapped ring: a world that outlived repeated LB kills died with SIGSEGV, one kill in
// a few (sim/tests/test_two_processes.py, test_a_world_outlives_many_lb_kills_mid_burst).
//
// The guard closes that window with one grace period per unmap, as RCU does:
// - Each thread that polls a port owns a slot whose sequence is odd while the thread is inside
//   a burst. link_rx/link_tx make it odd with a seq_cst read-modify-write before the burst
//   (E1) and even with a release store after it (E2). A slot never claimed stays 0 (even).
// - This program defines munmap() (link_burst.cpp), which the PMD's call resolves to. Before
//   it unmaps it issues a seq_cst fence (U1) and reads every other slot; a slot that is odd
//   is waited on until its sequence moves (the burst that may have passed the flag's check
//   before the teardown has ended).
// - Why no burst can touch the unmapped memory: the PMD cleared the flag before munmap was
//   called (program order in the interrupt thread). E1 and U1 are the two halves of the
//   store-buffer (Dekker) pattern: either U1's read sees E1's odd value and waits for that
//   burst, or E1 comes after U1 in the single seq_cst order and the burst's check reads the
//   cleared flag and returns without touching a ring. (The PMD's flag is a plain field; on
//   x86 a locked instruction and mfence order plain accesses too, which is what E1 and U1
//   compile to.)
// - Not covered: the PMD reads a queue's ring address before it checks the flag. A burst
//   that began after U1, read the old address and was then preempted until the next peer
//   had connected would see the flag set again and use the stale address. That needs a
//   preemption of the length of a reconnect (hundreds of ms) in a window of a few
//   instructions; no run here has shown it.
// - A slot's thread never waits on itself, and the PMD unmaps from the interrupt thread,
//   which polls no port: the wait cannot deadlock.
//
// Off (one predictable branch per burst) unless the run joins another process over memif:
// net_ring and af_packet tear nothing down under a running lcore.
#pragma once

#include <rte_ethdev.h>
#include <rte_mbuf.h>

#include <atomic>
#include <cstdint>

namespace marllb::sim::app {

namespace burst_guard {
inline std::atomic<bool> on{false}; // written once by main before any lcore polls; read relaxed
struct alignas(64) Slot {
    std::atomic<std::uint64_t> seq{0}; // odd: its thread is inside a burst
    std::atomic<bool> taken{false};
};
inline constexpr unsigned kSlots = 16;
inline Slot slots[kSlots];
// The calling thread's slot, claimed on its first guarded burst (nullptr: more than kSlots
// threads polled, which this program never does; then the burst runs unguarded).
Slot *mine() noexcept;
// Waits until no other thread is inside a burst that began before this call (U1 above).
void wait_for_bursts() noexcept;
} // namespace burst_guard

// Turns the guard on for this process (main, before the lcores start).
inline void guard_link_bursts() noexcept { burst_guard::on.store(true, std::memory_order_relaxed); }

inline unsigned link_rx(unsigned port, rte_mbuf **pkts, unsigned n) noexcept {
    if (!burst_guard::on.load(std::memory_order_relaxed)) return rte_eth_rx_burst(std::uint16_t(port), 0, pkts, std::uint16_t(n));
    burst_guard::Slot *s = burst_guard::mine();
    if (s) s->seq.fetch_add(1, std::memory_order_seq_cst); // E1
    const unsigned got = rte_eth_rx_burst(std::uint16_t(port), 0, pkts, std::uint16_t(n));
    if (s) s->seq.store(s->seq.load(std::memory_order_relaxed) + 1, std::memory_order_release); // E2 (its owner alone writes seq)
    return got;
}

inline unsigned link_tx(unsigned port, rte_mbuf **pkts, unsigned n) noexcept {
    if (!burst_guard::on.load(std::memory_order_relaxed)) return rte_eth_tx_burst(std::uint16_t(port), 0, pkts, std::uint16_t(n));
    burst_guard::Slot *s = burst_guard::mine();
    if (s) s->seq.fetch_add(1, std::memory_order_seq_cst); // E1
    const unsigned sent = rte_eth_tx_burst(std::uint16_t(port), 0, pkts, std::uint16_t(n));
    if (s) s->seq.store(s->seq.load(std::memory_order_relaxed) + 1, std::memory_order_release); // E2 (its owner alone writes seq)
    return sent;
}

} // namespace marllb::sim::app
