#include "peer.hpp"

#include "run.hpp"

#include <rte_ethdev.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

namespace marllb::sim::app {

[[noreturn]] void fail(const std::string &msg); // main.cpp

Role parse_role(const std::string &s) noexcept { return s == "world" ? Role::world : s == "lb" ? Role::lb : Role::both; }

namespace {
constexpr std::uint32_t kMagic = 0x4d4c4248; // "MLBH"
}

std::size_t build_control(std::uint8_t *out, const ControlMsg &m) noexcept {
    static constexpr std::uint8_t head[12] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0xcc};
    std::memcpy(out, head, sizeof head);
    out[12] = kControlType[0];
    out[13] = kControlType[1];
    std::memcpy(out + kEthLen, &kMagic, 4);
    std::memset(out + kEthLen + 4, 0, 4);
    std::memcpy(out + kEthLen + 8, &m, sizeof m);
    return kControlFrameLen;
}

bool parse_control(const std::uint8_t *frame, std::size_t len, ControlMsg &out) noexcept {
    std::uint32_t magic = 0;
    if (len < kControlFrameLen || !is_control(frame, len)) return false;
    std::memcpy(&magic, frame + kEthLen, 4);
    if (magic != kMagic) return false;
    std::memcpy(&out, frame + kEthLen + 8, sizeof out);
    return true;
}

bool link_up(unsigned port) noexcept {
    rte_eth_link link{};
    return rte_eth_link_get_nowait(std::uint16_t(port), &link) == 0 && link.link_status == RTE_ETH_LINK_UP;
}

void prepare_socket(const Config &cfg) {
    if (cfg.role != "world" || cfg.memif.empty()) return;
    const std::filesystem::path p(cfg.memif);
    if (p.has_parent_path() && !std::filesystem::is_directory(p.parent_path()))
        fail(fmt::format("--memif {}: no directory {}: give a socket path in an existing directory", cfg.memif,
                         p.parent_path().string()));
    std::error_code ec;
    if (!std::filesystem::exists(p, ec)) return;
    if (!std::filesystem::is_socket(p, ec))
        fail(fmt::format("--memif {}: the path exists and is not a socket: give another path", cfg.memif));
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    if (cfg.memif.size() >= sizeof a.sun_path) fail(fmt::format("--memif {}: the path is too long for a socket", cfg.memif));
    std::strncpy(a.sun_path, cfg.memif.c_str(), sizeof a.sun_path - 1);
    const int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    const bool live = fd >= 0 && connect(fd, reinterpret_cast<sockaddr *>(&a), sizeof a) == 0;
    if (fd >= 0) close(fd);
    if (live) fail(fmt::format("--memif {}: another world listens on this socket: stop it or give another path", cfg.memif));
    std::filesystem::remove(p, ec); // a killed world's: nobody listens
}

namespace {
Config g_cleanup_cfg;
void cleanup_at_exit() {
    std::error_code ec;
    if (g_cleanup_cfg.role == "world" && !g_cleanup_cfg.memif.empty()) {
        // Only the socket file of this process: a world refused at start (another one listens)
        // exited before it registered this.
        std::filesystem::remove(g_cleanup_cfg.memif, ec);
    }
    std::filesystem::remove_all(std::filesystem::path("/var/run/dpdk") / eal_file_prefix(g_cleanup_cfg), ec);
}
} // namespace

void register_cleanup(const Config &cfg) {
    g_cleanup_cfg = cfg;
    std::atexit(cleanup_at_exit);
}

bool send_control(Run &r, unsigned port, const ControlMsg &m) {
    rte_mbuf *mb = rte_pktmbuf_alloc(r.pool);
    if (!mb) return false;
    auto *d = reinterpret_cast<std::uint8_t *>(rte_pktmbuf_append(mb, std::uint16_t(kControlFrameLen)));
    build_control(d, m);
    if (link_tx(port, &mb, 1) == 1) return true;
    rte_pktmbuf_free(mb);
    return false;
}

void lb_watch(Run &r) {
    PeerState &p = r.peer;
    const std::uint64_t timeout = std::uint64_t(r.cfg.peer_timeout_ms * 1e6);
    std::uint64_t last_line = mono_ns(), last_packets = 0;
    if (!r.cfg.quiet) fmt::print("{:>8} {:>8} {:>10} {:>9} {:>9}\n", "time_s", "Mpps", "forwarded", "obs_seq", "action");
    for (;;) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
        const std::uint64_t now = mono_ns();
        if (g_stop_signal) {
            fmt::print(stderr, "marllb-sim: stopped by signal {}\n", int(g_stop_signal));
            p.status = "stopped";
            return;
        }
        if (p.bye_ack_sent.load(std::memory_order_acquire)) {
            // The world reads what is left and exits: its link goes down (at most a second).
            // Over af_packet what was sent is in the world's kernel ring already; no link goes down.
            if (over_af_packet(r.cfg)) return;
            const std::uint64_t deadline = now + kSec;
            while (mono_ns() < deadline && link_up(r.cfg.port_in) && link_up(r.cfg.port_out))
                std::this_thread::sleep_for(std::chrono::milliseconds(10));
            return;
        }
        const bool up = link_up(r.cfg.port_in) && link_up(r.cfg.port_out);
        const std::uint64_t seen = p.last_seen_ns.load(std::memory_order_relaxed);
        if ((!up || now > seen + timeout) && !p.bye_ack_sent.load(std::memory_order_acquire)) {
            p.status = "world_lost";
            fmt::print(stderr, "marllb-sim: the world process is gone ({}): the LB stops\n",
                       !up ? std::string("memif link down")
                           : fmt::format("no frame nor heartbeat for {:.0f} ms", double(now - seen) * 1e-6));
            return;
        }
        if (!r.cfg.quiet && now >= last_line + kSec) {
            const std::uint64_t pk = r.stats.packets.load(std::memory_order_relaxed);
            fmt::print("{:8.1f} {:8.3f} {:>10} {:9} {:9}\n", double(now - r.start_ns) * 1e-9,
                       double(pk - last_packets) / (double(now - last_line) * 1e-9) / 1e6, r.stats.forwarded.load(std::memory_order_relaxed),
                       r.stats.last_obs_seq.load(std::memory_order_relaxed), r.stats.last_action_seq.load(std::memory_order_relaxed));
            std::fflush(stdout);
            last_line = now, last_packets = pk;
        }
    }
}

volatile std::sig_atomic_t g_stop_signal = 0;

void install_stop_signals() {
    struct sigaction sa{};
    sa.sa_handler = [](int sig) { g_stop_signal = sig; };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, nullptr);
    sigaction(SIGTERM, &sa, nullptr);
}

} // namespace marllb::sim::app
