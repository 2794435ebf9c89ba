// The state of one marllb-sim run, shared by the world lcore (main), the LB lcore (a worker)
// and main's setup and summary. Who writes what is said at each group.
#pragma once

#include "config.hpp"
#include "lb.hpp"
#include "link_burst.hpp"
#include "peer.hpp"
#include "publish_schedule.hpp"
#include "run_report.hpp"
#include "trace.hpp"
#include "world.hpp"

#include <marllb/shm.hpp>

#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>

#include <sched.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace marllb::sim::app {

constexpr unsigned kBurst = 32;
constexpr std::uint64_t kSec = 1'000'000'000ull;

// Each group sits on its own cache line; the comment says who writes it.
struct alignas(64) Sync {
    // World -> LB (lockstep): world_time is stored relaxed, then world_step with release (L1);
    // the LB's acquire load of world_step (L2) makes world_time and every frame the world sent
    // before it visible to the LB's rx.
    std::atomic<std::uint64_t> world_step{0};
    std::atomic<std::uint64_t> world_time{0};
    alignas(64) std::atomic<std::uint64_t> lb_step{0}; // LB -> world: release after its tx (L3) / acquire (L4)
    alignas(64) std::atomic<bool> stop{false};         // main -> LB: relaxed; nothing is published with it
    std::atomic<int> phase{0};                         // flood: 0 bare handoff, 1 full LB (main writes)
};

// LB lcore -> main lcore, for the progress line and the summary. Relaxed: each value is a
// statistic read once a second; none guards other data. The final values are read after
// rte_eal_mp_wait_lcore(), which orders everything the LB lcore did before returning.
struct alignas(64) LbStats {
    std::atomic<std::uint64_t> packets{0}, forwarded{0}, dropped{0}, flows{0};
    std::atomic<std::uint64_t> published{0}, last_obs_seq{0}, applied{0}, last_action_seq{0}, rejected{0}, fallbacks{0};
    std::atomic<double> jain_duration{1.0};
    std::atomic<std::uint64_t> tx_full{0};
};

// One LB instance and its region: the LB lcore's alone while it runs.
struct LbInstance {
    std::unique_ptr<LoadBalancer> lb;
    std::optional<shm::LbRegion> region;
    shm::MsgOut msg{};
    bool raw = false; // publish the raw reservoirs too
    std::string name;
    bool agent_seen = false;
    std::uint64_t observe_ns = 0; // the last observation's features (observe_all), for publish_cost_ns
};

class Capture;

struct Run {
    Config cfg;
    Role role = Role::both;
    // --role world|lb: the other process (peer.hpp). The world's frames accepted by --port-in
    // and data frames received on --port-out (the world lcore's, read by main after the run).
    PeerState peer;
    std::uint64_t world_tx = 0, world_rx = 0;
    // --pcap: written by one thread only, the world's (both, world) or the LB lcore (lb).
    Capture *world_capture = nullptr, *lb_capture = nullptr;
    std::vector<double> caps;        // the servers' true capacities (--servers)
    std::vector<double> provisioned; // what the LB believes (--provisioned, default caps)
    std::vector<WorldEvent> events;  // --events
    Policy policy = Policy::sed;
    LbModel model = LbModel::marllb;
    Sync sync;
    LbStats stats;
    std::vector<LbInstance> lbs;
    rte_mempool *pool = nullptr;
    int ts_offset = -1; // mbuf dynamic field: the simulated time a frame was sent
    std::uint64_t start_ns = 0;
    // Results of the LB lcore, read by main after it returned.
    std::vector<std::uint32_t> publish_cost_ns;
    std::vector<std::uint32_t> publish_call_ns;
    // Gaps between consecutive publish stamps (the LB lcore's clock): marllb's rule makes
    // every gap at least one interval; clean's timer keeps the count, not each gap.
    std::uint64_t last_publish_at = 0;
    PublishGaps gaps;
    FloodRates flood;
    std::uint64_t lockstep_agent_timeouts = 0;
    // Serving episodes (--control-fd, episodes.cpp): the world lcore ends an episode early when
    // a command arrives while the LB waits for the agent (interrupted: no result row).
    int control_fd = -1;
    bool interrupted = false;
    // The world lcore runs the LB itself, one step after the other (LockstepLb, episodes.cpp).
    bool lockstep_inline = false;
};

inline std::uint64_t mono_ns() { return marllb_now_mono_ns(); }

// A lockstep wait (for the other lcore, or for the agent): spins for its first 100 us, since a
// handoff between the lcores takes microseconds; after that the agent is thinking (a learner's
// update can take 100 ms), and each poll is followed by a sleep of a tenth of the time waited
// so far (at most 1 ms): the two lcores leave the CPUs of a small machine to the agent, and an
// answer is seen at most about 10 % later than it came.
//
// One thread serving an environment's episodes (yield_first, r.lockstep_inline) waits for the
// agent only, whose process shares the CPUs, as do the other simulators of a vector of
// environments: there a spinning wait takes the CPU that the agent, or another simulator,
// needs. So for its first 2 ms that wait gives its CPU away between polls instead (sched_yield
// returns at once when nothing else is runnable, so a lone wait still sees an answer within
// microseconds; a sleep costs tens of microseconds on a virtual machine), then sleeps as above.
struct LockstepPatience {
    std::uint64_t since = mono_ns();
    bool yield_first = false;
    LockstepPatience() = default;
    explicit LockstepPatience(bool yield) : yield_first(yield) {}
    // Past the spinning: the other side waits for something slow (the agent), not a handoff.
    [[nodiscard]] bool waiting_long() const { return mono_ns() - since > 100'000; }
    void after_poll() const {
        const std::uint64_t waited = mono_ns() - since;
        if (yield_first && waited <= 2'000'000) (void)::sched_yield();
        else if (waited > 100'000) std::this_thread::sleep_for(std::chrono::nanoseconds(std::min<std::uint64_t>(waited / 10, 1'000'000)));
    }
};
inline std::uint64_t &ts_of(Run &r, rte_mbuf *m) { return *RTE_MBUF_DYNFIELD(m, r.ts_offset, std::uint64_t *); }

// Prints "marllb-sim: msg" on stderr and exits with status 2.
[[noreturn]] void fail(const std::string &msg);

// ---- LB lcore (lb_lcore.cpp) ----
// The worker lcore's entry point (arg: the Run): real time, lockstep or flood by r.cfg.
int lb_lcore_main(void *arg);

// The lockstep LB at and between the world's steps: on its own lcore (lb_lcore_main), or
// called by the world's thread (world_lockstep with inline_lb; r.lockstep_inline), where the
// same calls in the same order give the same run without a handoff between two cores.
class LockstepLb {
public:
    explicit LockstepLb(Run &r);
    // Handles every frame waiting on --port-in, at the time stamped on it.
    void receive();
    // Simulated time reached t: publishes if a boundary is due, waits for the agents' answers.
    // False when the run stopped or the episode was interrupted while it waited.
    [[nodiscard]] bool step(std::uint64_t t);
    // Nothing new from the world: what the model does between steps.
    void between_steps();
    std::uint64_t done = 0; // the last world step acknowledged (its own lcore only)

private:
    Run &r_;
    PublishSchedule sched_;
    std::uint64_t next_check_ = 0, t_last_;
    bool wait_agent_;
};

// ---- World lcore (world_lcore.cpp) ----
// The progress line once a second on stdout (unless --quiet) and in the --timeseries file.
struct Progress {
    Run &r;
    FILE *series = nullptr;
    std::uint64_t last_wall = 0, last_packets = 0;
    std::size_t last_fct = 0;
    void header();
    void tick(World &w, std::uint64_t sim_now, bool force = false);
};

WorldConfig world_config(const Run &r, std::vector<TraceEntry> trace);
// --role world: after the run, the bye to the LB and the wait for its bye_ack (peer.hpp).
void world_goodbye(Run &r, World *w); // w: null in --flood
// --role lb, the main lcore: watches the world (link, heartbeats, bye) while the LB lcore runs;
// returns when the run is over for the LB.
void lb_watch(Run &r);
// Sends one control frame on port; false if the port did not take it.
bool send_control(Run &r, unsigned port, const ControlMsg &m);
// Lockstep: ends the run early (r.interrupted) when a command waits on r.control_fd while the
// LB waits for the agent; a run that serves no episodes never checks.
void world_realtime(Run &r, World &w, Progress &prog);
// inline_lb: run the LB on this thread instead of handing each step to the LB lcore.
void world_lockstep(Run &r, World &w, Progress &prog, LockstepLb *inline_lb = nullptr);
void world_flood(Run &r);

// ---- main.cpp ----
// The run's report, after the LB lcore returned (world: null in flood mode).
RunReport report(const Run &r, World *world, double wall_s);

// ---- Episodes on commands (episodes.cpp) ----
// --control-fd: after the EAL and the regions (in `base`) are up, runs one lockstep episode
// per command read from the socket, each a fresh world and fresh LBs on the same regions,
// until the socket closes. Returns the exit status.
int serve_episodes(Run &base, std::vector<TraceEntry> trace);
// A command (or the end of the socket) waits on r.control_fd.
bool control_pending(const Run &r);

} // namespace marllb::sim::app
