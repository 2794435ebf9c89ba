// The world lcore (main): clients (Poisson or a MARLLB trace) and the servers; sends the
// clients' frames on --port-in, receives the LB's forwarded frames on --port-out and hands
// them to the chosen server. Three loops to match the LB lcore's: real time, lockstep, flood.
#include "run.hpp"

#include "capture.hpp"
#include "frame.hpp"
#include "metrics.hpp"

#include <rte_ethdev.h>
#include <rte_pause.h>

#include <fmt/format.h>

#include <algorithm>
#include <string>

namespace marllb::sim::app {
namespace {

struct TxBatch {
    explicit TxBatch(Run &run) : r(run) {}
    Run &r;
    rte_mbuf *m[kBurst] = {};
    unsigned n = 0;
    std::uint64_t gen_drops = 0;
    bool must_deliver = false; // lockstep: retry until the LB took every frame
    LockstepLb *inline_lb = nullptr; // the LB runs on this thread: let it take frames when the ring is full
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
        if (r.world_capture) r.world_capture->frames(r.cfg.port_in, m, n, true);
        unsigned sent = 0;
        for (;;) {
            sent += link_tx(r.cfg.port_in, m + sent, std::uint16_t(n - sent));
            if (!must_deliver || sent == n) break;
            if (inline_lb) inline_lb->receive();
        }
        r.world_tx += sent;
        if (sent < n) {
            gen_drops += n - sent;
            rte_pktmbuf_free_bulk(m + sent, n - sent);
        }
        n = 0;
    }
};

// A control frame from the LB process (--role world): its heartbeat, or its bye_ack.
void on_control(Run &r, const std::uint8_t *d, std::size_t len) {
    ControlMsg m;
    if (!parse_control(d, len, m) || m.kind != Ctl::bye_ack) return;
    r.peer.lb = m.lb;
    r.peer.bye.store(true, std::memory_order_release);
}

unsigned drain_forwarded(Run &r, World *w, std::uint64_t now, bool use_stamp) { // w: null in --flood
    rte_mbuf *pkts[kBurst];
    unsigned total = 0, n;
    while ((n = link_rx(r.cfg.port_out, pkts, kBurst)) > 0) {
        if (r.world_capture) r.world_capture->frames(r.cfg.port_out, pkts, n, false);
        for (unsigned i = 0; i < n; ++i) {
            auto *d = rte_pktmbuf_mtod(pkts[i], std::uint8_t *);
            const std::size_t len = rte_pktmbuf_data_len(pkts[i]);
            if (r.role == Role::world) {
                if (is_control(d, len)) {
                    on_control(r, d, len);
                    continue;
                }
                from_server_address(d, len); // a data plane that forwards by server address (docs/vpp.md)
            }
            if (w) w->on_forwarded(d, len, use_stamp ? ts_of(r, pkts[i]) : now);
            ++r.world_rx;
        }
        if (r.role == Role::world) r.peer.last_seen_ns.store(mono_ns(), std::memory_order_relaxed);
        rte_pktmbuf_free_bulk(pkts, n);
        total += n;
    }
    return total;
}

// --role world, every 10 ms of the run: the heartbeat to the LB, and whether the LB is there
// (both memif links up, a frame or a heartbeat within --peer-timeout-ms). The world goes on
// without it (its clients' frames are not taken: SYN timeouts) and says when one is back.
void watch_lb(Run &r, std::uint64_t now) {
    PeerState &p = r.peer;
    if (now >= p.next_hb_ns) {
        send_control(r, r.cfg.port_in, ControlMsg{Ctl::heartbeat, ++p.hb_seq, 0, {}});
        p.next_hb_ns = now + kHeartbeatNs;
    }
    r.stats.packets.store(r.world_tx, std::memory_order_relaxed); // the progress line's Mpps: the world's
    const bool up = link_up(r.cfg.port_in) && link_up(r.cfg.port_out);
    const std::uint64_t seen = p.last_seen_ns.load(std::memory_order_relaxed);
    const std::uint64_t timeout = std::uint64_t(r.cfg.peer_timeout_ms * 1e6);
    const double at = double(now - r.start_ns) * 1e-9;
    if (!p.lost && (!up || now > seen + timeout)) {
        p.lost = true;
        ++p.losses;
        p.lost_at_ns = now;
        fmt::print(stderr, "marllb-sim: the LB process is gone at {:.1f} s ({}); the world goes on and waits for an LB on {}\n", at,
                   !up ? std::string("memif link down") : fmt::format("no frame nor heartbeat for {:.0f} ms", double(now - seen) * 1e-6),
                   link_text(r.cfg));
    } else if (p.lost && up && seen > p.lost_at_ns && now <= seen + timeout) {
        p.lost = false;
        ++p.returns;
        fmt::print(stderr, "marllb-sim: an LB is back at {:.1f} s (after {:.1f} s without one)\n", at, double(now - p.lost_at_ns) * 1e-9);
    }
}

} // namespace

void Progress::header() {
    last_wall = mono_ns(); // the first line comes after one second
    if (!r.cfg.quiet)
        fmt::print("{:>8} {:>8} {:>8} {:>9} {:>9} {:>7} {:>7} {:>10}\n", "time_s", "Mpps", "flows", "obs_seq", "action", "jain_u",
                   "jain_d", "fct_p90_ms");
    if (series) fmt::print(series, "elapsed_s,mpps,active_flows,obs_seq,action_seq,jain_util,jain_duration,fct_p50_ms,fct_p90_ms,fallbacks\n");
}

void Progress::tick(World &w, std::uint64_t sim_now, bool force) {
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
        fmt::print("{:8.1f} {:8.3f} {:8} {:9} {:9} {:7.3f} {:7.3f} {:10.1f}\n", el, mpps, w.active_flows(), obs, act, ju, jd, p90);
        std::fflush(stdout);
    }
    if (series)
        fmt::print(series, "{:.3f},{:.4f},{},{},{},{:.5f},{:.5f},{:.3f},{:.3f},{}\n", el, mpps, w.active_flows(), obs, act, ju, jd,
                   p50, p90, r.stats.fallbacks.load(std::memory_order_relaxed));
}

WorldConfig world_config(const Run &r, std::vector<TraceEntry> trace) {
    WorldConfig wc;
    wc.capacities = r.caps;
    wc.mean_work_s = r.cfg.mean_work_ms * 1e-3;
    wc.work = r.cfg.work;
    wc.events = r.events;
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
    std::uint64_t next_watch = 0;
    for (;;) {
        const std::uint64_t now = mono_ns();
        if (now >= end) break;
        if (r.role == Role::world && now >= next_watch) {
            if (g_stop_signal) {
                fmt::print(stderr, "marllb-sim: stopped by signal {} at {:.1f} s\n", int(g_stop_signal), double(now - r.start_ns) * 1e-9);
                r.peer.status = "stopped";
                break;
            }
            watch_lb(r, now);
            next_watch = now + 10'000'000;
        }
        w.run_until(now, [&](const Packet &p) { tx.add(p); });
        if (tx.n) tx.flush();
        drain_forwarded(r, &w, now, false);
        prog.tick(w, now);
    }
    prog.tick(w, end, true);
    if (tx.gen_drops) fmt::print(stderr, "marllb-sim: {} frames not sent (mbufs or the LB's ring full)\n", tx.gen_drops);
}

void world_goodbye(Run &r, World *w) {
    PeerState &p = r.peer;
    const std::uint64_t start = mono_ns();
    const std::uint64_t deadline = start + std::max<std::uint64_t>(kSec, std::uint64_t(2 * r.cfg.peer_timeout_ms * 1e6));
    bool sent = false;
    // The LB answers after every frame it forwarded: what arrives before its bye_ack is the
    // rest of the run's traffic.
    while (!p.lost && !p.bye.load(std::memory_order_acquire) && mono_ns() < deadline) {
        if (!sent) {
            ControlMsg bye{Ctl::bye, ++p.hb_seq, r.world_tx, {}};
            bye.world_flood = r.flood;
            sent = send_control(r, r.cfg.port_in, bye);
        }
        drain_forwarded(r, w, mono_ns(), false);
        if (!link_up(r.cfg.port_in) || !link_up(r.cfg.port_out)) break;
    }
    const bool acked = p.bye.load(std::memory_order_acquire);
    if (p.status == "stopped") return;
    if (p.lost || !acked) {
        p.status = p.lost ? "lb_lost" : "no_ack";
        fmt::print(stderr, "marllb-sim: {}: the LB's counters are not in this row\n",
                   p.lost ? "no LB at the end of the run" : "the LB did not answer the world's bye within a second");
    } else if (p.returns)
        p.status = "lb_restarted";
}

// Lockstep world: the next time is the next event or the next publish boundary; the world
// sends what happens then, announces the step (L1), and waits for the LB's acknowledgement
// (L4) while draining what the LB forwards.
void world_lockstep(Run &r, World &w, Progress &prog, LockstepLb *inline_lb) {
    TxBatch tx(r);
    tx.must_deliver = true;
    tx.inline_lb = inline_lb;
    const std::uint64_t interval = std::uint64_t(r.cfg.publish_us * 1e3);
    const std::uint64_t end = r.start_ns + std::uint64_t(r.cfg.duration_s * 1e9);
    std::uint64_t next_boundary = r.start_ns + interval, step = 0;
    for (;;) {
        const std::uint64_t t = std::min(w.next_event(), next_boundary);
        if (t > end) break;
        w.run_until(t, [&](const Packet &p) { tx.add(p); });
        if (tx.n) tx.flush();
        if (inline_lb) { // the LB's step, on this thread: the same calls the LB lcore makes
            inline_lb->receive();
            if (!inline_lb->step(t)) return; // interrupted while the LB waited for the agent
        } else {
            r.sync.world_time.store(t, std::memory_order_relaxed);
            r.sync.world_step.store(++step, std::memory_order_release); // L1
            const LockstepPatience patience; // the LB may be waiting for the agent
            while (r.sync.lb_step.load(std::memory_order_acquire) != step) { // L4
                drain_forwarded(r, &w, t, true);
                // The agent moved on (a new episode, or gone): this one ends here, unfinished.
                if (r.control_fd >= 0 && patience.waiting_long() && control_pending(r)) {
                    r.interrupted = true;
                    return;
                }
                patience.after_poll();
            }
        }
        drain_forwarded(r, &w, t, true);
        if (t >= next_boundary) next_boundary += interval;
        prog.tick(w, t);
    }
    prog.tick(w, end, true);
}

// Flood: flows in round robin, each sending SYN, its handshake ACK, --flood-acks ACKs (each a
// flow-duration sample at the LB) and RST|ACK, then starting again on a new port.
// The generator must outpace the LB: frames the LB forwarded come back on --port-out and are
// reused as they are (no free, no allocation: the mempool is touched only to top a burst up),
// and each frame is a 64-byte template copy with its addresses, ports, sequence and flags
// patched (build_frame). Its own rate per phase is reported beside the LB's.
void world_flood(Run &r) {
    struct FloodFlow { FlowKey key; std::uint32_t k = 0, gen = 0; };
    std::vector<FloodFlow> flows(r.cfg.flood_flows);
    for (std::uint32_t i = 0; i < flows.size(); ++i) flows[i].key = FlowKey{0x0A000000u | i, kVip, 1024, kVipPort};
    std::size_t next = 0;
    rte_mbuf *m[kBurst];
    const bool cross = r.role == Role::world;
    // --role world: the LB process learns each phase from a control frame ahead of its frames.
    auto announce = [&](int phase) {
        ControlMsg msg{Ctl::phase, ++r.peer.hb_seq, 0, {}};
        msg.phase = phase;
        const std::uint64_t give_up = mono_ns() + kSec;
        while (!send_control(r, r.cfg.port_in, msg) && mono_ns() < give_up) {
            rte_mbuf *back[kBurst];
            const unsigned n = link_rx(r.cfg.port_out, back, kBurst);
            if (n) rte_pktmbuf_free_bulk(back, n);
        }
    };
    bool lb_gone = false;
    for (int phase = 0; phase < 2 && !lb_gone; ++phase) {
        r.sync.phase.store(phase, std::memory_order_release);
        if (cross) announce(phase);
        const std::uint64_t start = mono_ns(), end = start + std::uint64_t(r.cfg.flood_seconds * 1e9);
        std::uint64_t now = start, sent_total = 0, bursts = 0, full_bursts = 0;
        while (now < end) {
            unsigned have = link_rx(r.cfg.port_out, m, kBurst); // forwarded: reused
            if (have < kBurst && rte_pktmbuf_alloc_bulk(r.pool, m + have, kBurst - have) == 0) have = kBurst;
            for (unsigned i = 0; i < have; ++i) {
                FloodFlow &f = flows[next];
                next = next + 1 == flows.size() ? 0 : next + 1;
                const std::uint8_t flags = f.k == 0 ? kTcpSyn : f.k <= r.cfg.flood_acks + 1 ? kTcpAck : kTcpRst | kTcpAck;
                m[i]->data_len = m[i]->pkt_len = kFrameLen;
                build_frame(rte_pktmbuf_mtod(m[i], std::uint8_t *), f.key, flags, f.k);
                if (++f.k > r.cfg.flood_acks + 2) { // the RST went out: the next connection, a new port
                    f.k = 0;
                    f.key.src_port = std::uint16_t(1024 + (++f.gen % 64000));
                }
            }
            // Every frame goes out (a lost SYN would turn its flow's packets into unknown ones):
            // while the LB's ring is full, take back what it forwarded (freed) and try again.
            unsigned sent = 0;
            ++bursts;
            bool full = false;
            while ((sent += link_tx(r.cfg.port_in, m + sent, std::uint16_t(have - sent))) < have) {
                full = true;
                rte_mbuf *back[kBurst];
                const unsigned n = link_rx(r.cfg.port_out, back, kBurst);
                if (n) rte_pktmbuf_free_bulk(back, n);
                else if (cross && !link_up(r.cfg.port_in)) { // the LB process is gone: no frame will be taken
                    rte_pktmbuf_free_bulk(m + sent, have - sent);
                    fmt::print(stderr, "marllb-sim: the LB process is gone (memif link down): the flood stops\n");
                    r.peer.lost = true;
                    ++r.peer.losses;
                    lb_gone = true;
                    break;
                } else rte_pause();
            }
            if (lb_gone) break;
            sent_total += have;
            full_bursts += full;
            now = mono_ns();
        }
        (phase == 0 ? r.flood.bare_gen_mpps : r.flood.full_gen_mpps) = double(sent_total) / double(now - start) * 1e3;
        if (phase == 1) r.flood.full_ring_share = bursts ? double(full_bursts) / double(bursts) : 0;
        // Let the LB drain before the next phase starts.
        const std::uint64_t settle = mono_ns() + 50'000'000;
        while (mono_ns() < settle) {
            rte_mbuf *back[kBurst];
            const unsigned n = link_rx(r.cfg.port_out, back, kBurst);
            if (n) rte_pktmbuf_free_bulk(back, n);
        }
    }
    r.sync.phase.store(2, std::memory_order_release);
    if (cross && !lb_gone) announce(2);
}

} // namespace marllb::sim::app
