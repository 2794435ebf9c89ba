#include "config.hpp"

#include "cli_checks.hpp"

#include <cstring>

namespace marllb::sim::app {

void add_options(CLI::App &app, Config &cfg) {
    app.option_defaults()->always_capture_default();
    app.add_option("--duration", cfg.duration_s, "seconds of traffic (simulated seconds in --lockstep)")->check(marllb::sim::cli::positive);
    app.add_option("--servers", cfg.servers, "capacities in cores ('1,1,2'), a preset (marllb7, marllb6, marllb24) or @file");
    app.add_option("--load", cfg.load, "offered load as a fraction of the total capacity (Poisson)")->check(CLI::Range(0.01, 2.0));
    app.add_option("--rate", cfg.rate, "Poisson flow arrivals per second (overrides --load; 0: from --load)")->check(marllb::sim::cli::non_negative);
    app.add_option("--mean-work-ms", cfg.mean_work_ms, "mean work per flow, core-milliseconds (Poisson)")->check(marllb::sim::cli::positive);
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
    app.add_option("--port-in", cfg.port_in, "ethdev port world -> LB");
    app.add_option("--port-out", cfg.port_out, "ethdev port LB -> world");
    app.add_option("--csv", cfg.csv, "append the run's result row to this CSV file");
    app.add_option("--timeseries", cfg.timeseries, "write one row per second (progress) to this CSV file");
    app.add_flag("--quiet", cfg.quiet, "no progress lines");
    add_control_option(app, cfg); // episodes.cpp
    app.footer("Example: marllb-sim --duration 10 --policy sed --servers marllb7 --csv results/runs/sim.csv\n"
               "         (with an agent: marllb-sim --policy agent --lockstep, then marllb-agent --region marllb_lb0)\n");
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

} // namespace marllb::sim::app
