// marllb-sim's command line: what a run is asked to do, and its options (CLI11).
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace marllb::sim::app {

struct Config {
    // traffic and world
    std::string servers = "marllb7";
    double load = 0.85;
    double rate = 0; // flows/s; 0 = from --load
    double mean_work_ms = 50;
    std::string work = "exp";   // work per flow: exp, lognormal:SIGMA, pareto:ALPHA[:SPAN] (work.hpp)
    std::string provisioned;    // what WCMP, SED and the static fallback believe (empty: --servers)
    std::string events;         // a schedule of timed events (events.hpp)
    std::string trace;
    double time_scale = 1.0;
    double trace_start_s = 0;
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
    bool exit_with_parent = false;
    double publish_us = 200'000;
    double warm_us = 100; // prefetch the next slot this long before a publish can be due (0: never)
    // modes
    bool lockstep = false;
    double lockstep_wait_ms = 2000;
    int control_fd = -1; // --control-fd: serve episodes on commands from this socket (episodes.cpp)
    bool flood = false;
    unsigned flood_flows = 4096;
    unsigned flood_acks = 16;
    double flood_seconds = 3;
    // two processes (peer.hpp): "both" is one process; "world" and "lb" meet over memif or over
    // two kernel interfaces (af_packet, veth ends in network namespaces)
    std::string role = "both";
    std::string memif;             // the socket file of the two memif interfaces
    std::string af_packet;         // "IN,OUT": the interfaces toward the other process (in: clients' frames)
    double peer_timeout_ms = 0;    // no frame nor heartbeat from the other process this long: it is lost
                                   // (0: 1000 ms over memif, whose link also goes down; 500 over af_packet)
    double connect_timeout_s = 10; // the LB waits this long for the world's socket, the world for the LB
    // capture (capture.hpp)
    std::string pcap;
    std::uint64_t pcap_count = 100'000;
    double pcap_seconds = 0; // 0: no time bound
    // ports and output
    unsigned port_in = 0, port_out = 1;
    std::string csv, timeseries;
    bool quiet = false;
    std::vector<std::string> eal; // after "--"; empty: default_eal()
};

// The options of every field of cfg, each showing its default.
void add_options(CLI::App &app, Config &cfg);

// --control-fd and what it needs and excludes (episodes.cpp).
void add_control_option(CLI::App &app, Config &cfg);

// Moves everything after "--" into cfg.eal; returns the argc that CLI11 is to parse.
int split_eal_args(int argc, char **argv, Config &cfg);

// The two-process link as the user named it ("--memif SOCKET", "--af-packet IN,OUT"), for messages.
[[nodiscard]] std::string link_text(const Config &cfg);
[[nodiscard]] inline bool over_af_packet(const Config &cfg) noexcept { return !cfg.af_packet.empty(); }
// --af-packet IN,OUT split at its first comma (OUT empty without one; check_interfaces refuses that).
[[nodiscard]] inline std::pair<std::string, std::string> af_packet_interfaces(const Config &cfg) {
    const auto comma = cfg.af_packet.find(',');
    return {cfg.af_packet.substr(0, comma), comma == std::string::npos ? "" : cfg.af_packet.substr(comma + 1)};
}
// --work, --provisioned or --events given: the world is not the plain one (docs/sim.md "Dynamics").
[[nodiscard]] inline bool has_dynamics(const Config &cfg) noexcept {
    return cfg.work != "exp" || !cfg.provisioned.empty() || !cfg.events.empty();
}

// The embedded default: no hugepages, no PCI, two net_ring vdevs, lcores 0-1. For the roles
// world and lb, two net_memif vdevs on cfg.memif (peer.hpp) or two net_af_packet vdevs on
// cfg.af_packet's interfaces instead, each process with its own runtime directory
// (--file-prefix, see eal_file_prefix).
std::vector<std::string> default_eal();
std::vector<std::string> default_eal(const Config &cfg);

// The EAL --file-prefix of a role on a socket: marllb_<role>_<socket file name>_<hash of its
// path>, so two processes of one role cannot share a socket (DPDK's primary lock refuses the
// second) and a test finds what a killed process left under /var/run/dpdk by its socket's name.
// Over af_packet: marllb_<role>_afp_<network namespace>_<in>_<out>_<hash>, as interfaces are
// named per namespace.
std::string eal_file_prefix(const Config &cfg);

} // namespace marllb::sim::app
