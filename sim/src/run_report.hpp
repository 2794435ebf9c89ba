// What one marllb-sim run measured, and the two ways it is told: the summary a person reads
// (one line per quantity) and the result row that scripts read (marllb-pipeline,
// scripts/sim_runs.sh). Plain data, gathered by marllb-sim's main after both lcores returned,
// so both are tested without DPDK (sim/tests/test_run_report.cpp).
#pragma once

#include "lb.hpp"
#include "world.hpp"

#include <marllb/measure/result_row.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace marllb::sim {

// Gaps between consecutive publishes (the LB lcore's clock).
struct PublishGaps {
    std::uint64_t count = 0, min_ns = UINT64_MAX, max_ns = 0, sum_ns = 0;
    void add(std::uint64_t gap_ns) noexcept;
};

// Flood mode: the rate of each phase and how often the LB lcore found its rx ring empty.
struct FloodRates {
    double bare_mpps = 0, full_mpps = 0;
    double bare_empty_polls = 0, full_empty_polls = 0; // fractions of polls
    double bare_burst = 0, full_burst = 0;             // mean frames per non-empty poll
    // The LB phase's busy fraction (time in polls that returned frames, their processing
    // included, over the phase's time) and its capacity (frames / busy time): what the LB lcore
    // could forward were it never waiting for frames.
    double full_busy = 0, full_capacity_mpps = 0;
    double bare_gen_mpps = 0, full_gen_mpps = 0; // frames the world sent per second, per phase
    // LB phase: the share of the world's bursts that found the LB's input ring full (backlog:
    // frames were waiting for the LB).
    double full_ring_share = 0;
};

// A two-process --flood measures each half of FloodRates in its own process: the world what it
// generated (its *_gen_mpps, full_ring_share), the LB its phases (the rest). Each process's row
// carries both: it takes the other's half from the control frames.
inline void take_world_side(FloodRates &to, const FloodRates &world) noexcept {
    to.bare_gen_mpps = world.bare_gen_mpps, to.full_gen_mpps = world.full_gen_mpps;
    to.full_ring_share = world.full_ring_share;
}
inline void take_lb_side(FloodRates &to, const FloodRates &lb) noexcept {
    const FloodRates world = to;
    to = lb;
    take_world_side(to, world);
}

// The LB phase counts as saturated (the LB, not the world that generates its frames, set the
// rate) when frames were waiting for it: at least half of the world's bursts found the LB's
// input ring full, and the LB lcore was busy (in polls that returned frames) >= 95 % of the
// time. Busy alone does not show it: when both lcores run at the same pace the LB finds the
// ring empty, polls again tens of ns later and finds a burst, busy stays near 99 % while no
// frame ever waits (seen in floods whose world rewrote every frame the LB had just written).
inline constexpr double kSaturatedBusy = 0.95, kSaturatedFullRing = 0.5;
[[nodiscard]] inline bool lb_saturated(const FloodRates &f) noexcept {
    return f.full_busy >= kSaturatedBusy && f.full_ring_share >= kSaturatedFullRing;
}

// What the world saw (absent in flood mode, which has no clients).
struct WorldResults {
    WorldCounters counters;
    std::vector<float> fct_s;        // every completed flow
    std::vector<double> utilisation; // per server, over the whole run
    double rate_per_s = 0;           // the Poisson arrival rate of the configuration (a trace ignores it)
};

// World and LB as two processes (marllb-sim --role world|lb): what this process knows of the
// run across both. Each process writes its own row; the world's carries the LB's counters as the
// LB reported them at the end (its bye_ack), so one row accounts for every frame:
//   world_sent = packets + in flight lost with an LB that died;  packets = forwarded + drops;
//   world_received = forwarded - tx_full (when lb_reported and the LB never restarted).
struct TwoProcesses {
    std::string role;          // "world" or "lb"
    std::string link = "memif"; // how the two meet: "memif" or "af_packet"
    std::string status = "ok"; // ok, lb_restarted, lb_lost, no_ack, world_lost, stopped
    std::uint64_t world_sent = 0;     // frames the world's port toward the LB took (lb: from the world's bye; 0 without one)
    std::uint64_t world_received = 0; // data frames the world received from the LB (lb: 0)
    std::uint64_t forwarded = 0, tx_full = 0; // the LB's (world: as reported)
    bool lb_reported = false;         // world: the LB's bye_ack arrived (its counters are in this row)
    std::uint64_t lb_losses = 0;      // world: times the LB went away during the run
};

// A world whose servers are not what the LB believes or change during the run (docs/sim.md,
// "Dynamics"): as given on the command line.
struct Dynamics {
    std::string work = "exp";   // --work
    std::string provisioned;    // --provisioned (empty: the --servers capacities)
    std::string events;         // --events file name (empty: none)
    std::size_t event_count = 0;
};

enum class RunMode { realtime, lockstep, flood };
[[nodiscard]] const char *describe(RunMode m) noexcept;

struct RunReport {
    RunMode mode = RunMode::realtime;
    Policy policy = Policy::sed;
    LbModel model = LbModel::marllb;
    std::string servers;        // as given on the command line
    std::string traffic;        // "poisson", "flood" or the trace's file name
    unsigned lbs = 1;
    double time_scale = 1, publish_us = 0;
    double duration_s = 0;      // simulated seconds (flood: both phases)
    double wall_s = 0;
    std::uint64_t seed = 0;
    LbCounters lb;              // summed over the LB instances (add_counters)
    std::uint64_t published = 0, rejected = 0;
    double jain_duration = 1;   // over the last observation's decayed flow-duration means
    std::vector<std::uint32_t> publish_cost_ns; // each publish: the features, then the region's publish call
    std::vector<std::uint32_t> publish_call_ns; // each publish: the region's publish call alone
    double warm_us = 0; // the next slot was prefetched this long before a publish could be due (0: never)
    PublishGaps gaps;
    FloodRates flood;
    std::uint64_t lockstep_agent_timeouts = 0;
    std::optional<WorldResults> world;
    std::optional<TwoProcesses> processes; // --role world|lb only: their rows have its columns too
    std::optional<Dynamics> dynamics;      // --work, --provisioned or --events given: their rows have its columns too
};

// total += c, field by field.
void add_counters(LbCounters &total, const LbCounters &c) noexcept;

// Packets per second at the LB, in millions: flood, the LB phase's rate; lockstep, per wall
// second (simulated time runs as fast as the agent); real time, per simulated second.
[[nodiscard]] double lb_mpps(const RunReport &r) noexcept;

// The summary lines, each ending in '\n'; the first is blank.
[[nodiscard]] std::string summary_text(const RunReport &r);

// The run's result row: the host metadata of `host`, then the columns scripts read.
[[nodiscard]] measure::ResultRow result_row(const RunReport &r, const measure::Host &host);

} // namespace marllb::sim
