// marllb-agent: the simulated agent. Its own process: attaches to one LB's region (waiting for
// it), reads the newest observation every --interval-ms, computes weights with a policy,
// builds the alias table, writes the action echoing the observation's sequence id, and stamps
// its heartbeat. When the LB goes away it waits for it and carries on with the restarted one.
// One CSV row per decision (--log); a summary row at exit (--csv).
#include "metrics.hpp"
#include "cli_checks.hpp"
#include "servers.hpp"

#include <marllb/measure/command_line.hpp>
#include <marllb/measure/result_row.hpp>
#include <marllb/shm.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>
#include <vector>

using namespace marllb;

namespace {

std::atomic<bool> g_stop{false};
void on_signal(int) { g_stop.store(true, std::memory_order_relaxed); }

void sleep_ns(std::uint64_t ns) {
    struct timespec ts{time_t(ns / 1'000'000'000u), long(ns % 1'000'000'000u)};
    while (nanosleep(&ts, &ts) == -1 && errno == EINTR && !g_stop.load(std::memory_order_relaxed)) {
    }
}

enum class AgentPolicy { static_weights, least_loaded, fct_inverse, reservoir };

bool parse_agent_policy(const std::string &s, AgentPolicy &p) {
    if (s == "static") p = AgentPolicy::static_weights;
    else if (s == "least-loaded") p = AgentPolicy::least_loaded;
    else if (s == "fct-inverse") p = AgentPolicy::fct_inverse;
    else if (s == "reservoir") p = AgentPolicy::reservoir;
    else return false;
    return true;
}

// Weights for the servers of one observation. Each policy is a plain function of what the LB
// published (and, for `reservoir`, of its raw samples).
std::vector<float> decide(AgentPolicy p, const shm::Observation &o, const std::vector<double> &caps,
                          const shm::ReservoirData *raw, bool lockstep) {
    const unsigned n = o.msg.num_active_as;
    std::vector<float> w(n, 1.0f);
    auto cap = [&](unsigned s) { return s < caps.size() ? caps[s] : 1.0; };
    switch (p) {
    case AgentPolicy::static_weights: // capacity-proportional
        for (unsigned s = 0; s < n; ++s) w[s] = float(cap(s));
        break;
    case AgentPolicy::least_loaded: // fewer flows in progress per core: more weight
        for (unsigned s = 0; s < n; ++s) w[s] = float(cap(s) / (1.0 + o.msg.as_stats[s].n_flow_on));
        break;
    case AgentPolicy::fct_inverse: { // shorter recent completion times: more weight
        double sum = 0;
        unsigned k = 0;
        for (unsigned s = 0; s < n; ++s)
            if (float f = o.msg.as_stats[s].reservoir_features[MARLLB_FCT_MEAN_DECAY]; f > 0) sum += f, ++k;
        const double fallback = k ? sum / k : 1.0; // a server with no sample yet counts as average
        for (unsigned s = 0; s < n; ++s) {
            const float f = o.msg.as_stats[s].reservoir_features[MARLLB_FCT_MEAN_DECAY];
            w[s] = float(cap(s) / (f > 0 ? f : fallback));
        }
        break;
    }
    case AgentPolicy::reservoir: { // median flow duration of the samples of the last 2 s, inverted
        std::vector<double> med(n, 0);
        // The samples' clock (docs/sim.md, "Time"): simulated time in lockstep, which the LB
        // writes into timestamp_us; CLOCK_MONOTONIC in real time, the clock of publish_mono_ns.
        const std::uint64_t now = lockstep ? o.msg.timestamp_us * 1000 : o.publish_mono_ns;
        const std::uint64_t horizon = now > 2'000'000'000ull ? now - 2'000'000'000ull : 0;
        double sum = 0;
        unsigned k = 0;
        for (unsigned s = 0; s < n && raw; ++s) {
            std::vector<float> recent;
            for (unsigned i = 0; i < MARLLB_RESERVOIR_CAPACITY; ++i)
                if (raw->flow_duration[s].timestamps[i] >= horizon && raw->flow_duration[s].timestamps[i] != 0)
                    recent.push_back(raw->flow_duration[s].values[i]);
            med[s] = sim::quantile(recent, 0.5);
            if (med[s] > 0) sum += med[s], ++k;
        }
        const double fallback = k ? sum / k : 1.0;
        for (unsigned s = 0; s < n; ++s) w[s] = float(cap(s) / (med[s] > 0 ? med[s] : fallback));
        break;
    }
    }
    return w;
}

std::optional<shm::AgentRegion> attach_waiting(const std::string &name, double wait_s, bool quiet) {
    const std::uint64_t deadline = marllb_now_mono_ns() + std::uint64_t(wait_s * 1e9);
    bool said = false;
    for (;;) {
        auto a = shm::AgentRegion::attach(name);
        if (a) return std::move(*a);
        const auto code = a.error().code;
        const bool transient = code == shm::Errc::no_region || code == shm::Errc::not_ready || code == shm::Errc::stale;
        if (!transient) {
            fmt::print(stderr, "marllb-agent: region '{}': {}\n", name, a.error().message);
            std::exit(2);
        }
        if (!said && !quiet) {
            fmt::print(stderr, "marllb-agent: waiting for the LB to create region '{}' ({})\n", name,
                         a.error().message);
            said = true;
        }
        if (marllb_now_mono_ns() > deadline || g_stop.load(std::memory_order_relaxed)) {
            fmt::print(stderr,
                       "marllb-agent: no LB region '{}' after {:.1f} s: {}. Start the LB first (marllb-sim), or raise --wait-s\n",
                       name, wait_s, a.error().message);
            std::exit(3);
        }
        sleep_ns(20'000'000);
    }
}

struct Summary {
    std::uint64_t decisions = 0, rejected = 0, lb_restarts = 0, regressions = 0, inconsistent = 0;
    std::vector<double> staleness_us, decision_us;
};

measure::ResultRow summary_row(const std::string &region, const std::string &policy, double interval_ms, const Summary &s) {
    measure::ResultRow row;
    row.add("region", region).add("policy", policy).add("interval_ms", interval_ms).add("decisions", s.decisions)
        .add("rejected", s.rejected).add("lb_restarts", s.lb_restarts).add("sequence_regressions", s.regressions)
        .add("inconsistent", s.inconsistent).add("staleness_p50_us", sim::quantile(s.staleness_us, 0.5))
        .add("staleness_p99_us", sim::quantile(s.staleness_us, 0.99)).add("decision_p50_us", sim::quantile(s.decision_us, 0.5))
        .add("decision_p99_us", sim::quantile(s.decision_us, 0.99));
    return row;
}

} // namespace

int main(int argc, char **argv) {
    std::string region = "marllb_lb0", policy_name = "least-loaded", servers, log_path, csv_path;
    double interval_ms = 250, wait_s = 10, lb_timeout_ms = 1000, heartbeat_ms = 50;
    bool lockstep = false, quiet = false;
    CLI::App app{"marllb-agent: the simulated MARLLB agent. Reads the newest observation of one LB's region every "
                 "--interval-ms, answers it with weights and an alias table, and stamps its heartbeat."};
    app.option_defaults()->always_capture_default();
    app.add_option("--region", region, "the LB's region (marllb_lb0, marllb_lb1, ...)");
    app.add_option("--policy", policy_name, "static, least-loaded, fct-inverse or reservoir (reads the raw reservoirs)");
    app.add_option("--servers", servers, "server capacities, as given to the LB (weights scale with them)");
    app.add_option("--interval-ms", interval_ms, "decision cadence")->check(marllb::sim::cli::positive);
    app.add_option("--wait-s", wait_s, "how long to wait for the LB's region, at start and after the LB went away")->check(marllb::sim::cli::positive);
    app.add_option("--lb-timeout-ms", lb_timeout_ms, "LB heartbeat timeout: then the agent waits for a restarted LB")->check(marllb::sim::cli::positive);
    app.add_option("--heartbeat-ms", heartbeat_ms, "heartbeat stamping interval")->check(marllb::sim::cli::positive);
    app.add_flag("--lockstep", lockstep, "answer every new observation at once (the LB waits for each answer)");
    app.add_option("--log", log_path, "write one CSV row per decision to this file");
    app.add_option("--csv", csv_path, "append a summary row at exit to this CSV file");
    app.add_flag("--quiet", quiet, "no messages but errors");
    app.footer("Example: marllb-agent --region marllb_lb0 --policy least-loaded --servers marllb7 --log /tmp/agent.csv\n");
    measure::add_version_flag(app, "marllb-agent");
    if (const int rc = measure::parse_command_line(app, argc, argv); rc >= 0) return rc;

    AgentPolicy policy;
    if (!parse_agent_policy(policy_name, policy)) {
        fmt::print(stderr, "marllb-agent: unknown --policy '{}': use static, least-loaded, fct-inverse or reservoir\n",
                     policy_name);
        return 2;
    }
    std::vector<double> caps;
    if (!servers.empty()) {
        auto c = sim::parse_server_set(servers);
        if (!c) {
            fmt::print(stderr, "marllb-agent: {}\n", c.error().message);
            return 2;
        }
        caps = *c;
    }
    // Outputs are checked before the agent attaches: a --csv that cannot take the summary row
    // would otherwise lose the whole run at its end.
    if (!csv_path.empty())
        if (auto ok = summary_row(region, policy_name, interval_ms, {}).check_appendable(csv_path); !ok) {
            fmt::print(stderr, "marllb-agent: {} (--csv)\n", ok.error().message);
            return 2;
        }
    std::signal(SIGTERM, on_signal);
    std::signal(SIGINT, on_signal);
    FILE *log = nullptr;
    if (!log_path.empty()) {
        log = std::fopen(log_path.c_str(), "w");
        if (!log) {
            fmt::print(stderr, "marllb-agent: cannot write '{}': {} (--log)\n", log_path, std::strerror(errno));
            return 2;
        }
        fmt::print(log, "mono_ns,obs_seq,action_seq,generation,staleness_us,decision_us,skipped,status\n");
    }

    Summary sum;
    std::uint64_t &decisions = sum.decisions, &rejected = sum.rejected, &lb_restarts = sum.lb_restarts,
                  &regressions = sum.regressions, &inconsistent = sum.inconsistent;
    std::vector<double> &staleness_us = sum.staleness_us, &decision_us = sum.decision_us;
    auto reservoirs = std::make_unique<shm::ReservoirData>();
    while (!g_stop.load(std::memory_order_relaxed)) {
        auto a = attach_waiting(region, wait_s, quiet);
        if (!a) break;
        if (policy == AgentPolicy::reservoir && !a->has_reservoirs()) {
            fmt::print(stderr, "marllb-agent: policy 'reservoir' needs raw reservoirs: start the LB with --raw-reservoirs\n");
            return 2;
        }
        if (!quiet) fmt::print(stderr, "marllb-agent: attached to {} (policy {})\n", region, policy_name);
        std::uint64_t last_seq = 0, next_decision = marllb_now_mono_ns(), next_beat = 0;
        const std::uint64_t interval = std::uint64_t(interval_ms * 1e6), beat = std::uint64_t(heartbeat_ms * 1e6);
        bool lb_gone = false;
        while (!g_stop.load(std::memory_order_relaxed)) {
            const std::uint64_t now = marllb_now_mono_ns();
            if (now >= next_beat) {
                a->heartbeat();
                next_beat = now + beat;
                if (!a->lb_alive(std::uint64_t(lb_timeout_ms * 1e6)) && last_seq != 0) {
                    lb_gone = true;
                    break;
                }
            }
            const bool due = lockstep ? a->published_sequence() > last_seq : now >= next_decision;
            if (!due) {
                sleep_ns(lockstep ? 20'000 : std::min(next_decision, next_beat) - now);
                continue;
            }
            next_decision += interval;
            if (next_decision < now) next_decision = now + interval;
            shm::Observation o;
            const shm::Errc rc = a->read_newest(o);
            if (rc == shm::Errc::again) continue; // nothing newer published
            if (rc != shm::Errc::ok) {
                fmt::print(stderr, "marllb-agent: read: {}\n", shm::describe(rc));
                continue;
            }
            if (o.msg.sequence_id <= last_seq) { // read_newest never returns a message twice
                ++regressions;
                continue;
            }
            // A consistent observation: the active bitmap agrees with the server count.
            if (unsigned(__builtin_popcountll(o.msg.active_as_bitmap)) != o.msg.num_active_as || o.msg.num_active_as == 0 ||
                o.msg.num_active_as > MARLLB_MAX_AS) {
                ++inconsistent;
                continue;
            }
            last_seq = o.msg.sequence_id;
            const std::uint64_t t0 = marllb_now_mono_ns();
            const shm::ReservoirData *raw = nullptr;
            if (policy == AgentPolicy::reservoir && a->read_reservoirs(o.msg.sequence_id, *reservoirs) == shm::Errc::ok)
                raw = reservoirs.get();
            const std::vector<float> w = decide(policy, o, caps, raw, lockstep);
            shm::MsgIn act{};
            act.sequence_id = o.msg.sequence_id;
            act.timestamp_us = marllb_now_realtime_us();
            act.num_servers = o.msg.num_active_as;
            std::copy(w.begin(), w.end(), act.weights);
            marllb_alias_build(act.weights, act.num_servers, act.alias_table);
            shm::RejectReason reason = MARLLB_ACTION_OK;
            const shm::Errc wr = a->write_action(act, o.generation, &reason);
            const std::uint64_t t1 = marllb_now_mono_ns();
            ++decisions;
            rejected += wr != shm::Errc::ok;
            const double stale = double(t1 - o.publish_mono_ns) / 1e3, took = double(t1 - t0) / 1e3;
            staleness_us.push_back(stale);
            decision_us.push_back(took);
            if (log)
                fmt::print(log, "{},{},{},{},{:.1f},{:.2f},{},{}\n", t1,
                             o.msg.sequence_id, act.sequence_id, o.generation, stale,
                             took, o.skipped, wr == shm::Errc::ok ? "written" : shm::describe(reason));
        }
        if (!lb_gone) break;
        ++lb_restarts;
        if (!quiet) fmt::print(stderr, "marllb-agent: the LB of {} stopped; waiting for it to come back\n", region.c_str());
        a.reset();
        // Wait for the dead LB's region to be reopened or replaced (its heartbeat resumes).
        const std::uint64_t deadline = marllb_now_mono_ns() + std::uint64_t(wait_s * 1e9);
        while (!g_stop.load(std::memory_order_relaxed) && marllb_now_mono_ns() < deadline) {
            auto b = shm::AgentRegion::attach(region);
            if (b && b->lb_alive(std::uint64_t(lb_timeout_ms * 1e6))) break;
            sleep_ns(50'000'000);
        }
        if (marllb_now_mono_ns() >= deadline) {
            fmt::print(stderr, "marllb-agent: the LB of {} did not come back within {:.1f} s\n", region, wait_s);
            break;
        }
    }
    if (log && std::fclose(log) != 0) {
        fmt::print(stderr, "marllb-agent: cannot write '{}': {} (--log)\n", log_path, std::strerror(errno));
        return 2;
    }
    if (!quiet)
        fmt::print("marllb-agent {}: {} decisions, {} rejected, {} LB restarts, {} sequence regressions, "
                    "staleness p50 {:.1f} us p99 {:.1f} us, decision p50 {:.2f} us\n",
                    region, decisions, rejected,
                    lb_restarts, regressions, sim::quantile(staleness_us, 0.5),
                    sim::quantile(staleness_us, 0.99), sim::quantile(decision_us, 0.5));
    if (!csv_path.empty()) {
        if (auto ok = summary_row(region, policy_name, interval_ms, sum).append_to(csv_path); !ok) {
            fmt::print(stderr, "marllb-agent: {}\n", ok.error().message);
            return 2;
        }
    }
    return regressions == 0 && inconsistent == 0 ? 0 : 1;
}
