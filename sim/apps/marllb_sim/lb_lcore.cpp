// The LB lcore: receives what the world sent on --port-in, runs the LB instances (state
// machine, policy), forwards on --port-out, publishes observations and reads actions when
// PublishSchedule says. Three loops: real time, flood (a bare rx->tx phase first) and lockstep.
#include "run.hpp"

#include "capture.hpp"
#include "frame.hpp"
#include "metrics.hpp"
#include "publish_schedule.hpp"

#include <rte_cycles.h>
#include <rte_ethdev.h>

#include <algorithm>

namespace marllb::sim::app {
namespace {

void wait_for_answers(Run &r, std::uint64_t &next_check);

// A publish in two halves. observe_all computes every LB's observation at `now` (the
// features: most of a publish's cost) into its msg; publish_observed copies them into the
// regions. An observation depends on the flows and the reservoirs at `now` only, not on the
// weights in force, so the lockstep LB under the marllb model observes before it waits for the
// agent's answer and publishes after it: the features leave the wait's critical path, and the
// observation is the same.
void observe_all(Run &r, std::uint64_t now) {
    for (auto &inst : r.lbs) {
        const std::uint64_t t0 = mono_ns();
        inst.lb->observe(now, inst.msg);
        // Lockstep: the features and the raw reservoirs' timestamps are in simulated time, so the
        // observation carries that clock (the publish's simulated time in us), for an agent to
        // decay the raw samples to; in real time the core stamps CLOCK_REALTIME, and the
        // reservoirs share the clock of the slot's publish_mono_ns (docs/sim.md, "Time").
        if (r.cfg.lockstep) inst.msg.timestamp_us = now / 1000;
        inst.observe_ns = mono_ns() - t0;
    }
}

void publish_observed(Run &r, std::uint64_t now) {
    if (r.last_publish_at) r.gaps.add(now - r.last_publish_at);
    r.last_publish_at = now;
    for (auto &inst : r.lbs) {
        const std::uint64_t t1 = mono_ns();
        if (inst.region) inst.region->publish(inst.msg, inst.raw ? &inst.lb->raw_reservoirs() : nullptr);
        const std::uint64_t t2 = mono_ns();
        if (r.publish_cost_ns.size() < r.publish_cost_ns.capacity())
            r.publish_cost_ns.push_back(std::uint32_t(inst.observe_ns + (t2 - t1)));
        if (inst.region && r.publish_call_ns.size() < r.publish_call_ns.capacity())
            r.publish_call_ns.push_back(std::uint32_t(t2 - t1));
        inst.region ? inst.region->heartbeat() : void();
    }
    auto &m = r.lbs[0].msg;
    std::vector<double> d;
    for (unsigned s = 0; s < m.num_active_as; ++s) d.push_back(m.as_stats[s].reservoir_features[MARLLB_DURATION_MEAN_DECAY]);
    r.stats.jain_duration.store(jain_index(d), std::memory_order_relaxed);
    r.stats.published.store(r.stats.published.load(std::memory_order_relaxed) + r.lbs.size(), std::memory_order_relaxed);
    r.stats.last_obs_seq.store(m.sequence_id, std::memory_order_relaxed);
}

void publish_all(Run &r, std::uint64_t now) {
    observe_all(r, now);
    publish_observed(r, now);
}

// The rehearsal before a publish: the lines publish() will write (the next slot, the ring's
// published_seq) are fetched for writing while the lcore still handles packets, so the
// publish call does not wait for them. Hints only: nothing a reader can see changes.
struct Warmer {
    std::uint64_t ahead_ns;
    bool done = false;
    void before(Run &r, const PublishSchedule &sched, std::uint64_t now) {
        if (done || ahead_ns == 0 || now + ahead_ns < sched.next_publish()) return;
        for (auto &inst : r.lbs)
            if (inst.region) inst.region->prefetch_next_slot();
        done = true;
    }
    void published() { done = false; }
};

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
    // In stages, so the burst's cache misses overlap instead of queueing: the mbufs and frames
    // were last written by the world lcore, on the other core. First every mbuf's header line,
    // then every frame's line (for writing: the LB rewrites the destination MAC), then the LB
    // parses all, hashes all and prefetches their buckets before any lookup (process_burst).
    for (unsigned i = 0; i < n; ++i) __builtin_prefetch(pkts[i], 0, 3);
    for (unsigned i = 0; i < n; ++i) {
        data[i] = rte_pktmbuf_mtod(pkts[i], std::uint8_t *);
        len[i] = rte_pktmbuf_data_len(pkts[i]);
        __builtin_prefetch(data[i], 1, 3);
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
    if (r.lb_capture) r.lb_capture->frames(r.cfg.port_out, fwd, nf, true);
    unsigned sent = 0;
    if (lockstep) { // every frame must reach the world: it drains port_out while it waits
        std::uint64_t stuck_since = 0;
        while (sent < nf) {
            const unsigned k = link_tx(r.cfg.port_out, fwd + sent, std::uint16_t(nf - sent));
            sent += k;
            // On one thread nobody drains port_out before this step ends: a ring that stays
            // full would hang the run, so say so instead.
            if (k == 0 && r.lockstep_inline && !stuck_since) stuck_since = mono_ns();
            else if (k == 0 && r.lockstep_inline && mono_ns() - stuck_since > kSec)
                fail("lockstep on one thread: more frames in one simulated instant than the LB -> world ring holds");
        }
    } else {
        sent = link_tx(r.cfg.port_out, fwd, std::uint16_t(nf));
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

// --role lb: the world's control frames leave the burst (heartbeats, its bye); returns the
// data frames left, in their order.
unsigned take_control(Run &r, rte_mbuf **pkts, unsigned n, std::uint64_t now) {
    if (r.lb_capture) r.lb_capture->frames(r.cfg.port_in, pkts, n, false);
    r.peer.last_seen_ns.store(now, std::memory_order_relaxed);
    unsigned k = 0;
    for (unsigned i = 0; i < n; ++i) {
        const auto *d = rte_pktmbuf_mtod(pkts[i], const std::uint8_t *);
        const std::size_t len = rte_pktmbuf_data_len(pkts[i]);
        if (!is_control(d, len)) {
            pkts[k++] = pkts[i];
            continue;
        }
        ControlMsg m;
        if (parse_control(d, len, m) && m.kind == Ctl::bye) {
            r.peer.world_sent = m.world_sent;
            r.peer.world_flood = m.world_flood;
            r.peer.bye.store(true, std::memory_order_release);
        } else if (m.kind == Ctl::phase)
            r.sync.phase.store(m.phase, std::memory_order_release);
        rte_pktmbuf_free(pkts[i]);
    }
    return k;
}

LbReport lb_report(const Run &r) {
    LbReport o;
    for (const auto &inst : r.lbs) add_counters(o.counters, inst.lb->counters());
    o.flood = r.flood;
    o.tx_full = r.stats.tx_full.load(std::memory_order_relaxed);
    o.published = r.stats.published.load(std::memory_order_relaxed);
    o.rejected = r.stats.rejected.load(std::memory_order_relaxed);
    return o;
}

// --role lb, after each poll: the heartbeat to the world, and the answer to its bye (after
// every frame that came before it was forwarded: the burst that held it is done).
void lb_peer_duties(Run &r, std::uint64_t now) {
    PeerState &p = r.peer;
    if (p.bye.load(std::memory_order_relaxed) && !p.bye_ack_sent.load(std::memory_order_relaxed)) {
        ControlMsg m{Ctl::bye_ack, ++p.hb_seq, p.world_sent, lb_report(r)};
        if (send_control(r, r.cfg.port_out, m)) p.bye_ack_sent.store(true, std::memory_order_release);
    }
    if (now >= p.next_hb_ns) {
        send_control(r, r.cfg.port_out, ControlMsg{Ctl::heartbeat, ++p.hb_seq, 0, {}});
        p.next_hb_ns = now + kHeartbeatNs;
    }
}

int lb_lcore_realtime(Run &r) {
    PublishSchedule sched(r.model, std::uint64_t(r.cfg.publish_us * 1e3), r.start_ns);
    Warmer warm{std::uint64_t(r.cfg.warm_us * 1e3)};
    std::uint64_t next_check = 0;
    rte_mbuf *pkts[kBurst];
    const bool cross = r.role == Role::lb;
    while (!r.sync.stop.load(std::memory_order_relaxed)) {
        unsigned n = link_rx(r.cfg.port_in, pkts, kBurst);
        const std::uint64_t now = mono_ns();
        if (cross && n) n = take_control(r, pkts, n, now);
        if (n) process_burst(r, pkts, n, now, false);
        if (cross) lb_peer_duties(r, now);
        warm.before(r, sched, now);
        const PublishSchedule::Due due = sched.after_burst(now, n);
        if (due.publish) publish_all(r, now), warm.published();
        if (due.read_actions) poll_actions(r);
        if (now >= next_check) {
            check_agents(r);
            next_check = now + 10'000'000;
        }
    }
    return 0;
}

// Flood: phase 0 forwards rx -> tx untouched (the bare handoff baseline), phase 1 runs the LB.
// Each phase's rate is measured here, from its first to its last frame; in the LB phase the
// time of every poll that returned frames (the poll, the processing, the publishes it
// triggered) is summed as busy time, by the TSC (two reads per poll).
int lb_lcore_flood(Run &r) {
    rte_mbuf *pkts[kBurst];
    const bool cross = r.role == Role::lb; // the phases come as control frames (take_control)
    const std::uint64_t interval = std::uint64_t(r.cfg.publish_us * 1e3);
    for (int phase = 0; phase < 2; ++phase) {
        while (r.sync.phase.load(std::memory_order_acquire) < phase && !r.sync.stop.load(std::memory_order_relaxed)) {
            if (!cross) continue;
            unsigned n = link_rx(r.cfg.port_in, pkts, kBurst);
            if (n && (n = take_control(r, pkts, n, mono_ns())) > 0) rte_pktmbuf_free_bulk(pkts, n); // before the phase
        }
        std::uint64_t first = 0, last = 0, count = 0, polls = 0, empty = 0, busy_cycles = 0;
        PublishSchedule sched(r.model, interval, mono_ns());
        Warmer warm{std::uint64_t(r.cfg.warm_us * 1e3)};
        while (r.sync.phase.load(std::memory_order_relaxed) == phase && !r.sync.stop.load(std::memory_order_relaxed)) {
            const std::uint64_t c0 = rte_rdtsc();
            unsigned n = link_rx(r.cfg.port_in, pkts, kBurst);
            if (cross && n) n = take_control(r, pkts, n, mono_ns());
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
                const unsigned sent = link_tx(r.cfg.port_out, pkts, std::uint16_t(n));
                if (sent < n) rte_pktmbuf_free_bulk(pkts + sent, n - sent);
                continue;
            }
            process_burst(r, pkts, n, now, false);
            warm.before(r, sched, now);
            const PublishSchedule::Due due = sched.after_burst(now, n);
            if (due.publish) publish_all(r, now), warm.published();
            if (due.read_actions) poll_actions(r);
            busy_cycles += rte_rdtsc() - c0;
        }
        const double mpps = last > first ? double(count) / (double(last - first) * 1e-9) / 1e6 : 0;
        FloodRates &f = r.flood;
        (phase == 0 ? f.bare_mpps : f.full_mpps) = mpps;
        // Polls that found the ring empty: the LB waited for the world (the LB had headroom).
        (phase == 0 ? f.bare_empty_polls : f.full_empty_polls) = polls ? double(empty) / double(polls) : 0;
        (phase == 0 ? f.bare_burst : f.full_burst) = polls > empty ? double(count) / double(polls - empty) : 0;
        if (phase == 1) {
            const double busy_ns = double(busy_cycles) * 1e9 / double(rte_get_tsc_hz());
            f.full_busy = last > first ? std::min(1.0, busy_ns / double(last - first)) : 0;
            f.full_capacity_mpps = busy_ns > 0 ? double(count) / busy_ns * 1e3 : 0;
        }
    }
    return 0;
}

// Lockstep LB: handles every frame at the time stamped on it; when the world announces a step
// (L2), drains what the world sent, publishes if the step reached a publish boundary, waits
// for the agents' answers, then acknowledges the step (L3).
int lb_lcore_lockstep(Run &r) {
    LockstepLb lb(r);
    while (!r.sync.stop.load(std::memory_order_relaxed)) {
        const std::uint64_t step = r.sync.world_step.load(std::memory_order_acquire); // L2
        lb.receive();
        if (step == lb.done) {
            lb.between_steps();
            continue;
        }
        if (!lb.step(r.sync.world_time.load(std::memory_order_relaxed))) break; // stopped while waiting
        lb.done = step;
        r.sync.lb_step.store(step, std::memory_order_release); // L3
    }
    return 0;
}

} // namespace

LockstepLb::LockstepLb(Run &r)
    : r_(r), sched_(r.model, std::uint64_t(r.cfg.publish_us * 1e3), r.start_ns), t_last_(r.start_ns),
      wait_agent_(r.policy == Policy::agent_sed || r.policy == Policy::agent_alias) {}

void LockstepLb::receive() {
    rte_mbuf *pkts[kBurst];
    unsigned n;
    while ((n = link_rx(r_.cfg.port_in, pkts, kBurst)) > 0) process_burst(r_, pkts, n, 0, true);
    if (const std::uint64_t wall = mono_ns(); wall >= next_check_) {
        check_agents(r_);
        next_check_ = wall + 10'000'000;
    }
}

void LockstepLb::between_steps() {
    // Between steps simulated time stands at t_last, whose publish (if due) is done: the clean
    // model reads actions here, the marllb model (no packet) does nothing.
    if (sched_.after_burst(t_last_, 0).read_actions) poll_actions(r_);
}

bool LockstepLb::step(std::uint64_t t) {
    t_last_ = t;
    // A step stands for the packet that reaches the LB at t: the world steps at every publish
    // boundary, so both models publish at the boundaries here.
    const PublishSchedule::Due due = sched_.after_burst(t, 1);
    if (due.publish) {
        // marllb (node.c:509-517): the action slot is read after this publish; it holds the
        // answer to the previous observation (the agent had an interval for it), so wait for
        // that answer first. Actions take effect one interval after the observation they
        // answer. clean: the answer to this observation is awaited after it, and applied.
        const bool before = sched_.model() == LbModel::marllb;
        observe_all(r_, t); // before the wait: the observation does not depend on the answer
        if (wait_agent_ && before && r_.stats.published.load(std::memory_order_relaxed) > 0) wait_for_answers(r_, next_check_);
        // Stopped while waiting (an episode interrupted, episodes.cpp): publish nothing more.
        if (r_.sync.stop.load(std::memory_order_relaxed) || r_.interrupted) return false;
        publish_observed(r_, t);
        if (wait_agent_ && !before) wait_for_answers(r_, next_check_);
        if (r_.sync.stop.load(std::memory_order_relaxed) || r_.interrupted) return false;
    }
    // marllb with an agent: the wait above was this publish's read of the slot. Reading it
    // again now would race a quick agent's answer to the observation just published, and
    // apply it one interval early in some runs and not in others.
    if (due.read_actions && !(wait_agent_ && sched_.model() == LbModel::marllb)) poll_actions(r_);
    return true;
}

namespace {

// Lockstep: polls (and so applies) actions until every LB's agent answered its last
// observation, or the wait runs out (or, on one thread, a command ends the episode).
void wait_for_answers(Run &r, std::uint64_t &next_check) {
    const std::uint64_t give_up = mono_ns() + std::uint64_t(r.cfg.lockstep_wait_ms * 1e6);
    const LockstepPatience patience(r.lockstep_inline);
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
        // One thread (episodes.cpp): the world cannot look at the control socket while the
        // LB waits, so the LB does, as the world lcore does otherwise.
        if (r.lockstep_inline && r.control_fd >= 0 && patience.waiting_long() && control_pending(r)) {
            r.interrupted = true;
            return;
        }
        if (mono_ns() >= next_check) {
            check_agents(r);
            next_check = mono_ns() + 10'000'000;
        }
        patience.after_poll();
    }
}

// --role lb after a flood: what comes until the world's bye (the frames of its settle, its
// bye), then the bye_ack, until main stops this lcore.
int lb_lcore_after_flood(Run &r) {
    rte_mbuf *pkts[kBurst];
    while (!r.sync.stop.load(std::memory_order_relaxed)) {
        unsigned n = link_rx(r.cfg.port_in, pkts, kBurst);
        const std::uint64_t now = mono_ns();
        if (n && (n = take_control(r, pkts, n, now)) > 0) rte_pktmbuf_free_bulk(pkts, n);
        lb_peer_duties(r, now);
    }
    return 0;
}

} // namespace

int lb_lcore_main(void *arg) {
    Run &r = *static_cast<Run *>(arg);
    if (r.cfg.flood && r.role == Role::lb) return lb_lcore_flood(r), lb_lcore_after_flood(r);
    if (r.cfg.flood) return lb_lcore_flood(r);
    return r.cfg.lockstep ? lb_lcore_lockstep(r) : lb_lcore_realtime(r);
}

} // namespace marllb::sim::app
