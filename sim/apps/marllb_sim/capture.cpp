#include "capture.hpp"

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_pcapng.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <unistd.h>

namespace marllb::sim::app {

[[noreturn]] void fail(const std::string &msg); // main.cpp

namespace {
constexpr std::uint32_t kSnap = 256; // every frame of the simulation is shorter: captured whole
}

Capture::Capture(const std::string &path, std::uint64_t max_frames, double max_seconds) : max_frames_(max_frames), path_(path) {
    fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd_ < 0) fail(fmt::format("cannot write --pcap '{}': {}", path, std::strerror(errno)));
    pool_ = rte_pktmbuf_pool_create("marllb_pcapng", 4095, 0, 0, std::uint16_t(rte_pcapng_mbuf_size(kSnap)), int(rte_socket_id()));
    if (!pool_) fail(std::string("--pcap: cannot create the capture's mbuf pool: ") + rte_strerror(rte_errno));
    pc_ = rte_pcapng_fdopen(fd_, nullptr, nullptr, "marllb-sim", nullptr); // owns fd_ from here
    if (!pc_) fail(fmt::format("--pcap '{}': {}", path, rte_strerror(rte_errno)));
    if (max_seconds > 0) end_tsc_ = rte_get_tsc_cycles() + std::uint64_t(max_seconds * double(rte_get_tsc_hz()));
}

Capture::~Capture() { close(); }

void Capture::frames(unsigned port, rte_mbuf *const *m, unsigned n, bool out) {
    if (!pc_ || n == 0) return;
    const std::uint64_t now = rte_get_tsc_cycles();
    if (written_ >= max_frames_ || (end_tsc_ && now >= end_tsc_)) {
        close();
        return;
    }
    rte_mbuf *copies[64];
    unsigned k = 0;
    for (unsigned i = 0; i < n && k < 64 && written_ + k < max_frames_; ++i)
        if (rte_mbuf *c = rte_pcapng_copy(std::uint16_t(port), 0, m[i], pool_, kSnap, now,
                                          out ? RTE_PCAPNG_DIRECTION_OUT : RTE_PCAPNG_DIRECTION_IN))
            copies[k++] = c;
    if (k == 0) return;
    if (rte_pcapng_write_packets(pc_, copies, std::uint16_t(k)) < 0)
        fmt::print(stderr, "marllb-sim: --pcap '{}': a write failed; the capture ends here\n", path_), close();
    rte_pktmbuf_free_bulk(copies, k);
    written_ += k;
}

std::uint64_t Capture::close() {
    if (pc_) rte_pcapng_close(pc_); // closes the file descriptor
    pc_ = nullptr;
    return written_;
}

} // namespace marllb::sim::app
