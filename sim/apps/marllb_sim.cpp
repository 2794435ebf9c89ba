// marllb-sim: the simulated world and the simulated load balancer on two DPDK lcores.
//
//   main lcore  (world): clients (Poisson or a MARLLB trace) and the servers; sends the
//                        clients' frames on --port-in, receives the LB's forwarded frames on
//                        --port-out and hands them to the chosen server.
//   worker lcore (LB):   receives on --port-in, runs the LB (state machine, policy), forwards
//                        on --port-out; publishes an observation into each LB's region every
//                        --publish-us and reads the action slot, when PublishSchedule says
//                        (marllb model: on the first packet an interval after the last publish,
//                        actions read only then; clean: a timer, actions read every burst).
//
// The embedded default needs no NIC and no hugepages: two net_ring vdevs, each a port whose
// TX ring is its RX ring (world -> LB on port 0, LB -> world on port 1). EAL arguments given
// after "--" replace the default ones (a NIC pair, hugepages, other cores).
//
// Modes: real time (default); --lockstep (simulated time advances event by event, and one
// publish interval only after the agent answered the last observation: reproducible, and as
// fast as the agent); --flood (throughput: many flows, frames as fast as the world builds
// them; a bare rx->tx handoff phase first as the in-run baseline).
#include "frame.hpp"
#include "lb.hpp"
#include "metrics.hpp"
#include "publish_schedule.hpp"
#include "servers.hpp"
#include "trace.hpp"
#include "world.hpp"

#include <marllb/measure/result_row.hpp>
#include <marllb/shm.hpp>

#include <CLI/CLI.hpp>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_pause.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

using namespace marllb;
using namespace marllb::sim;

namespace {

constexpr unsigned kBurst = 32;
constexpr std::uint64_t kSec = 1'000'000'000ull;

struct Config {
    // traffic and world
    std::string servers = "marllb7";
    double load = 0.85;
    double rate = 0; // flows/s; 0 = from --load
    double mean_work_ms = 50;
    std::string trace;
    double time_scale = 1.0;
    double ns_per_iteration = 6.5;
    double ack_interval_ms = 10;
    double duration_s = 20;
    std::uint64_t seed = 1;
    // LB
    std::string policy = "sed";
    std::string fallback = "keep";
    double agent_timeout_ms = 1000;
    std::string reservoir = "random";
    bool normalise_decay = false;
    std::string lb_model = "marllb";
    unsigned buckets_log2 = 0; // 0: the model's
    bool acks_from_request = false;
    unsigned lbs = 1;
    // region
    std::string region_prefix = "marllb_lb";
    bool no_region = false;
    bool raw_reservoirs = false;
    bool keep_region = false;
    double publish_us = 200'000;
    // modes
    bool lockstep = false;
    double lockstep_wait_ms = 2000;
    bool flood = false;
    unsigned flood_flows = 4096;
    unsigned flood_acks = 16;
    double flood_seconds = 3;
    // ports and output
    unsigned port_in = 0, port_out = 1;
    std::string csv, timeseries;
    bool quiet = false;
    std::vector<std::string> eal;
};

// ---- State shared by the two lcores ----------------------------------------------------------
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

struct LbInstance {
    std::unique_ptr<LoadBalancer> lb;
    std::optional<shm::LbRegion> region;
    shm::MsgOut msg{};
    bool raw = false; // publish the raw reservoirs too
    std::string name;
    bool agent_seen = false;
};

struct Run {
    Config cfg;
    std::vector<double> caps;
    Policy policy = Policy::sed;
    LbModel model = LbModel::marllb;
    Sync sync;
    LbStats stats;
    std::vector<LbInstance> lbs;
    rte_mempool *pool = nullptr;
    int ts_offset = -1; // mbuf dynamic field: the simulated time a frame was sent
    std::uint64_t start_ns = 0;
    // results of the LB lcore, read after it returned
    std::vector<std::uint32_t> publish_cost_ns;
    // Gaps between consecutive publish stamps (the LB lcore's clock): marllb's rule makes
    // every gap at least one interval; clean's timer keeps the count, not each gap.
    std::uint64_t last_publish_at = 0, publish_gaps = 0, gap_min_ns = UINT64_MAX, gap_max_ns = 0, gap_sum_ns = 0;
    double bare_mpps = 0, full_mpps = 0;
    double bare_empty_polls = 0, full_empty_polls = 0, bare_burst = 0, full_burst = 0; // flood diagnostics
    std::uint64_t lockstep_agent_timeouts = 0;
};

std::uint64_t mono_ns() { return marllb_now_mono_ns(); }

std::uint64_t &ts_of(Run &r, rte_mbuf *m) { return *RTE_MBUF_DYNFIELD(m, r.ts_offset, std::uint64_t *); }

// ---- LB lcore ------------------------------------------------------------------------------

void publish_all(Run &r, std::uint64_t now) {
    if (r.last_publish_at) {
        const std::uint64_t gap = now - r.last_publish_at;
        ++r.publish_gaps, r.gap_sum_ns += gap;
        r.gap_min_ns = std::min(r.gap_min_ns, gap), r.gap_max_ns = std::max(r.gap_max_ns, gap);
    }
    r.last_publish_at = now;
    for (auto &inst : r.lbs) {
        const std::uint64_t t0 = mono_ns();
        inst.lb->observe(now, inst.msg);
        if (inst.region) inst.region->publish(inst.msg, inst.raw ? &inst.lb->raw_reservoirs() : nullptr);
        if (r.publish_cost_ns.size() < r.publish_cost_ns.capacity())
            r.publish_cost_ns.push_back(std::uint32_t(mono_ns() - t0));
        inst.region ? inst.region->heartbeat() : void();
    }
    auto &m = r.lbs[0].msg;
    std::vector<double> d;
    for (unsigned s = 0; s < m.num_active_as; ++s) d.push_back(m.as_stats[s].reservoir_features[MARLLB_DURATION_MEAN_DECAY]);
    r.stats.jain_duration.store(jain_index(d), std::memory_order_relaxed);
    r.stats.published.store(r.stats.published.load(std::memory_order_relaxed) + r.lbs.size(), std::memory_order_relaxed);
    r.stats.last_obs_seq.store(m.sequence_id, std::memory_order_relaxed);
}

void poll_actions(Run &r) {
    for (auto &inst : r.lbs) {
        if (!inst.region) continue;
        const shm::PollResult p = inst.region->poll_action();
        if (p.status == MARLLB_POLL_APPLIED) {
            inst.lb->apply_action(*inst.region->action());
            inst.agent_seen = true;
            r.stats.applied.fetch_add(1, std::memory_order_relaxed);
            r.stats.last_action_seq.store(inst.region->action()->sequence_id, std::memory_order_relaxed);
        } else if (p.status == MARLLB_POLL_REJECTED) {
            r.stats.rejected.fetch_add(1, std::memory_order_relaxed);
        }
    }
}

void check_agents(Run &r) {
    const std::uint64_t timeout = std::uint64_t(r.cfg.agent_timeout_ms * 1e6);
    for (auto &inst : r.lbs) {
        if (!inst.region) continue;
        inst.region->heartbeat();
        if (inst.agent_seen && !inst.region->agent_alive(timeout) && !inst.lb->using_fallback()) {
            inst.lb->agent_lost();
            r.stats.fallbacks.fetch_add(1, std::memory_order_relaxed);
        }
    }
}

void process_burst(Run &r, rte_mbuf **pkts, unsigned n, std::uint64_t now, bool lockstep) {
    rte_mbuf *fwd[kBurst], *drop[kBurst];
    unsigned nf = 0, nd = 0;
    std::uint8_t *data[kBurst];
    std::uint16_t len[kBurst];
    std::uint64_t t[kBurst];
    int server[kBurst];
    for (unsigned i = 0; i < n; ++i) {
        data[i] = rte_pktmbuf_mtod(pkts[i], std::uint8_t *);
        len[i] = rte_pktmbuf_data_len(pkts[i]);
        if (lockstep) t[i] = ts_of(r, pkts[i]);
    }
    if (r.lbs.size() == 1) r.lbs[0].lb->process_burst(data, len, n, now, lockstep ? t : nullptr, server);
    else // the upstream router's ECMP: each LB instance gets the flows of its hash share
        for (unsigned i = 0; i < n; ++i) {
            const Parsed p = parse_frame(data[i], len[i]);
            const std::uint64_t h = flow_hash(p.key);
            const unsigned which = p.drop != Drop::none ? 0 : unsigned((h & 0xffff) % r.lbs.size());
            server[i] = r.lbs[which].lb->process_parsed(data[i], p, h, lockstep ? t[i] : now);
        }
    for (unsigned i = 0; i < n; ++i) {
        if (server[i] >= 0) fwd[nf++] = pkts[i];
        else drop[nd++] = pkts[i];
    }
    unsigned sent = 0;
    if (lockstep) // every frame must reach the world: it drains port_out while it waits
        while (sent < nf) sent += rte_eth_tx_burst(std::uint16_t(r.cfg.port_out), 0, fwd + sent, std::uint16_t(nf - sent));
    else {
        sent = rte_eth_tx_burst(std::uint16_t(r.cfg.port_out), 0, fwd, std::uint16_t(nf));
        if (sent < nf) {
            r.stats.tx_full.fetch_add(nf - sent, std::memory_order_relaxed);
            rte_pktmbuf_free_bulk(fwd + sent, nf - sent);
        }
    }
    if (nd) rte_pktmbuf_free_bulk(drop, nd);
    // Single writer: a relaxed load and store, not a locked read-modify-write per burst.
    r.stats.packets.store(r.stats.packets.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
    r.stats.forwarded.store(r.stats.forwarded.load(std::memory_order_relaxed) + nf, std::memory_order_relaxed);
    r.stats.dropped.store(r.stats.dropped.load(std::memory_order_relaxed) + nd, std::memory_order_relaxed);
}

int lb_lcore_realtime(Run &r) {
    PublishSchedule sched(r.model, std::uint64_t(r.cfg.publish_us * 1e3), r.start_ns);
    std::uint64_t next_check = 0;
    rte_mbuf *pkts[kBurst];
    while (!r.sync.stop.load(std::memory_order_relaxed)) {
        const unsigned n = rte_eth_rx_burst(std::uint16_t(r.cfg.port_in), 0, pkts, kBurst);
        const std::uint64_t now = mono_ns();
        if (n) process_burst(r, pkts, n, now, false);
        const PublishSchedule::Due due = sched.after_burst(now, n);
        if (due.publish) publish_all(r, now);
        if (due.read_actions) poll_actions(r);
        if (now >= next_check) {
            check_agents(r);
            next_check = now + 10'000'000;
        }
    }
    return 0;
}

// Flood: phase 0 forwards rx -> tx untouched (the bare handoff baseline), phase 1 runs the LB.
// Each phase's rate is measured here, from its first to its last frame.
int lb_lcore_flood(Run &r) {
    rte_mbuf *pkts[kBurst];
    const std::uint64_t interval = std::uint64_t(r.cfg.publish_us * 1e3);
    for (int phase = 0; phase < 2; ++phase) {
        while (r.sync.phase.load(std::memory_order_acquire) < phase && !r.sync.stop.load(std::memory_order_relaxed)) {
        }
        std::uint64_t first = 0, last = 0, count = 0, polls = 0, empty = 0;
        PublishSchedule sched(r.model, interval, mono_ns());
        while (r.sync.phase.load(std::memory_order_relaxed) == phase && !r.sync.stop.load(std::memory_order_relaxed)) {
            const unsigned n = rte_eth_rx_burst(std::uint16_t(r.cfg.port_in), 0, pkts, kBurst);
            ++polls;
            if (!n) {
                empty += first != 0;
                continue;
            }
            const std::uint64_t now = mono_ns();
            if (!first) first = now;
            last = now;
            count += n;
            if (phase == 0) {
                const unsigned sent = rte_eth_tx_burst(std::uint16_t(r.cfg.port_out), 0, pkts, std::uint16_t(n));
                if (sent < n) rte_pktmbuf_free_bulk(pkts + sent, n - sent);
                continue;
            }
            process_burst(r, pkts, n, now, false);
            const PublishSchedule::Due due = sched.after_burst(now, n);
            if (due.publish) publish_all(r, now);
            if (due.read_actions) poll_actions(r);
        }
        const double mpps = last > first ? double(count) / (double(last - first) * 1e-9) / 1e6 : 0;
        (phase == 0 ? r.bare_mpps : r.full_mpps) = mpps;
        // Polls that found the ring empty: the LB waited for the world (the LB had headroom).
        (phase == 0 ? r.bare_empty_polls : r.full_empty_polls) = polls ? double(empty) / double(polls) : 0;
        (phase == 0 ? r.bare_burst : r.full_burst) = polls > empty ? double(count) / double(polls - empty) : 0;
    }
    return 0;
}

// Lockstep LB: handles every frame at the time stamped on it; when the world announces a step
// (L2), drains what the world sent, publishes if the step reached a publish boundary, waits
// for the agents' answers, then acknowledges the step (L3).
void wait_for_answers(Run &r, std::uint64_t &next_check);

int lb_lcore_lockstep(Run &r) {
    PublishSchedule sched(r.model, std::uint64_t(r.cfg.publish_us * 1e3), r.start_ns);
    std::uint64_t done = 0, next_check = 0, t_last = r.start_ns;
    const bool wait_agent = r.policy == Policy::agent_sed || r.policy == Policy::agent_alias;
    rte_mbuf *pkts[kBurst];
    while (!r.sync.stop.load(std::memory_order_relaxed)) {
        const std::uint64_t step = r.sync.world_step.load(std::memory_order_acquire); // L2
        unsigned n;
        while ((n = rte_eth_rx_burst(std::uint16_t(r.cfg.port_in), 0, pkts, kBurst)) > 0) process_burst(r, pkts, n, 0, true);
        const std::uint64_t wall = mono_ns();
        if (wall >= next_check) {
            check_agents(r);
            next_check = wall + 10'000'000;
        }
        if (step == done) {
            // Between steps simulated time stands at t_last, whose publish (if due) is done:
            // the clean model reads actions here, the marllb model (no packet) does nothing.
            if (sched.after_burst(t_last, 0).read_actions) poll_actions(r);
            continue;
        }
        const std::uint64_t t = r.sync.world_time.load(std::memory_order_relaxed);
        t_last = t;
        // A step stands for the packet that reaches the LB at t: the world steps at every
        // publish boundary, so both models publish at the boundaries here.
        const PublishSchedule::Due due = sched.after_burst(t, 1);
        if (due.publish) {
            // marllb (node.c:509-517): the action slot is read after this publish; it holds the
            // answer to the previous observation (the agent had an interval for it), so wait for
            // that answer first. Actions take effect one interval after the observation they
            // answer. clean: the answer to this observation is awaited after it, and applied.
            const bool before = sched.model() == LbModel::marllb;
            if (wait_agent && before && r.stats.published.load(std::memory_order_relaxed) > 0) wait_for_answers(r, next_check);
            publish_all(r, t);
            if (wait_agent && !before) wait_for_answers(r, next_check);
        }
        if (due.read_actions) poll_actions(r);
        done = step;
        r.sync.lb_step.store(step, std::memory_order_release); // L3
    }
    return 0;
}

// Lockstep: polls (and so applies) actions until every LB's agent answered its last
// observation, or the wait runs out.
void wait_for_answers(Run &r, std::uint64_t &next_check) {
    const std::uint64_t give_up = mono_ns() + std::uint64_t(r.cfg.lockstep_wait_ms * 1e6);
    for (;;) {
        poll_actions(r);
        bool answered = true;
        for (auto &inst : r.lbs)
            answered &= inst.region && inst.region->action() && inst.region->action()->sequence_id >= inst.msg.sequence_id;
        if (answered) return;
        if (mono_ns() > give_up || r.sync.stop.load(std::memory_order_relaxed)) {
            ++r.lockstep_agent_timeouts;
            return;
        }
        if (mono_ns() >= next_check) {
            check_agents(r);
            next_check = mono_ns() + 10'000'000;
        }
    }
}

int lb_lcore_main(void *arg) {
    Run &r = *static_cast<Run *>(arg);
    if (r.cfg.flood) return lb_lcore_flood(r);
    return r.cfg.lockstep ? lb_lcore_lockstep(r) : lb_lcore_realtime(r);
}

// ---- World (main lcore) ----------------------------------------------------------------------

struct TxBatch {
    explicit TxBatch(Run &run) : r(run) {}
    Run &r;
    rte_mbuf *m[kBurst] = {};
    unsigned n = 0;
    std::uint64_t gen_drops = 0;
    bool must_deliver = false; // lockstep: retry until the LB took every frame
    void add(const Packet &p) {
        rte_mbuf *mb = rte_pktmbuf_alloc(r.pool);
        if (!mb) { ++gen_drops; return; }
        auto *d = reinterpret_cast<std::uint8_t *>(rte_pktmbuf_append(mb, kFrameLen));
        build_frame(d, p.key, p.flags, p.seq);
        ts_of(r, mb) = p.t_ns;
        m[n++] = mb;
        if (n == kBurst) flush();
    }
    void flush() {
        unsigned sent = 0;
        do sent += rte_eth_tx_burst(std::uint16_t(r.cfg.port_in), 0, m + sent, std::uint16_t(n - sent));
        while (must_deliver && sent < n);
        if (sent < n) {
            gen_drops += n - sent;
            rte_pktmbuf_free_bulk(m + sent, n - sent);
        }
        n = 0;
    }
};

unsigned drain_forwarded(Run &r, World &w, std::uint64_t now, bool use_stamp) {
    rte_mbuf *pkts[kBurst];
    unsigned total = 0, n;
    while ((n = rte_eth_rx_burst(std::uint16_t(r.cfg.port_out), 0, pkts, kBurst)) > 0) {
        for (unsigned i = 0; i < n; ++i)
            w.on_forwarded(rte_pktmbuf_mtod(pkts[i], std::uint8_t *), rte_pktmbuf_data_len(pkts[i]),
                           use_stamp ? ts_of(r, pkts[i]) : now);
        rte_pktmbuf_free_bulk(pkts, n);
        total += n;
    }
    return total;
}

struct Progress {
    Run &r;
    FILE *series = nullptr;
    std::uint64_t last_wall = 0, last_packets = 0;
    std::size_t last_fct = 0;
    void header() {
        last_wall = mono_ns(); // the first line comes after one second
        if (!r.cfg.quiet)
            std::printf("%8s %8s %8s %9s %9s %7s %7s %10s\n", "time_s", "Mpps", "flows", "obs_seq", "action", "jain_u",
                        "jain_d", "fct_p90_ms");
        if (series) std::fprintf(series, "elapsed_s,mpps,active_flows,obs_seq,action_seq,jain_util,jain_duration,fct_p50_ms,fct_p90_ms,fallbacks\n");
    }
    void tick(World &w, std::uint64_t sim_now, bool force = false) {
        const std::uint64_t wall = mono_ns();
        if (!force && wall < last_wall + kSec) return;
        const double dt = double(wall - last_wall) * 1e-9;
        const std::uint64_t pk = r.stats.packets.load(std::memory_order_relaxed);
        const double mpps = double(pk - last_packets) / dt / 1e6;
        last_wall = wall;
        last_packets = pk;
        const auto &f = w.fct_s();
        std::vector<float> recent(f.begin() + std::ptrdiff_t(last_fct), f.end());
        last_fct = f.size();
        const double p50 = quantile(recent, 0.5) * 1e3, p90 = quantile(recent, 0.9) * 1e3;
        const double ju = jain_index(w.utilisation(sim_now));
        const double jd = r.stats.jain_duration.load(std::memory_order_relaxed);
        const double el = double(sim_now - r.start_ns) * 1e-9;
        const auto obs = r.stats.last_obs_seq.load(std::memory_order_relaxed);
        const auto act = r.stats.last_action_seq.load(std::memory_order_relaxed);
        if (!r.cfg.quiet) {
            std::printf("%8.1f %8.3f %8llu %9llu %9llu %7.3f %7.3f %10.1f\n", el, mpps, (unsigned long long)w.active_flows(),
                        (unsigned long long)obs, (unsigned long long)act, ju, jd, p90);
            std::fflush(stdout);
        }
        if (series)
            std::fprintf(series, "%.3f,%.4f,%llu,%llu,%llu,%.5f,%.5f,%.3f,%.3f,%llu\n", el, mpps,
                         (unsigned long long)w.active_flows(), (unsigned long long)obs, (unsigned long long)act, ju, jd, p50, p90,
                         (unsigned long long)r.stats.fallbacks.load(std::memory_order_relaxed));
    }
};

WorldConfig world_config(const Run &r, std::vector<TraceEntry> trace) {
    WorldConfig wc;
    wc.capacities = r.caps;
    wc.mean_work_s = r.cfg.mean_work_ms * 1e-3;
    double total = 0;
    for (double c : r.caps) total += c;
    wc.rate = r.cfg.rate > 0 ? r.cfg.rate : r.cfg.load * total / wc.mean_work_s;
    wc.trace = std::move(trace);
    wc.time_scale = r.cfg.time_scale;
    wc.seconds_per_iteration = r.cfg.ns_per_iteration * 1e-9;
    wc.ack_interval_ns = std::uint64_t(r.cfg.ack_interval_ms * 1e6);
    wc.acks_from_request = r.cfg.acks_from_request;
    wc.start_ns = r.start_ns;
    wc.arrivals_until_ns = r.start_ns + std::uint64_t(r.cfg.duration_s * 1e9);
    wc.seed = r.cfg.seed;
    return wc;
}

void world_realtime(Run &r, World &w, Progress &prog) {
    TxBatch tx(r);
    const std::uint64_t end = r.start_ns + std::uint64_t(r.cfg.duration_s * 1e9);
    for (;;) {
        const std::uint64_t now = mono_ns();
        if (now >= end) break;
        w.run_until(now, [&](const Packet &p) { tx.add(p); });
        if (tx.n) tx.flush();
        drain_forwarded(r, w, now, false);
        prog.tick(w, now);
    }
    prog.tick(w, end, true);
    if (tx.gen_drops) std::fprintf(stderr, "marllb-sim: %llu frames not sent (mbufs or the LB's ring full)\n", (unsigned long long)tx.gen_drops);
}

// Lockstep world: the next time is the next event or the next publish boundary; the world
// sends what happens then, announces the step (L1), and waits for the LB's acknowledgement
// (L4) while draining what the LB forwards.
void world_lockstep(Run &r, World &w, Progress &prog) {
    TxBatch tx(r);
    tx.must_deliver = true;
    const std::uint64_t interval = std::uint64_t(r.cfg.publish_us * 1e3);
    const std::uint64_t end = r.start_ns + std::uint64_t(r.cfg.duration_s * 1e9);
    std::uint64_t next_boundary = r.start_ns + interval, step = 0;
    for (;;) {
        const std::uint64_t t = std::min(w.next_event(), next_boundary);
        if (t > end) break;
        w.run_until(t, [&](const Packet &p) { tx.add(p); });
        if (tx.n) tx.flush();
        r.sync.world_time.store(t, std::memory_order_relaxed);
        r.sync.world_step.store(++step, std::memory_order_release); // L1
        while (r.sync.lb_step.load(std::memory_order_acquire) != step) drain_forwarded(r, w, t, true); // L4
        drain_forwarded(r, w, t, true);
        if (t >= next_boundary) next_boundary += interval;
        prog.tick(w, t);
    }
    prog.tick(w, end, true);
}

// Flood: flows in round robin, each sending SYN, its handshake ACK, --flood-acks ACKs (each a
// flow-duration sample at the LB) and RST|ACK, then starting again on a new port.
void world_flood(Run &r) {
    struct FloodFlow { FlowKey key; std::uint32_t k = 0, gen = 0; };
    std::vector<FloodFlow> flows(r.cfg.flood_flows);
    for (std::uint32_t i = 0; i < flows.size(); ++i) flows[i].key = FlowKey{0x0A000000u | i, kVip, 1024, kVipPort};
    std::size_t next = 0;
    rte_mbuf *m[kBurst], *back[kBurst];
    for (int phase = 0; phase < 2; ++phase) {
        r.sync.phase.store(phase, std::memory_order_release);
        const std::uint64_t end = mono_ns() + std::uint64_t(r.cfg.flood_seconds * 1e9);
        std::uint64_t now = mono_ns();
        while (now < end) {
            if (rte_pktmbuf_alloc_bulk(r.pool, m, kBurst) == 0) {
                for (unsigned i = 0; i < kBurst; ++i) {
                    FloodFlow &f = flows[next];
                    next = next + 1 == flows.size() ? 0 : next + 1;
                    const std::uint8_t flags = f.k == 0 ? kTcpSyn : f.k <= r.cfg.flood_acks + 1 ? kTcpAck : kTcpRst | kTcpAck;
                    m[i]->data_len = m[i]->pkt_len = kFrameLen;
                    build_frame(rte_pktmbuf_mtod(m[i], std::uint8_t *), f.key, flags, f.k);
                    if (++f.k > r.cfg.flood_acks + 2) { // the RST went out: the next connection, a new port
                        f.k = 0;
                        f.key.src_port = std::uint16_t(1024 + (++f.gen % 64000));
                    }
                    ts_of(r, m[i]) = now;
                }
                // Every frame goes out (a lost SYN would turn its flow's packets into unknown ones):
                // while the LB's ring is full, drain what it forwarded and try again.
                unsigned sent = 0;
                while ((sent += rte_eth_tx_burst(std::uint16_t(r.cfg.port_in), 0, m + sent, std::uint16_t(kBurst - sent))) < kBurst) {
                    const unsigned n = rte_eth_rx_burst(std::uint16_t(r.cfg.port_out), 0, back, kBurst);
                    if (n) rte_pktmbuf_free_bulk(back, n);
                    else rte_pause();
                }
            }
            const unsigned n = rte_eth_rx_burst(std::uint16_t(r.cfg.port_out), 0, back, kBurst);
            if (n) rte_pktmbuf_free_bulk(back, n);
            now = mono_ns();
        }
        // Let the LB drain before the next phase starts.
        const std::uint64_t settle = mono_ns() + 50'000'000;
        while (mono_ns() < settle) {
            const unsigned n = rte_eth_rx_burst(std::uint16_t(r.cfg.port_out), 0, back, kBurst);
            if (n) rte_pktmbuf_free_bulk(back, n);
        }
    }
    r.sync.phase.store(2, std::memory_order_release);
}

// ---- Setup -----------------------------------------------------------------------------------

[[noreturn]] void fail(const std::string &msg) {
    std::fprintf(stderr, "marllb-sim: %s\n", msg.c_str());
    std::exit(2);
}

void setup_port(unsigned port, rte_mempool *pool) {
    rte_eth_conf conf{};
    if (rte_eth_dev_configure(std::uint16_t(port), 1, 1, &conf) < 0 ||
        rte_eth_rx_queue_setup(std::uint16_t(port), 0, 1024, rte_socket_id(), nullptr, pool) < 0 ||
        rte_eth_tx_queue_setup(std::uint16_t(port), 0, 1024, rte_socket_id(), nullptr) < 0 ||
        rte_eth_dev_start(std::uint16_t(port)) < 0)
        fail("cannot set up port " + std::to_string(port) + ": " + rte_strerror(rte_errno));
}

std::vector<std::string> default_eal() {
    return {"--no-huge", "--no-shconf", "--no-pci", "--no-telemetry", "-l", "0-1", "-m", "512",
            "--vdev=net_ring0", "--vdev=net_ring1", "--log-level=warning"};
}

} // namespace

int main(int argc, char **argv) {
    Config cfg;
    // Everything after "--" goes to the EAL.
    int own_argc = argc;
    for (int i = 1; i < argc; ++i)
        if (std::strcmp(argv[i], "--") == 0) {
            own_argc = i;
            for (int j = i + 1; j < argc; ++j) cfg.eal.emplace_back(argv[j]);
            break;
        }

    CLI::App app{"marllb-sim: a simulated world (clients, servers) and a simulated MARLLB load balancer on two DPDK "
                 "lcores, publishing observations into marllb-shm regions and applying the agent's actions.\n"
                 "EAL arguments after '--' replace the default (no hugepages, no NIC: two net_ring vdevs, lcores 0-1)."};
    app.add_option("--duration", cfg.duration_s, "seconds of traffic (simulated seconds in --lockstep)")->check(CLI::PositiveNumber);
    app.add_option("--servers", cfg.servers, "capacities in cores ('1,1,2'), a preset (marllb7, marllb6, marllb24) or @file");
    app.add_option("--load", cfg.load, "offered load as a fraction of the total capacity (Poisson)")->check(CLI::Range(0.01, 2.0));
    app.add_option("--rate", cfg.rate, "Poisson flow arrivals per second (overrides --load)")->check(CLI::NonNegativeNumber);
    app.add_option("--mean-work-ms", cfg.mean_work_ms, "mean work per flow, core-milliseconds (Poisson)")->check(CLI::PositiveNumber);
    app.add_option("--trace", cfg.trace, "replay a MARLLB trace file instead of Poisson arrivals (sim/traces/*.csv)");
    app.add_option("--time-scale", cfg.time_scale, "trace replay speed: 2 = arrivals twice as fast")->check(CLI::PositiveNumber);
    app.add_option("--ns-per-iteration", cfg.ns_per_iteration, "trace: server work per loop iteration, ns")->check(CLI::PositiveNumber);
    app.add_option("--ack-interval-ms", cfg.ack_interval_ms, "client ACKs while a response streams, one per interval")->check(CLI::PositiveNumber);
    app.add_option("--seed", cfg.seed, "random seed (arrivals, work, reservoirs)");
    app.add_option("--policy", cfg.policy, "ecmp, wcmp, lsq, sed, agent (= agent-sed) or agent-alias");
    app.add_option("--fallback", cfg.fallback, "when the agent's heartbeat stops: keep (last weights) or static")->check(CLI::IsMember({"keep", "static"}));
    app.add_option("--agent-timeout-ms", cfg.agent_timeout_ms, "agent heartbeat timeout before the fallback")->check(CLI::PositiveNumber);
    app.add_option("--reservoir", cfg.reservoir, "sample replacement: random (MARLLB) or algorithm-r")->check(CLI::IsMember({"random", "algorithm-r"}));
    app.add_flag("--normalise-decay", cfg.normalise_decay, "divide the decayed features by the mean decay weight");
    app.add_option("--lb-model", cfg.lb_model, "marllb (MARLLB's plugin, quirks included) or clean (docs/sim.md)")
        ->check(CLI::IsMember({"marllb", "clean"}));
    app.add_option("--buckets-log2", cfg.buckets_log2, "flow table: 2^N buckets of 4 entries (default: marllb 10, clean 16)")
        ->check(CLI::Range(4u, 24u));
    app.add_flag("--acks-from-request", cfg.acks_from_request,
                 "clients ACK from their request on, even while it waits in a server's backlog (default: from when a worker takes it)");
    app.add_option("--lbs", cfg.lbs, "LB instances on the LB lcore, each with its own region <prefix>N")->check(CLI::Range(1u, 64u));
    app.add_option("--region-prefix", cfg.region_prefix, "region names are <prefix>0, <prefix>1, ...");
    app.add_flag("--no-region", cfg.no_region, "run without publishing (no shared memory)");
    app.add_flag("--raw-reservoirs", cfg.raw_reservoirs, "create regions with the raw reservoir section");
    app.add_flag("--keep-region", cfg.keep_region, "leave the regions in /dev/shm at exit");
    app.add_option("--publish-us", cfg.publish_us, "observation cadence, microseconds (100 .. 10^7)")->check(CLI::Range(100.0, 1e7));
    app.add_flag("--lockstep", cfg.lockstep, "simulated time; with an agent policy each interval waits for the agent's answer");
    app.add_option("--lockstep-wait-ms", cfg.lockstep_wait_ms, "lockstep: longest wait for an agent's answer")->check(CLI::PositiveNumber);
    app.add_flag("--flood", cfg.flood, "throughput run: a bare rx->tx phase, then the LB, each --flood-seconds");
    app.add_option("--flood-flows", cfg.flood_flows, "flood: concurrent flows")->check(CLI::Range(1u, 1u << 22));
    app.add_option("--flood-acks", cfg.flood_acks, "flood: ACKs per flow between its handshake and its RST")->check(CLI::Range(0u, 1000u));
    app.add_option("--flood-seconds", cfg.flood_seconds, "flood: seconds per phase")->check(CLI::PositiveNumber);
    app.add_option("--port-in", cfg.port_in, "ethdev port world -> LB");
    app.add_option("--port-out", cfg.port_out, "ethdev port LB -> world");
    app.add_option("--csv", cfg.csv, "append the run's result row to this CSV file");
    app.add_option("--timeseries", cfg.timeseries, "write one row per second (progress) to this CSV file");
    app.add_flag("--quiet", cfg.quiet, "no progress lines");
    CLI11_PARSE(app, own_argc, argv);

    Run r;
    r.cfg = cfg;
    auto caps = parse_server_set(cfg.servers);
    if (!caps) fail(caps.error().message);
    r.caps = *caps;
    if (!parse_lb_model(cfg.lb_model, r.model)) fail("unknown --lb-model '" + cfg.lb_model + "': use marllb or clean");
    if (!parse_policy(cfg.policy, r.policy))
        fail("unknown --policy '" + cfg.policy + "': use ecmp, wcmp, lsq, sed, agent, agent-sed or agent-alias");
    std::vector<TraceEntry> trace;
    if (!cfg.trace.empty()) {
        auto t = load_trace(cfg.trace);
        if (!t) fail(t.error().message);
        trace = std::move(*t);
    }
    if (cfg.lockstep && cfg.flood) fail("--lockstep and --flood are different modes: pick one");

    // EAL
    std::vector<std::string> eal_args{"marllb-sim"};
    const auto extra = cfg.eal.empty() ? default_eal() : cfg.eal;
    eal_args.insert(eal_args.end(), extra.begin(), extra.end());
    std::vector<char *> eal_argv;
    for (auto &a : eal_args) eal_argv.push_back(a.data());
    if (rte_eal_init(int(eal_argv.size()), eal_argv.data()) < 0)
        fail(std::string("DPDK EAL initialisation failed: ") + rte_strerror(rte_errno) +
             ". Check the EAL arguments after '--' (without them: --no-huge --no-shconf --no-pci --no-telemetry -l 0-1 "
             "--vdev=net_ring0 --vdev=net_ring1)");
    if (rte_lcore_count() < 2) fail("two lcores are needed (world and LB): pass -l with two cores to the EAL");
    if (rte_eth_dev_count_avail() < 2 && cfg.port_in == cfg.port_out)
        fail("ports: --port-in and --port-out must differ");
    if (!rte_eth_dev_is_valid_port(std::uint16_t(cfg.port_in)) || !rte_eth_dev_is_valid_port(std::uint16_t(cfg.port_out)))
        fail("ethdev ports " + std::to_string(cfg.port_in) + " and " + std::to_string(cfg.port_out) + " must exist (" +
             std::to_string(rte_eth_dev_count_avail()) + " available): add --vdev=net_ring0 --vdev=net_ring1 or a NIC pair");

    r.pool = rte_pktmbuf_pool_create("marllb_sim_pool", 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, int(rte_socket_id()));
    if (!r.pool) fail(std::string("cannot create the mbuf pool: ") + rte_strerror(rte_errno) + " (raise -m in the EAL arguments)");
    std::uint64_t ts_flag = 0;
    if (rte_mbuf_dyn_rx_timestamp_register(&r.ts_offset, &ts_flag) < 0) fail("cannot register the mbuf timestamp field");
    setup_port(cfg.port_in, r.pool);
    setup_port(cfg.port_out, r.pool);

    // LB instances and their regions
    LbConfig lc;
    lc.capacities = r.caps;
    lc.policy = r.policy;
    lc.fallback = cfg.fallback == "static" ? Fallback::static_weights : Fallback::keep_last;
    lc.model = r.model;
    lc.buckets_log2 = cfg.buckets_log2;
    lc.reservoir_mode = cfg.reservoir == "algorithm-r" ? ReservoirMode::algorithm_r : ReservoirMode::random_replacement;
    lc.features.normalise_decay = cfg.normalise_decay;
    for (unsigned i = 0; i < cfg.lbs; ++i) {
        LbInstance inst;
        lc.seed = cfg.seed * 1000 + i;
        inst.lb = std::make_unique<LoadBalancer>(lc);
        if (!cfg.no_region) {
            shm::Options o = shm::default_options();
            if (cfg.raw_reservoirs) o.flags |= MARLLB_OPT_RAW_RESERVOIRS;
            const std::string name = cfg.region_prefix + std::to_string(i);
            auto reg = shm::LbRegion::open(name, o);
            if (!reg) fail("region '" + name + "': " + reg.error().message);
            if (reg->generation() > 1) // a restarted LB: worth saying even with --quiet
                std::printf("region %s reopened (generation %llu)\n", name.c_str(), (unsigned long long)reg->generation());
            inst.raw = cfg.raw_reservoirs && reg->mapping().reservoirs() != nullptr;
            inst.region.emplace(std::move(*reg));
            inst.name = name;
        }
        r.lbs.push_back(std::move(inst));
    }
    r.publish_cost_ns.reserve(1 << 20);

    const unsigned worker = rte_get_next_lcore(rte_lcore_id(), 1, 0);
    r.start_ns = mono_ns();
    std::optional<World> world;
    if (!cfg.flood) world.emplace(world_config(r, std::move(trace)));
    FILE *series = nullptr;
    if (!cfg.timeseries.empty()) {
        std::error_code ec;
        const std::filesystem::path p(cfg.timeseries);
        if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ec);
        series = std::fopen(cfg.timeseries.c_str(), "w");
        if (!series) fail("cannot write --timeseries '" + cfg.timeseries + "'");
    }
    Progress prog{r, series};
    if (!cfg.flood) prog.header();
    if (rte_eal_remote_launch(lb_lcore_main, &r, worker) != 0) fail("cannot launch the LB lcore");

    const std::uint64_t wall0 = mono_ns();
    if (cfg.flood) world_flood(r);
    else if (cfg.lockstep) world_lockstep(r, *world, prog);
    else world_realtime(r, *world, prog);
    r.sync.stop.store(true, std::memory_order_relaxed);
    rte_eal_mp_wait_lcore();
    const double wall_s = double(mono_ns() - wall0) * 1e-9;
    if (series) std::fclose(series);

    // ---- Summary and result row
    LbCounters total;
    for (auto &inst : r.lbs) {
        const auto &c = inst.lb->counters();
        total.packets += c.packets, total.forwarded += c.forwarded, total.flows += c.flows;
        total.flows_ended += c.flows_ended, total.flows_expired += c.flows_expired;
        total.untracked += c.untracked, total.untracked_syns += c.untracked_syns, total.guessed_fcts += c.guessed_fcts;
        total.negative_on += c.negative_on;
        total.actions_applied += c.actions_applied, total.fallbacks += c.fallbacks;
        for (std::size_t d = 0; d < kDropReasons; ++d) total.drops[d] += c.drops[d];
    }
    const std::uint64_t end_ns = r.start_ns + std::uint64_t(cfg.duration_s * 1e9);
    std::vector<double> util = world ? world->utilisation(end_ns) : std::vector<double>{};
    const std::vector<float> no_fct;
    const auto &fct = world ? world->fct_s() : no_fct;
    auto cost = r.publish_cost_ns;
    const double cost_p50 = quantile(cost, 0.5) / 1e3, cost_p99 = quantile(cost, 0.99) / 1e3;
    const double cost_max = cost.empty() ? 0 : double(*std::max_element(cost.begin(), cost.end())) / 1e3;
    const double sim_s = cfg.flood ? 2 * cfg.flood_seconds : cfg.duration_s;
    const double mpps = cfg.flood ? r.full_mpps : double(total.packets) / (cfg.lockstep ? wall_s : sim_s) / 1e6;
    const char *mode = cfg.flood ? "flood" : cfg.lockstep ? "lockstep" : "realtime";

    std::printf("\nmarllb-sim %s: policy %s, servers %s, %u LB%s, %.1f s\n", mode, std::string(describe(r.policy)).c_str(),
                cfg.servers.c_str(), cfg.lbs, cfg.lbs > 1 ? "s" : "", cfg.flood ? sim_s : cfg.duration_s);
    std::printf("  %-28s %llu (%.3f Mpps%s)\n", "packets at the LB", (unsigned long long)total.packets, mpps,
                cfg.lockstep ? " of wall time" : "");
    if (cfg.flood)
        std::printf("  %-28s bare rx->tx %.2f Mpps, LB %.2f Mpps (%.2f of bare)\n"
                    "  %-28s bare %.0f %% empty, mean burst %.1f; LB %.0f %% empty, mean burst %.1f\n",
                    "throughput (64-byte frames)", r.bare_mpps, r.full_mpps, r.bare_mpps > 0 ? r.full_mpps / r.bare_mpps : 0,
                    "LB lcore rx polls", 100 * r.bare_empty_polls, r.bare_burst, 100 * r.full_empty_polls, r.full_burst);
    std::printf("  %-28s %llu new, %llu ended by RST, %llu expired\n", "flows at the LB", (unsigned long long)total.flows,
                (unsigned long long)total.flows_ended, (unsigned long long)total.flows_expired);
    std::printf("  %-28s %s: %llu untracked packets (%llu SYNs), %llu guessed FCTs, %llu n_flow_on < 0\n", "LB model",
                std::string(describe(r.model)).c_str(), (unsigned long long)total.untracked,
                (unsigned long long)total.untracked_syns, (unsigned long long)total.guessed_fcts,
                (unsigned long long)total.negative_on);
    std::printf("  %-28s %llu", "drops", (unsigned long long)total.dropped());
    for (std::size_t d = 1; d < kDropReasons; ++d)
        if (total.drops[d]) std::printf(", %s %llu", std::string(describe(Drop(d))).c_str(), (unsigned long long)total.drops[d]);
    std::printf("\n  %-28s %llu published, %llu actions applied, %llu rejected, %llu fallbacks\n", "observations / actions",
                (unsigned long long)r.stats.published.load(), (unsigned long long)total.actions_applied,
                (unsigned long long)r.stats.rejected.load(), (unsigned long long)total.fallbacks);
    std::printf("  %-28s p50 %.2f us, p99 %.2f us, max %.2f us (%zu publishes)\n", "publish cost (features+copy)", cost_p50,
                cost_p99, cost_max, cost.size());
    if (world) {
        const auto &wc = world->counters();
        std::printf("  %-28s %llu started, %llu completed, %llu reset by a full server, %llu SYN timeouts\n", "client flows",
                    (unsigned long long)wc.flows_started, (unsigned long long)wc.flows_completed, (unsigned long long)wc.resets,
                    (unsigned long long)wc.syn_timeouts);
        std::printf("  %-28s p50 %.1f ms, p90 %.1f ms, p99 %.1f ms\n", "FCT (clients)", quantile(fct, 0.5) * 1e3,
                    quantile(fct, 0.9) * 1e3, quantile(fct, 0.99) * 1e3);
        std::printf("  %-28s utilisation %.4f, flow-duration decayed mean %.4f\n", "Jain's index", jain_index(util),
                    r.stats.jain_duration.load());
    }
    if (r.publish_gaps)
        std::printf("  %-28s min %.3f ms, mean %.3f ms, max %.3f ms (%s model)\n", "gaps between publishes",
                    double(r.gap_min_ns) / 1e6, double(r.gap_sum_ns) / double(r.publish_gaps) / 1e6,
                    double(r.gap_max_ns) / 1e6, std::string(describe(r.model)).c_str());
    if (r.lockstep_agent_timeouts)
        std::printf("  %-28s %llu intervals went on without the agent's answer\n", "lockstep", (unsigned long long)r.lockstep_agent_timeouts);

    if (!cfg.csv.empty()) {
        measure::ResultRow row;
        row.add("mode", mode).add("lb_model", std::string(describe(r.model))).add("policy", std::string(describe(r.policy)))
            .add("servers", cfg.servers)
            .add("traffic", cfg.flood ? "flood" : cfg.trace.empty() ? "poisson" : std::filesystem::path(cfg.trace).filename().string())
            .add("rate_per_s", world ? world_config(r, {}).rate : 0.0).add("time_scale", cfg.time_scale)
            .add("lbs", std::uint64_t(cfg.lbs)).add("publish_us", cfg.publish_us).add("duration_s", sim_s).add("wall_s", wall_s)
            .add("seed", cfg.seed).add("packets", total.packets).add("mpps", mpps).add("bare_mpps", r.bare_mpps)
            .add("ratio_to_bare", r.bare_mpps > 0 ? r.full_mpps / r.bare_mpps : 0.0).add("flows", total.flows)
            .add("drops", total.dropped());
        for (std::size_t d = 1; d < kDropReasons; ++d) row.add("drop_" + std::string(describe(Drop(d))), total.drops[d]);
        row.add("untracked", total.untracked).add("untracked_syns", total.untracked_syns)
            .add("guessed_fcts", total.guessed_fcts).add("negative_on", total.negative_on);
        row.add("observations", r.stats.published.load()).add("actions_applied", total.actions_applied)
            .add("actions_rejected", r.stats.rejected.load()).add("fallbacks", total.fallbacks)
            .add("flows_completed", world ? world->counters().flows_completed : 0).add("resets", world ? world->counters().resets : 0)
            .add("fct_p50_s", quantile(fct, 0.5)).add("fct_p90_s", quantile(fct, 0.9)).add("fct_p99_s", quantile(fct, 0.99))
            .add("jain_util", world ? jain_index(util) : 0.0).add("jain_duration", r.stats.jain_duration.load())
            .add("publish_cost_p50_us", cost_p50).add("publish_cost_p99_us", cost_p99).add("publish_cost_max_us", cost_max);
        if (auto ok = row.append_to(cfg.csv); !ok) fail(ok.error().message);
        std::printf("  row appended to %s\n", cfg.csv.c_str());
    }

    for (auto &inst : r.lbs)
        if (inst.region && !cfg.keep_region) {
            inst.region.reset();
            (void)shm::unlink_region(inst.name);
        }
    rte_eth_dev_stop(std::uint16_t(cfg.port_in));
    rte_eth_dev_stop(std::uint16_t(cfg.port_out));
    rte_eal_cleanup();
    return 0;
}
