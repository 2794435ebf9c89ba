// marllb-sim: the simulated world and the simulated load balancer on two DPDK lcores.
//
//   main lcore  (world, world_lcore.cpp): clients (Poisson or a MARLLB trace) and the servers;
//                        sends the clients' frames on --port-in, receives the LB's forwarded
//                        frames on --port-out and hands them to the chosen server.
//   worker lcore (LB, lb_lcore.cpp): receives on --port-in, runs the LB (state machine,
//                        policy), forwards on --port-out; publishes an observation into each
//                        LB's region every --publish-us and reads the action slot, when
//                        PublishSchedule says (marllb model: on the first packet an interval
//                        after the last publish, actions read only then; clean: a timer,
//                        actions read every burst).
//
// The embedded default needs no NIC and no hugepages: two net_ring vdevs, each a port whose
// TX ring is its RX ring (world -> LB on port 0, LB -> world on port 1). EAL arguments given
// after "--" replace the default ones (a NIC pair, hugepages, other cores).
//
// Two processes (--role world|lb --memif SOCKET): the same world and LB, each in its own process,
// joined by two net_memif interfaces on one socket (the world listens, the LB connects; peer.hpp
// for the control frames, docs/sim.md "Two processes"). Real time only.
//
// Modes: real time (default); --lockstep (simulated time advances event by event, and one
// publish interval only after the agent answered the last observation: reproducible, and as
// fast as the agent); --flood (throughput: many flows, frames as fast as the world builds
// them; a bare rx->tx handoff phase first as the in-run baseline).
//
// This file: the command line (config.cpp), the setup of EAL, ports and regions, the run,
// and the summary and result row (sim/src/run_report.cpp).
#include "run.hpp"

#include "capture.hpp"
#include "servers.hpp"
#include "work.hpp"

#include <marllb/measure/command_line.hpp>
#include <marllb/measure/host.hpp>
#include <marllb/measure/result_row.hpp>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>

#include <fmt/format.h>

#include <filesystem>
#include <thread>

#include <csignal>
#include <net/if.h>
#include <sys/prctl.h>
#include <unistd.h>

namespace marllb::sim::app {

[[noreturn]] void fail(const std::string &msg) {
    fmt::print(stderr, "marllb-sim: {}\n", msg);
    std::exit(2);
}

namespace {

void setup_port(unsigned port, rte_mempool *pool) {
    rte_eth_conf conf{};
    if (rte_eth_dev_configure(std::uint16_t(port), 1, 1, &conf) < 0 ||
        rte_eth_rx_queue_setup(std::uint16_t(port), 0, 1024, rte_socket_id(), nullptr, pool) < 0 ||
        rte_eth_tx_queue_setup(std::uint16_t(port), 0, 1024, rte_socket_id(), nullptr) < 0 ||
        rte_eth_dev_start(std::uint16_t(port)) < 0)
        fail(fmt::format("cannot set up port {}: {}", port, rte_strerror(rte_errno)));
}

// --af-packet IN,OUT: two interface names of this network namespace.
void check_interfaces(const Config &cfg) {
    const auto [in, out] = af_packet_interfaces(cfg);
    if (in.empty() || out.empty() || out.find(',') != std::string::npos || in == out)
        fail(fmt::format("--af-packet '{}': give two different interfaces as IN,OUT (IN carries the clients' frames to the LB)",
                         cfg.af_packet));
    for (const auto &name : {in, out})
        if (name.size() >= IF_NAMESIZE || if_nametoindex(name.c_str()) == 0)
            fail(fmt::format("--af-packet: no interface '{}' in this network namespace: make the namespaces with scripts/veth.sh "
                             "up NAME and start each role inside its own (ip netns exec NAME-world|NAME-lb ...)", name));
}

// --role lb: the memif client connects when its port starts, which fails while no world
// listens; it is tried again every 100 ms for --connect-timeout-s. An af_packet interface
// starts at once.
void connect_lb_ports(Run &r) {
    const Config &cfg = r.cfg;
    if (over_af_packet(cfg)) {
        setup_port(cfg.port_in, r.pool);
        setup_port(cfg.port_out, r.pool);
        return;
    }
    rte_eth_conf conf{};
    for (unsigned port : {cfg.port_in, cfg.port_out})
        if (rte_eth_dev_configure(std::uint16_t(port), 1, 1, &conf) < 0 ||
            rte_eth_rx_queue_setup(std::uint16_t(port), 0, 1024, rte_socket_id(), nullptr, r.pool) < 0 ||
            rte_eth_tx_queue_setup(std::uint16_t(port), 0, 1024, rte_socket_id(), nullptr) < 0)
            fail(fmt::format("cannot set up port {}: {}", port, rte_strerror(rte_errno)));
    const std::uint64_t give_up = mono_ns() + std::uint64_t(cfg.connect_timeout_s * 1e9);
    for (unsigned port : {cfg.port_in, cfg.port_out})
        while (rte_eth_dev_start(std::uint16_t(port)) < 0) {
            if (mono_ns() > give_up)
                fail(fmt::format("no world listens on --memif {} (waited {:g} s): start marllb-sim --role world --memif {} first",
                                 cfg.memif, cfg.connect_timeout_s, cfg.memif));
            std::this_thread::sleep_for(std::chrono::milliseconds(100));
        }
}

// --af-packet: an interface is up whether or not a process reads its other end, so the two
// meet by their control frames. Each sends a heartbeat every 100 ms on the port toward the
// other, marked kStillMeeting, until one of the other's frames arrives on its own receiving
// port; the world waits for more: a heartbeat of the LB's loop (not marked), which the LB sends
// only once it has left this function. So the world's first client frame finds the LB polling,
// and nothing the world counts is dropped here.
// An LB that starts while a world already runs (one restarted) drops the client frames that come
// before the first heartbeat: they are the frames of a world without an LB, in world_sent only.
void meet_over_af_packet(Run &r) {
    const Config &cfg = r.cfg;
    const unsigned tx_port = r.role == Role::world ? cfg.port_in : cfg.port_out;
    const unsigned rx_port = r.role == Role::world ? cfg.port_out : cfg.port_in;
    const std::uint64_t give_up = mono_ns() + std::uint64_t(cfg.connect_timeout_s * 1e9);
    std::uint64_t next_hb = 0;
    rte_mbuf *pkts[32];
    for (;;) {
        const std::uint64_t now = mono_ns();
        if (now >= next_hb) {
            ControlMsg hb{Ctl::heartbeat, ++r.peer.hb_seq, 0, {}};
            hb.phase = kStillMeeting;
            send_control(r, tx_port, hb);
            next_hb = now + kHeartbeatNs;
        }
        const unsigned n = link_rx(rx_port, pkts, 32);
        bool seen = false;
        for (unsigned i = 0; i < n; ++i) {
            ControlMsg m;
            // The world goes on only once the LB runs its loop (a heartbeat not marked as the
            // LB's meeting one): its client frames then find the LB polling, none is dropped here.
            if (parse_control(rte_pktmbuf_mtod(pkts[i], const std::uint8_t *), rte_pktmbuf_data_len(pkts[i]), m))
                seen |= r.role == Role::lb || m.phase != kStillMeeting;
        }
        if (n) rte_pktmbuf_free_bulk(pkts, n);
        if (seen) return;
        if (g_stop_signal) fail(fmt::format("stopped by signal {} while waiting for the other process", int(g_stop_signal)));
        if (now > give_up)
            fail(fmt::format("no {} answered on --af-packet {} within {:g} s: start marllb-sim --role {} --af-packet on the other "
                             "ends of these interfaces (scripts/veth.sh)",
                             r.role == Role::world ? "LB" : "world", cfg.af_packet, cfg.connect_timeout_s,
                             r.role == Role::world ? "lb" : "world"));
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
}

// --role world|lb: both memif links up (the other process connected), or exit 2.
void wait_for_peer(Run &r) {
    const Config &cfg = r.cfg;
    if (over_af_packet(cfg)) {
        meet_over_af_packet(r);
        r.peer.last_seen_ns.store(mono_ns(), std::memory_order_relaxed);
        if (!cfg.quiet) fmt::print("af_packet: the {} answered on {}\n", r.role == Role::world ? "LB" : "world", cfg.af_packet);
        return;
    }
    const std::uint64_t give_up = mono_ns() + std::uint64_t(cfg.connect_timeout_s * 1e9);
    std::uint64_t retry_at = mono_ns() + 500'000'000;
    while (!link_up(cfg.port_in) || !link_up(cfg.port_out)) {
        // LB: a world whose socket exists but whose interfaces are not started yet refuses the
        // connection ("ID not found"), and DPDK's memif client does not try again by itself.
        if (r.role == Role::lb && mono_ns() >= retry_at) {
            for (unsigned port : {cfg.port_in, cfg.port_out})
                if (!link_up(port)) {
                    (void)rte_eth_dev_stop(std::uint16_t(port));
                    (void)rte_eth_dev_start(std::uint16_t(port));
                }
            retry_at = mono_ns() + 500'000'000;
        }
        if (g_stop_signal) fail(fmt::format("stopped by signal {} while waiting for the other process", int(g_stop_signal)));
        if (mono_ns() > give_up)
            fail(r.role == Role::world
                     ? fmt::format("no LB connected to --memif {} within {:g} s: start marllb-sim --role lb --memif {} (or VPP, docs/vpp.md)",
                                   cfg.memif, cfg.connect_timeout_s, cfg.memif)
                     : fmt::format("the world on --memif {} did not complete the memif connection within {:g} s", cfg.memif,
                                   cfg.connect_timeout_s));
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    r.peer.last_seen_ns.store(mono_ns(), std::memory_order_relaxed); // the silence is counted from here
    if (!cfg.quiet) fmt::print("memif connected on {} ({})\n", cfg.memif, r.role == Role::world ? "world: listening" : "lb: connected");
}

// Servers, policy, model and trace, checked before DPDK starts.
std::vector<TraceEntry> check_config(Run &r) {
    const Config &cfg = r.cfg;
    auto caps = parse_server_set(cfg.servers);
    if (!caps) fail(caps.error().message);
    r.caps = *caps;
    r.provisioned = r.caps;
    if (!cfg.provisioned.empty()) {
        auto prov = parse_server_set(cfg.provisioned);
        if (!prov) fail("--provisioned: " + prov.error().message);
        if (prov->size() != r.caps.size())
            fail(fmt::format("--provisioned gives {} capacities for {} servers (--servers {}): give one per server", prov->size(),
                             r.caps.size(), cfg.servers));
        r.provisioned = *prov;
    }
    if (auto w = WorkDist::parse(cfg.work, cfg.mean_work_ms * 1e-3); !w) fail(w.error().message);
    if (!cfg.events.empty()) {
        auto ev = load_events(cfg.events, r.caps.size());
        if (!ev) fail(ev.error().message);
        r.events = std::move(*ev);
        for (const auto &e : r.events)
            if (e.kind == WorldEvent::Kind::rate && !cfg.trace.empty())
                fail(cfg.events + ": a rate event changes Poisson arrivals, and --trace replays a trace: drop one of them");
        if (cfg.flood) fail("--events changes a world that --flood does not run: drop one of them");
    }
    if (cfg.work != "exp" && !cfg.trace.empty())
        fail("--work shapes Poisson flows' work; a --trace gives each request's work: drop one of them");
    if (!parse_lb_model(cfg.lb_model, r.model)) fail("unknown --lb-model '" + cfg.lb_model + "': use marllb or clean");
    if (!parse_policy(cfg.policy, r.policy))
        fail("unknown --policy '" + cfg.policy + "': use ecmp, wcmp, lsq, sed, agent, agent-sed or agent-alias");
    if (cfg.lockstep && cfg.flood) fail("--lockstep and --flood are different modes: pick one");
    if (r.role != Role::both) {
        if (cfg.memif.empty() == cfg.af_packet.empty())
            fail("--role " + cfg.role + " needs one link to the other process: --memif SOCKET (the socket file world and LB share) "
                 "or --af-packet IN,OUT (two kernel interfaces, scripts/veth.sh)");
        if (cfg.lockstep) fail("--lockstep runs world and LB in one process: drop --role (two processes run in real time only)");
        // The kernel takes every frame a flood sends and drops at the other end what its ring
        // cannot hold: no ring-full back-pressure, so the LB's rate would not be measured.
        if (over_af_packet(cfg) && cfg.flood)
            fail("--flood needs a link that pushes back when the LB is full: use --memif (over --af-packet the kernel drops "
                 "what the LB cannot take)");
        if (over_af_packet(cfg)) check_interfaces(cfg);
        if (r.cfg.peer_timeout_ms == 0) r.cfg.peer_timeout_ms = over_af_packet(cfg) ? 500 : 1000;
    } else if (!cfg.memif.empty() || !cfg.af_packet.empty())
        fail(link_text(cfg) + " joins two processes: add --role world (or lb), and start the other role on the other end");
    if (cfg.pcap_seconds > 0 && cfg.pcap.empty()) fail("--pcap-seconds needs --pcap FILE");
    if (cfg.flood && !cfg.pcap.empty())
        fail("--pcap captures the world's flows; --flood's frames are not captured: drop one of them");
    if (r.role == Role::lb && !cfg.timeseries.empty())
        fail("--timeseries is written by the world: give it to --role world, not to the LB");
    if (cfg.control_fd >= 0 && !cfg.pcap.empty())
        fail("--pcap captures one run, --control-fd serves many episodes: drop one of them");
    if (cfg.trace.empty()) {
        if (cfg.trace_start_s != 0) fail("--trace-start needs --trace"); // NaN included
        return {};
    }
    auto t = load_trace(cfg.trace);
    if (!t) fail(t.error().message);
    auto w = trace_window(std::move(*t), cfg.trace_start_s);
    if (!w) fail(cfg.trace + ": " + w.error().message);
    // Not an error (a run may drain what the trace left), but a run that outlasts its trace
    // has a tail without arrivals, which its numbers would not show.
    if (const double end_s = w->back().time_s / cfg.time_scale; !cfg.flood && end_s < cfg.duration_s)
        fmt::print(stderr, "marllb-sim: note: the trace's last request arrives at {:.3g} s of this {:.3g} s run (--trace-start {:g}, "
                           "--time-scale {:g}): no arrivals after it\n", end_s, cfg.duration_s, cfg.trace_start_s, cfg.time_scale);
    return std::move(*w);
}

void start_dpdk(Run &r) {
    const Config &cfg = r.cfg;
    std::vector<std::string> eal_args{"marllb-sim"};
    const auto extra = cfg.eal.empty() ? default_eal(cfg) : cfg.eal;
    eal_args.insert(eal_args.end(), extra.begin(), extra.end());
    std::vector<char *> eal_argv;
    for (auto &a : eal_args) eal_argv.push_back(a.data());
    if (rte_eal_init(int(eal_argv.size()), eal_argv.data()) < 0)
        fail(std::string("DPDK EAL initialisation failed: ") + rte_strerror(rte_errno) +
             ". Check the EAL arguments after '--' (without them: --no-huge --no-shconf --no-pci --no-telemetry -l 0-1 "
             "--vdev=net_ring0 --vdev=net_ring1)");
    if (rte_lcore_count() < 2 && r.role != Role::world) fail("two lcores are needed (world and LB): pass -l with two cores to the EAL");
    if (rte_eth_dev_count_avail() < 2 && cfg.port_in == cfg.port_out)
        fail("ports: --port-in and --port-out must differ");
    if (!rte_eth_dev_is_valid_port(std::uint16_t(cfg.port_in)) || !rte_eth_dev_is_valid_port(std::uint16_t(cfg.port_out)))
        fail(fmt::format("ethdev ports {} and {} must exist ({} available): add --vdev=net_ring0 --vdev=net_ring1 or a NIC pair",
                         cfg.port_in, cfg.port_out, rte_eth_dev_count_avail()));
    r.pool = rte_pktmbuf_pool_create("marllb_sim_pool", 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE, int(rte_socket_id()));
    if (!r.pool) fail(std::string("cannot create the mbuf pool: ") + rte_strerror(rte_errno) + " (raise -m in the EAL arguments)");
    std::uint64_t ts_flag = 0;
    if (rte_mbuf_dyn_rx_timestamp_register(&r.ts_offset, &ts_flag) < 0) fail("cannot register the mbuf timestamp field");
    if (r.role == Role::lb) {
        connect_lb_ports(r);
        return;
    }
    setup_port(cfg.port_in, r.pool);
    setup_port(cfg.port_out, r.pool);
}

// The LB instances and their regions <prefix>0, <prefix>1, ...
void open_lbs(Run &r) {
    const Config &cfg = r.cfg;
    LbConfig lc;
    lc.capacities = r.provisioned; // the LB knows the operator's configuration, not the servers' truth
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
            o.num_servers = std::uint32_t(r.caps.size()); // actions for another count are refused
            const std::string name = cfg.region_prefix + std::to_string(i);
            auto reg = shm::LbRegion::open(name, o);
            if (!reg) fail("region '" + name + "': " + reg.error().message);
            if (reg->generation() > 1) // a restarted LB: worth saying even with --quiet
                fmt::print("region {} reopened (generation {})\n", name, reg->generation());
            inst.raw = cfg.raw_reservoirs && reg->has_reservoirs();
            inst.region.emplace(std::move(*reg));
            inst.name = name;
        }
        r.lbs.push_back(std::move(inst));
    }
    r.publish_cost_ns.reserve(1 << 20);
    r.publish_call_ns.reserve(1 << 20);
}

FILE *open_timeseries(const std::string &path) {
    if (path.empty()) return nullptr;
    std::error_code ec;
    const std::filesystem::path p(path);
    if (p.has_parent_path()) std::filesystem::create_directories(p.parent_path(), ec);
    FILE *f = std::fopen(path.c_str(), "w");
    if (!f) fail(fmt::format("cannot write --timeseries '{}': {}", path, std::strerror(errno)));
    return f;
}

// A --csv of another column set, or an output that cannot be written, would lose the run at
// its end: say so before it starts.
void check_outputs(const Config &cfg) {
    if (!cfg.csv.empty()) {
        RunReport columns; // the row's columns depend on the mode and the role only
        columns.mode = cfg.flood ? RunMode::flood : cfg.lockstep ? RunMode::lockstep : RunMode::realtime;
        if (cfg.role != "both") columns.processes.emplace();
        if (has_dynamics(cfg)) columns.dynamics.emplace();
        if (auto ok = result_row(columns, marllb::measure::host()).check_appendable(cfg.csv); !ok)
            fail(ok.error().message + " (--csv)");
    }
    if (!cfg.timeseries.empty())
        if (auto ok = marllb::measure::check_writable(cfg.timeseries); !ok) fail(ok.error().message + " (--timeseries)");
}

} // namespace

RunReport report(const Run &r, World *world, double wall_s) { // world: null in flood mode
    const Config &cfg = r.cfg;
    RunReport rep;
    rep.mode = cfg.flood ? RunMode::flood : cfg.lockstep ? RunMode::lockstep : RunMode::realtime;
    rep.policy = r.policy;
    rep.model = r.model;
    rep.servers = cfg.servers;
    rep.traffic = cfg.flood ? "flood" : cfg.trace.empty() ? "poisson" : std::filesystem::path(cfg.trace).filename().string();
    rep.lbs = cfg.lbs;
    rep.time_scale = cfg.time_scale;
    rep.publish_us = cfg.publish_us;
    rep.duration_s = cfg.flood ? 2 * cfg.flood_seconds : cfg.duration_s;
    rep.wall_s = wall_s;
    rep.seed = cfg.seed;
    for (const auto &inst : r.lbs) add_counters(rep.lb, inst.lb->counters());
    rep.published = r.stats.published.load();
    rep.rejected = r.stats.rejected.load();
    rep.jain_duration = r.stats.jain_duration.load();
    rep.publish_cost_ns = r.publish_cost_ns;
    rep.publish_call_ns = r.publish_call_ns;
    rep.warm_us = cfg.warm_us;
    rep.gaps = r.gaps;
    rep.flood = r.flood;
    rep.lockstep_agent_timeouts = r.lockstep_agent_timeouts;
    if (has_dynamics(cfg))
        rep.dynamics = Dynamics{cfg.work, cfg.provisioned, cfg.events.empty() ? "" : std::filesystem::path(cfg.events).filename().string(),
                                r.events.size()};
    if (r.role != Role::both) {
        TwoProcesses p;
        p.role = cfg.role;
        p.link = over_af_packet(cfg) ? "af_packet" : "memif";
        p.status = r.peer.status;
        p.world_sent = r.role == Role::world ? r.world_tx : r.peer.world_sent;
        p.world_received = r.world_rx;
        p.lb_losses = r.peer.losses;
        if (r.role == Role::lb) {
            p.forwarded = rep.lb.forwarded;
            p.tx_full = r.stats.tx_full.load();
        } else if (r.peer.bye.load(std::memory_order_acquire)) { // the LB's counters, as it reported them
            const LbReport &l = r.peer.lb;
            p.lb_reported = true;
            p.forwarded = l.counters.forwarded, p.tx_full = l.tx_full;
            rep.lb = l.counters;
            rep.published = l.published, rep.rejected = l.rejected;
        }
        if (r.role == Role::lb && !cfg.flood) rep.duration_s = wall_s; // the LB runs as long as the world (or until it is gone)
        // The other process's half of the flood's figures, from its bye (world) or bye_ack (LB).
        if (cfg.flood && r.role == Role::lb) take_world_side(rep.flood, r.peer.world_flood);
        if (cfg.flood && r.role == Role::world && p.lb_reported) take_lb_side(rep.flood, r.peer.lb.flood);
        rep.processes = std::move(p);
    }
    if (world) {
        WorldResults w;
        w.counters = world->counters();
        w.fct_s = world->fct_s();
        w.utilisation = world->utilisation(r.start_ns + std::uint64_t(cfg.duration_s * 1e9));
        w.rate_per_s = world_config(r, {}).rate;
        rep.world = std::move(w);
    }
    return rep;
}

} // namespace marllb::sim::app

int main(int argc, char **argv) {
    using namespace marllb::sim;
    using namespace marllb::sim::app;
    const pid_t parent = getppid(); // before anything can take time: see --exit-with-parent below
    Run r;
    Config &cfg = r.cfg;
    const int own_argc = split_eal_args(argc, argv, cfg); // everything after "--" goes to the EAL
    CLI::App cli{"marllb-sim: a simulated world (clients, servers) and a simulated MARLLB load balancer on two DPDK "
                 "lcores, publishing observations into marllb-shm regions and applying the agent's actions.\n"
                 "EAL arguments after '--' replace the default (no hugepages, no NIC: two net_ring vdevs, lcores 0-1)."};
    add_options(cli, cfg);
    marllb::measure::add_version_flag(cli, "marllb-sim");
    if (const int rc = marllb::measure::parse_command_line(cli, own_argc, argv); rc >= 0) return rc;
    // A lockstep run waits for its agent as long as --lockstep-wait-ms says; a driver that was
    // killed must not leave it polling two cores. The kernel signals this process when the
    // thread that forked it exits; a parent gone before prctl shows as a changed parent pid.
    if (cfg.exit_with_parent && (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent))
        fail("--exit-with-parent: the starting process is already gone (or prctl failed)");

    r.role = parse_role(cfg.role);
    std::vector<TraceEntry> trace = check_config(r);
    check_outputs(cfg);
    if (r.role != Role::both) {
        prepare_socket(cfg);
        register_cleanup(cfg);
        install_stop_signals();
        // The memif PMD unmaps a dead peer's rings under a polling lcore (link_burst.hpp).
        if (!over_af_packet(cfg)) guard_link_bursts();
    }
    start_dpdk(r);
    if (r.role != Role::world) open_lbs(r);
    if (cfg.control_fd >= 0) return serve_episodes(r, std::move(trace)); // episodes.cpp (--role both only)
    if (r.role != Role::both) wait_for_peer(r);
    // After the other process answered: a --pcap-seconds window is of the run, not of the wait.
    std::optional<Capture> capture;
    if (!cfg.pcap.empty()) {
        capture.emplace(cfg.pcap, cfg.pcap_count, cfg.pcap_seconds);
        (r.role == Role::lb ? r.lb_capture : r.world_capture) = &*capture;
    }

    const unsigned worker = rte_get_next_lcore(rte_lcore_id(), 1, 0);
    // Lockstep's simulated clock starts here; on a whole microsecond, so every publish boundary
    // is one and the observation's timestamp_us names its time exactly (lb_lcore.cpp).
    r.start_ns = cfg.lockstep ? mono_ns() / 1000 * 1000 : mono_ns();
    for (auto &inst : r.lbs) inst.lb->set_drains(drain_events(r.events, r.start_ns)); // by this process's clock
    std::optional<World> world;
    if (!cfg.flood && r.role != Role::lb) world.emplace(world_config(r, std::move(trace)));
    FILE *series = r.role == Role::lb ? nullptr : open_timeseries(cfg.timeseries);
    Progress prog{r, series};
    if (world) prog.header();
    if (r.role != Role::world && rte_eal_remote_launch(lb_lcore_main, &r, worker) != 0) fail("cannot launch the LB lcore");

    const std::uint64_t wall0 = mono_ns();
    if (r.role == Role::lb) lb_watch(r);
    else if (cfg.flood) world_flood(r);
    else if (cfg.lockstep) world_lockstep(r, *world, prog);
    else world_realtime(r, *world, prog);
    if (r.role == Role::world) world_goodbye(r, world ? &*world : nullptr);
    r.sync.stop.store(true, std::memory_order_relaxed);
    rte_eal_mp_wait_lcore(); // orders everything the LB lcore did before the reads below
    const double wall_s = double(mono_ns() - wall0) * 1e-9;
    if (series) std::fclose(series);
    if (capture) fmt::print("  {} frames captured in {}\n", capture->close(), cfg.pcap);

    const RunReport rep = report(r, world ? &*world : nullptr, wall_s);
    fmt::print("{}", summary_text(rep));
    // The regions go first: a row that cannot be written (the file changed during the run)
    // must not leave them behind.
    for (auto &inst : r.lbs)
        if (inst.region && !cfg.keep_region) {
            inst.region.reset();
            (void)marllb::shm::unlink_region(inst.name);
        }
    if (!cfg.csv.empty()) {
        if (auto ok = result_row(rep, marllb::measure::host()).append_to(cfg.csv); !ok) fail(ok.error().message);
        fmt::print("  row appended to {}\n", cfg.csv);
    }
    if (r.role == Role::both) {
        rte_eth_dev_stop(std::uint16_t(cfg.port_in));
        rte_eth_dev_stop(std::uint16_t(cfg.port_out));
        rte_eal_cleanup();
    }
    // Two processes stop neither: DPDK 22.11's memif PMD tears a connection down in its
    // interrupt thread when the other process closes the socket, and rte_eal_cleanup racing
    // that crashed the LB at exit (SIGSEGV inside librte_net_memif, 1 run in 8 here). The
    // process exits with its ports up: the kernel closes the socket and frees the memory, and
    // register_cleanup's handler removes the runtime directory and the socket at exit.
    // A run that lost the other process wrote its row, and says so by its status too.
    return rep.processes && rep.processes->status != "ok" && rep.processes->status != "lb_restarted" ? 1 : 0;
}
