#include "config.hpp"

#include "cli_checks.hpp"

#include <fmt/format.h>

#include <cctype>
#include <cstring>
#include <filesystem>
#include <utility>

#include <sys/stat.h>

namespace marllb::sim::app {

void add_options(CLI::App &app, Config &cfg) {
    app.option_defaults()->always_capture_default();
    app.add_option("--duration", cfg.duration_s, "seconds of traffic (simulated seconds in --lockstep)")->check(marllb::sim::cli::positive);
    app.add_option("--servers", cfg.servers, "capacities in cores ('1,1,2'), a preset (marllb7, marllb6, marllb24) or @file");
    app.add_option("--load", cfg.load, "offered load as a fraction of the total capacity (Poisson)")->check(CLI::Range(0.01, 2.0));
    app.add_option("--rate", cfg.rate, "Poisson flow arrivals per second (overrides --load; 0: from --load)")->check(marllb::sim::cli::non_negative);
    app.add_option("--mean-work-ms", cfg.mean_work_ms, "mean work per flow, core-milliseconds (Poisson)")->check(marllb::sim::cli::positive);
    app.add_option("--work", cfg.work,
                   "work per flow around --mean-work-ms (Poisson): exp, lognormal:SIGMA or pareto:ALPHA[:SPAN] (bounded Pareto, "
                   "tail index ALPHA, upper bound SPAN x the lower, default 1e4)");
    app.add_option("--provisioned", cfg.provisioned,
                   "the capacities WCMP, SED and the static fallback believe, one per server as --servers (an operator's "
                   "configuration; default: --servers, the true ones)");
    app.add_option("--events", cfg.events,
                   "a schedule of timed events (CSV time_s,event,server,value: capacity, rate, drain, restore; docs/sim.md "
                   "'Dynamics')");
    app.add_option("--trace", cfg.trace, "replay a MARLLB trace file instead of Poisson arrivals (sim/traces/*.csv)");
    app.add_option("--time-scale", cfg.time_scale, "trace replay speed: 2 = arrivals twice as fast")->check(marllb::sim::cli::positive);
    app.add_option("--trace-start", cfg.trace_start_s, "trace: replay from this many seconds into the file (before --time-scale)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--ns-per-iteration", cfg.ns_per_iteration, "trace: server work per loop iteration, ns")->check(marllb::sim::cli::positive);
    app.add_option("--ack-interval-ms", cfg.ack_interval_ms, "client ACKs while a response streams, one per interval")->check(marllb::sim::cli::positive);
    app.add_option("--seed", cfg.seed, "random seed (arrivals, work, reservoirs)");
    app.add_option("--policy", cfg.policy, "ecmp, wcmp, lsq, sed, agent (= agent-sed) or agent-alias");
    app.add_option("--fallback", cfg.fallback, "when the agent's heartbeat stops: keep (last weights) or static")->check(CLI::IsMember({"keep", "static"}));
    app.add_option("--agent-timeout-ms", cfg.agent_timeout_ms, "agent heartbeat timeout before the fallback")->check(marllb::sim::cli::positive);
    app.add_option("--reservoir", cfg.reservoir, "sample replacement: random (MARLLB) or algorithm-r")->check(CLI::IsMember({"random", "algorithm-r"}));
    app.add_flag("--normalise-decay", cfg.normalise_decay, "divide the decayed features by the mean decay weight");
    app.add_option("--lb-model", cfg.lb_model, "marllb (MARLLB's plugin, quirks included) or clean (docs/sim.md)")
        ->check(CLI::IsMember({"marllb", "clean"}));
    app.add_option("--buckets-log2", cfg.buckets_log2, "flow table: 2^N buckets of 4 entries (4 .. 24; 0: the model's, marllb 10, clean 16)")
        ->check(CLI::Range(4u, 24u));
    app.add_flag("--acks-from-request", cfg.acks_from_request,
                 "clients ACK from their request on, even while it waits in a server's backlog (default: from when a worker takes it)");
    app.add_option("--lbs", cfg.lbs, "LB instances on the LB lcore, each with its own region <prefix>N")->check(CLI::Range(1u, 64u));
    app.add_option("--region-prefix", cfg.region_prefix, "region names are <prefix>0, <prefix>1, ...");
    app.add_flag("--no-region", cfg.no_region, "run without publishing (no shared memory)");
    app.add_flag("--raw-reservoirs", cfg.raw_reservoirs, "create regions with the raw reservoir section");
    app.add_flag("--keep-region", cfg.keep_region, "leave the regions in /dev/shm at exit");
    app.add_flag("--exit-with-parent", cfg.exit_with_parent,
                 "die (SIGKILL) when the process that started this one exits: for a program that drives a --lockstep run");
    app.add_option("--publish-us", cfg.publish_us, "observation cadence, microseconds (100 .. 10^7)")->check(CLI::Range(100.0, 1e7));
    app.add_option("--warm-us", cfg.warm_us,
                   "prefetch the next observation slot for writing this many microseconds before a publish can be due "
                   "(0: never; real time and flood)")->check(CLI::Range(0.0, 1e6));
    app.add_flag("--lockstep", cfg.lockstep, "simulated time; with an agent policy each interval waits for the agent's answer");
    app.add_option("--lockstep-wait-ms", cfg.lockstep_wait_ms, "lockstep: longest wait for an agent's answer")->check(marllb::sim::cli::positive);
    app.add_flag("--flood", cfg.flood, "throughput run: a bare rx->tx phase, then the LB, each --flood-seconds");
    app.add_option("--flood-flows", cfg.flood_flows, "flood: concurrent flows")->check(CLI::Range(1u, 1u << 22));
    app.add_option("--flood-acks", cfg.flood_acks, "flood: ACKs per flow between its handshake and its RST")->check(CLI::Range(0u, 1000u));
    app.add_option("--flood-seconds", cfg.flood_seconds, "flood: seconds per phase")->check(marllb::sim::cli::positive);
    app.add_option("--role", cfg.role,
                   "both: world and LB in this process (net_ring); world or lb: one of the two, the other a process "
                   "on the same --memif socket or the other ends of the --af-packet interfaces (real time only; docs/sim.md, "
                   "'Two processes')")
        ->check(CLI::IsMember({"both", "world", "lb"}));
    app.add_option("--memif", cfg.memif, "--role world|lb: the memif socket file (the world listens on it, the LB connects)");
    app.add_option("--af-packet", cfg.af_packet,
                   "--role world|lb: IN,OUT: two kernel interfaces (veth ends) toward the other process, IN carrying the "
                   "clients' frames (scripts/veth.sh makes a pair of namespaces with them)");
    app.add_option("--peer-timeout-ms", cfg.peer_timeout_ms,
                   "--role world|lb: no frame and no heartbeat from the other process this long (or its memif link down): it is "
                   "gone (0: 1000 over memif, 500 over af_packet, whose link stays up)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--connect-timeout-s", cfg.connect_timeout_s,
                   "--role world|lb: how long to wait for the other process at start")->check(marllb::sim::cli::positive);
    app.add_option("--pcap", cfg.pcap, "write the frames of the first --pcap-count frames (or --pcap-seconds) to this pcapng file");
    app.add_option("--pcap-count", cfg.pcap_count, "--pcap: frames to capture (each direction and port counts)")->check(CLI::Range(std::uint64_t(1), std::uint64_t(1) << 32));
    app.add_option("--pcap-seconds", cfg.pcap_seconds, "--pcap: stop capturing after this many seconds (0: by count only)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--port-in", cfg.port_in, "ethdev port world -> LB");
    app.add_option("--port-out", cfg.port_out, "ethdev port LB -> world");
    app.add_option("--csv", cfg.csv, "append the run's result row to this CSV file");
    app.add_option("--timeseries", cfg.timeseries, "write one row per second (progress) to this CSV file");
    app.add_flag("--quiet", cfg.quiet, "no progress lines");
    add_control_option(app, cfg); // episodes.cpp
    app.footer("Example: marllb-sim --duration 10 --policy sed --servers marllb7 --csv results/runs/sim.csv\n"
               "         (with an agent: marllb-sim --policy agent --lockstep, then marllb-agent --region marllb_lb0)\n"
               "         (two processes: marllb-sim --role world --memif /tmp/marllb.sock & marllb-sim --role lb --memif /tmp/marllb.sock)\n");
}

int split_eal_args(int argc, char **argv, Config &cfg) {
    for (int i = 1; i < argc; ++i)
        if (std::strcmp(argv[i], "--") == 0) {
            for (int j = i + 1; j < argc; ++j) cfg.eal.emplace_back(argv[j]);
            return i;
        }
    return argc;
}

std::vector<std::string> default_eal() {
    return {"--no-huge", "--no-shconf", "--no-pci", "--no-telemetry", "-l", "0-1", "-m", "512",
            "--vdev=net_ring0", "--vdev=net_ring1", "--log-level=warning"};
}

std::string link_text(const Config &cfg) { return over_af_packet(cfg) ? "--af-packet " + cfg.af_packet : "--memif " + cfg.memif; }

namespace {
// The network namespace this process runs in: its name under /run/netns (ip netns add), else
// "netns<inode>"; and its inode, which tells two namespaces apart.
std::pair<std::string, std::uint64_t> network_namespace() {
    struct stat self{};
    if (stat("/proc/self/ns/net", &self) != 0) return {"netns", 0};
    std::error_code ec;
    for (const auto &e : std::filesystem::directory_iterator("/run/netns", ec)) {
        struct stat st{};
        if (stat(e.path().c_str(), &st) == 0 && st.st_ino == self.st_ino && st.st_dev == self.st_dev)
            return {e.path().filename().string(), std::uint64_t(self.st_ino)};
    }
    return {fmt::format("netns{}", self.st_ino), std::uint64_t(self.st_ino)};
}
} // namespace

std::string eal_file_prefix(const Config &cfg) {
    const bool afp = over_af_packet(cfg);
    std::string key = afp ? cfg.af_packet : std::filesystem::absolute(cfg.memif).string(), name, clean;
    if (afp) { // interfaces are named per network namespace
        const auto [ns, inode] = network_namespace();
        name = "afp_" + ns + "_" + cfg.af_packet;
        key += fmt::format("@{}", inode);
    } else
        name = std::filesystem::path(cfg.memif).filename().string();
    for (char c : name) clean += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
    std::uint64_t h = 1469598103934665603ull; // FNV-1a of the absolute path (of the interfaces' names and namespace)
    for (char c : key) h = (h ^ std::uint8_t(c)) * 1099511628211ull;
    return "marllb_" + cfg.role + "_" + clean.substr(0, 40) + "_" + fmt::format("{:08x}", std::uint32_t(h));
}

// The memif server (role=server) is the world: it listens on the socket for as long as it runs,
// and an LB (this program's, or VPP with the MARLLB plugin) connects to it, is restarted and
// connects again. Interface 0 carries the clients' frames to the LB, interface 1 the LB's
// forwarded frames back. The world runs on one lcore, the LB on two (the LB loop on the worker,
// the watch over the world on main).
//
// Over af_packet each process opens its two interfaces (the names before and after the comma)
// with a PACKET_MMAP ring of 4,096 frames: at the rates of a real-time run no burst of the other
// process outruns it.
std::vector<std::string> default_eal(const Config &cfg) {
    if (cfg.role == "both") return default_eal();
    const char *lcores = cfg.role == "world" ? "0" : "0-1";
    if (over_af_packet(cfg)) {
        const auto [in, out] = af_packet_interfaces(cfg);
        return {"--no-huge", "--no-pci", "--no-telemetry", "-l", lcores, "-m", "512", "--file-prefix", eal_file_prefix(cfg),
                fmt::format("--vdev=net_af_packet0,iface={},framecnt=4096", in),
                fmt::format("--vdev=net_af_packet1,iface={},framecnt=4096", out),
                "--log-level=warning"};
    }
    const std::string side = cfg.role == "world" ? "server" : "client";
    return {"--no-huge", "--no-pci", "--no-telemetry", "-l", lcores, "-m", "512",
            "--file-prefix", eal_file_prefix(cfg),
            fmt::format("--vdev=net_memif0,role={},id=0,socket={}", side, cfg.memif),
            fmt::format("--vdev=net_memif1,role={},id=1,socket={}", side, cfg.memif), "--log-level=warning",
            // the LB tries to connect every 100 ms until the world listens: each try would log an error
            "--log-level=pmd.net.memif:critical"};
}

} // namespace marllb::sim::app
