// --pcap FILE: the frames of a bounded window (--pcap-count frames, --pcap-seconds) in pcapng,
// through DPDK's librte_pcapng. Each port is an interface block of the file (its ethdev name:
// net_ring0/1 or net_memif0/1, interface id = port id) and each frame's block says its
// direction (inbound/outbound flags), so `tcpdump -r` and Wireshark read it as it is.
// One thread writes: the world's (--role both, world: what it sends on --port-in and receives
// on --port-out), or the LB lcore (--role lb: what it receives and forwards).
#pragma once

#include <rte_mbuf.h>

#include <cstdint>
#include <string>

struct rte_pcapng;

namespace marllb::sim::app {

class Capture {
public:
    // After the ports are set up: the file's interface blocks name them. fail() on an error.
    Capture(const std::string &path, std::uint64_t max_frames, double max_seconds);
    ~Capture();
    Capture(const Capture &) = delete;
    Capture &operator=(const Capture &) = delete;

    // Copies the frames (out: going out of port, else arrived on it) while the window is open.
    void frames(unsigned port, rte_mbuf *const *m, unsigned n, bool out);
    // Closes the file (also when the window is still open); the count of frames written.
    std::uint64_t close();

private:
    rte_pcapng *pc_ = nullptr;
    rte_mempool *pool_ = nullptr;
    int fd_ = -1;
    std::uint64_t written_ = 0, max_frames_, end_tsc_ = 0;
    std::string path_;
};

} // namespace marllb::sim::app
