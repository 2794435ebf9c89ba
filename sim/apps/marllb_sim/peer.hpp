// World and LB as two processes (--role world|lb, --memif SOCKET): the control frames they
// exchange beside the traffic, and what each knows of the other.
//
// Control frames carry EtherType 0x88B5 (IEEE 802 local experimental); neither the world's
// servers nor the LB ever see one. Each process sends a heartbeat every 100 ms on the port
// toward the other (the world on --port-in, the LB on --port-out). At the end of its run the
// world sends `bye` with the count of frames it sent; the LB answers `bye_ack` with its
// counters, after every frame it forwarded (memif queues are FIFO), so the world knows it has
// received all the LB forwarded: the two rows then account exactly (docs/sim.md).
#pragma once

#include "config.hpp"
#include "frame.hpp"
#include "lb.hpp"
#include "run_report.hpp"

#include <atomic>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <string>

namespace marllb::sim::app {

enum class Role { both, world, lb };
[[nodiscard]] Role parse_role(const std::string &s) noexcept;

inline constexpr std::uint8_t kControlType[2] = {0x88, 0xB5};
inline constexpr std::uint64_t kHeartbeatNs = 100'000'000;
enum class Ctl : std::uint8_t { heartbeat = 1, bye = 2, bye_ack = 3, phase = 4 }; // phase: --flood's next phase
// A heartbeat's phase while its sender waits for the other process over af_packet (main.cpp).
inline constexpr int kStillMeeting = -1;

// The LB process's account as its bye_ack reports it: what one process would report of its LB
// (both plain structs, copied into the frame as bytes).
struct LbReport {
    LbCounters counters; // summed over its LB instances
    FloodRates flood;    // --flood: its phases (take_lb_side)
    std::uint64_t tx_full = 0, published = 0, rejected = 0;
};

struct ControlMsg {
    Ctl kind = Ctl::heartbeat;
    std::uint64_t seq = 0;
    std::uint64_t world_sent = 0; // bye: the frames the world's --port-in accepted in the whole run
    LbReport lb;                  // bye_ack
    int phase = 0;                // phase: the --flood phase that starts with the next frame
    FloodRates world_flood{};     // bye after --flood: the world's figures (take_world_side)
};

[[nodiscard]] inline bool is_control(const std::uint8_t *frame, std::size_t len) noexcept {
    return len >= kEthLen && frame[12] == kControlType[0] && frame[13] == kControlType[1];
}
// Writes the frame into out (at least kControlFrameLen bytes); returns its length.
inline constexpr std::size_t kControlFrameLen = kEthLen + 8 + sizeof(ControlMsg);
std::size_t build_control(std::uint8_t *out, const ControlMsg &m) noexcept;
// False for a frame that is not one of ours (another magic, too short).
bool parse_control(const std::uint8_t *frame, std::size_t len, ControlMsg &out) noexcept;

// What one process knows of the other. The thread polling the port the other's frames arrive
// on writes last_seen_ns (relaxed: a statistic) and the bye fields (released by `bye`); the
// main thread reads them.
struct PeerState {
    std::atomic<std::uint64_t> last_seen_ns{0};
    std::atomic<bool> bye{false};          // LB: the world's bye arrived; world: the LB's bye_ack arrived
    std::atomic<bool> bye_ack_sent{false}; // LB: its bye_ack went out
    std::uint64_t world_sent = 0;          // LB: from the world's bye
    FloodRates world_flood;                // LB: from the world's bye after --flood
    LbReport lb;                           // world: from the LB's bye_ack
    std::uint64_t hb_seq = 0, next_hb_ns = 0; // the sending thread's
    // The main thread's view (the world's loop, or the LB process's watch).
    bool lost = false;
    std::uint64_t losses = 0, returns = 0;
    std::uint64_t lost_at_ns = 0;
    std::string status = "ok";
};

[[nodiscard]] bool link_up(unsigned port) noexcept;

// Before the EAL starts. World: a socket file nobody listens on (a killed world's) is removed;
// one a live world listens on is refused (exit 2). LB: nothing (it waits for the socket).
void prepare_socket(const Config &cfg);

// At exit (also through fail()): the world's socket file and the process's EAL runtime
// directory /var/run/dpdk/<prefix> are removed.
void register_cleanup(const Config &cfg);

// A signal (SIGINT, SIGTERM) asked a role process to end its run early, cleanly.
extern volatile std::sig_atomic_t g_stop_signal;
void install_stop_signals();

} // namespace marllb::sim::app
