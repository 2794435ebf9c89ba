// marllb-demo: an LB process and an agent process exchanging observations and actions
// through one region, then a summary and one CSV row.
//
// The parent process is the LB: it publishes an observation every --publish-us and polls the
// action slot in a busy loop, as a data plane polls on every burst. It spawns itself as the
// agent (--role agent), which reads the newest observation every --read-us, answers it with
// capacity-proportional weights and an alias table, and reports its numbers in a file.
#include <marllb/measure/percentile.hpp>
#include <marllb/measure/result_row.hpp>
#include <marllb/shm.hpp>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <spawn.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern char **environ;

using namespace marllb::shm;

namespace {

using Percentiles = marllb::measure::Summary;

void sleep_until_ns(std::uint64_t t) {
    struct timespec ts{time_t(t / 1000000000u), long(t % 1000000000u)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    }
}

// ---- agent process ------------------------------------------------------------------------

struct AgentStats {
    std::uint64_t reads = 0, observed = 0, skipped = 0, retries = 0, fallbacks = 0;
    std::uint64_t written = 0, refused = 0;
    std::vector<std::uint64_t> read_ns, write_ns, age_us;
};

int run_agent(const std::string &region, double seconds, std::uint64_t read_us, const std::string &stats_out) {
    Expected<AgentRegion> agent = unexpected(Error{Errc::no_region, ""});
    const std::uint64_t give_up = marllb_now_mono_ns() + 5'000'000'000ull;
    while (!(agent = AgentRegion::attach(region)) && marllb_now_mono_ns() < give_up &&
           (agent.error().code == Errc::no_region || agent.error().code == Errc::not_ready))
        usleep(10'000);
    if (!agent) {
        std::fprintf(stderr, "marllb-demo agent: %s\n", agent.error().message.c_str());
        return 2;
    }
    AgentStats s;
    Observation obs;
    MsgIn action{};
    const std::uint64_t start = marllb_now_mono_ns();
    const std::uint64_t end = start + std::uint64_t(seconds * 1e9);
    for (std::uint64_t next = start; next < end; next += read_us * 1000) {
        sleep_until_ns(next);
        agent->heartbeat();
        const std::uint64_t t0 = marllb_now_mono_ns();
        const Errc e = agent->read_newest(obs);
        const std::uint64_t t1 = marllb_now_mono_ns();
        ++s.reads;
        if (e != Errc::ok) continue; // again: nothing newer than the observation last answered
        s.read_ns.push_back(t1 - t0);
        s.age_us.push_back((t1 - obs.publish_mono_ns) / 1000);
        ++s.observed;
        s.skipped += obs.skipped;
        s.retries += obs.retries;
        s.fallbacks += obs.fallback;
        // Static policy: weight each active server by 1 + its index % 2 (two capacity classes).
        action.sequence_id = obs.msg.sequence_id;
        action.timestamp_us = marllb_now_realtime_us();
        action.num_servers = std::max<std::uint32_t>(1, obs.msg.num_active_as);
        for (std::uint32_t i = 0; i < MARLLB_MAX_AS; ++i)
            action.weights[i] = i < action.num_servers ? float(1 + i % 2) : 0.0f;
        marllb_alias_build(action.weights, action.num_servers, action.alias_table);
        const std::uint64_t t2 = marllb_now_mono_ns();
        if (agent->write_action(action, obs.generation) == Errc::ok) {
            s.write_ns.push_back(marllb_now_mono_ns() - t2);
            ++s.written;
        } else {
            ++s.refused;
        }
    }
    std::ofstream out(stats_out);
    out << s.reads << ' ' << s.observed << ' ' << s.skipped << ' ' << s.retries << ' ' << s.fallbacks << ' '
        << s.written << ' ' << s.refused << '\n';
    for (auto *v : {&s.read_ns, &s.write_ns, &s.age_us}) {
        out << v->size();
        for (auto x : *v) out << ' ' << x;
        out << '\n';
    }
    return out ? 0 : 3;
}

// ---- LB process (the parent) -------------------------------------------------------------

std::vector<std::uint64_t> read_vector(std::istream &in) {
    std::size_t n = 0;
    in >> n;
    std::vector<std::uint64_t> v(n);
    for (auto &x : v) in >> x;
    return v;
}

int run_lb(const std::string &self, const std::string &region, double seconds, std::uint64_t publish_us,
           std::uint64_t read_us, const std::string &csv_path) {
    (void)unlink_region(region); // a demo region left by an earlier run
    auto lb = LbRegion::create(region);
    if (!lb) {
        std::fprintf(stderr, "marllb-demo: %s\n", lb.error().message.c_str());
        return 2;
    }
    const std::string stats_file = "/tmp/" + region + ".agent." + std::to_string(getpid());
    std::vector<std::string> args = {self, "--role", "agent", "--region", region, "--seconds",
                                     std::to_string(seconds), "--read-us", std::to_string(read_us),
                                     "--stats-out", stats_file};
    std::vector<char *> argv;
    for (auto &a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t agent_pid = -1;
    if (posix_spawn(&agent_pid, self.c_str(), nullptr, nullptr, argv.data(), environ) != 0) {
        std::fprintf(stderr, "marllb-demo: cannot start the agent process %s\n", self.c_str());
        return 2;
    }

    std::vector<std::uint64_t> publish_ns, applied_ns;
    std::uint64_t applied = 0, rejected = 0, stale = 0;
    MsgOut msg{};
    const std::uint64_t start = marllb_now_mono_ns();
    const std::uint64_t end = start + std::uint64_t((seconds + 0.2) * 1e9);
    std::uint64_t next_publish = start;
    std::uint32_t tick = 0;
    for (std::uint64_t now = start; now < end; now = marllb_now_mono_ns()) {
        if (now >= next_publish) {
            msg.timestamp_us = 0;
            msg.num_active_as = 7;
            msg.active_as_bitmap = 0x7f;
            for (std::uint32_t i = 0; i < 7; ++i) {
                msg.as_stats[i].n_flow_on = (tick * 7 + i * 3) % 50;
                msg.as_stats[i].reservoir_features[MARLLB_FCT_MEAN] = 0.1f + 0.01f * float(i);
            }
            const std::uint64_t t0 = marllb_now_mono_ns();
            lb->publish(msg);
            publish_ns.push_back(marllb_now_mono_ns() - t0);
            lb->heartbeat();
            next_publish += publish_us * 1000;
            ++tick;
        }
        const PollResult r = lb->poll_action();
        if (r.status == MARLLB_POLL_APPLIED) {
            ++applied;
            applied_ns.push_back(marllb_now_mono_ns() - lb->action_write_mono_ns());
        } else if (r.status == MARLLB_POLL_REJECTED) {
            ++rejected;
        } else if (r.status == MARLLB_POLL_STALE) {
            ++stale;
        }
        if (r.status == MARLLB_POLL_UNCHANGED) __builtin_ia32_pause();
    }
    int status = 0;
    waitpid(agent_pid, &status, 0);
    (void)unlink_region(region);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        std::fprintf(stderr, "marllb-demo: the agent process failed (status %d)\n", status);
        return 2;
    }
    std::ifstream in(stats_file);
    AgentStats a;
    in >> a.reads >> a.observed >> a.skipped >> a.retries >> a.fallbacks >> a.written >> a.refused;
    a.read_ns = read_vector(in);
    a.write_ns = read_vector(in);
    a.age_us = read_vector(in);
    std::filesystem::remove(stats_file);

    const std::uint64_t published = lb->next_sequence() - 1;
    const auto pp = marllb::measure::summarize(publish_ns), rp = marllb::measure::summarize(a.read_ns),
               wp = marllb::measure::summarize(a.write_ns), ap = marllb::measure::summarize(applied_ns),
               agep = marllb::measure::summarize(a.age_us);
    std::printf("\nmarllb-demo: %.1f s, LB publishes every %llu us, agent reads every %llu us, region %s\n\n",
                seconds, (unsigned long long)publish_us, (unsigned long long)read_us, region.c_str());
    std::printf("  observations published   %10llu\n", (unsigned long long)published);
    std::printf("  observations read        %10llu   (skipped by the slower cadence: %llu)\n",
                (unsigned long long)a.observed, (unsigned long long)a.skipped);
    std::printf("  torn reads retried       %10llu   (fallbacks to an older slot: %llu)\n",
                (unsigned long long)a.retries, (unsigned long long)a.fallbacks);
    std::printf("  actions written          %10llu\n", (unsigned long long)a.written);
    std::printf("  actions applied          %10llu   (rejected %llu, stale %llu)\n\n", (unsigned long long)applied,
                (unsigned long long)rejected, (unsigned long long)stale);
    std::printf("  %-28s %8s %9s %9s %9s %9s %9s\n", "latency", "count", "p50", "p90", "p99", "p99.9", "max");
    auto row = [](const char *what, const Percentiles &p) {
        std::printf("  %-28s %8zu %9.0f %9.0f %9.0f %9.0f %9.0f\n", what, p.count, p.p50, p.p90, p.p99, p.p999, p.max);
    };
    row("LB publish (ns)", pp);
    row("agent read newest (ns)", rp);
    row("agent write action (ns)", wp);
    row("action written->applied (ns)", ap);
    row("observation age at read (us)", agep);
    std::printf("\n  (cold caches: each operation runs once per cadence tick; ages come from the cadences)\n");

    if (!csv_path.empty()) {
        marllb::measure::ResultRow csv_row;
        csv_row.add("seconds", seconds).add("publish_us", publish_us).add("read_us", read_us).add("published", published)
            .add("read", a.observed).add("skipped", a.skipped).add("torn_retries", a.retries).add("fallbacks", a.fallbacks)
            .add("actions_written", a.written).add("actions_applied", applied).add("actions_rejected", rejected)
            .add("publish_p50_ns", pp.p50).add("publish_p99_ns", pp.p99).add("read_p50_ns", rp.p50).add("read_p99_ns", rp.p99)
            .add("write_action_p50_ns", wp.p50).add("write_action_p99_ns", wp.p99).add("applied_p50_ns", ap.p50)
            .add("applied_p99_ns", ap.p99).add("age_p50_us", agep.p50).add("age_p99_us", agep.p99);
        if (auto written = csv_row.append_to(csv_path); !written) {
            std::fprintf(stderr, "marllb-demo: %s\n", written.error().message.c_str());
            return 2;
        }
        std::printf("  row appended to %s\n", csv_path.c_str());
    }
    const bool healthy = published > 0 && a.observed > 0 && applied > 0 && rejected == 0;
    if (!healthy) std::fprintf(stderr, "marllb-demo: the exchange did not complete (see the counts above)\n");
    return healthy ? 0 : 1;
}

} // namespace

int main(int argc, char **argv) {
    CLI::App app{"marllb-demo: an LB process and an agent process exchanging observations and actions "
                 "through one shared-memory region"};
    std::string role = "lb", region = "marllb_demo", stats_out, csv;
    double seconds = 5;
    std::uint64_t publish_us = 2000, read_us = 2500;
    app.add_option("--role", role, "lb (default: starts the agent too) or agent")->check(CLI::IsMember({"lb", "agent"}));
    app.add_option("--region", region, "region name in /dev/shm")->capture_default_str();
    app.add_option("--seconds", seconds, "how long to run")->capture_default_str()->check(CLI::Range(0.1, 3600.0));
    app.add_option("--publish-us", publish_us, "LB publish interval (MARLLB: 200000)")->capture_default_str()->check(CLI::Range(10, 10'000'000));
    app.add_option("--read-us", read_us, "agent read interval (MARLLB: 250000)")->capture_default_str()->check(CLI::Range(10, 10'000'000));
    app.add_option("--csv", csv, "append a result row to this CSV file");
    app.add_option("--stats-out", stats_out, "agent role: where to write its numbers")->group("");
    CLI11_PARSE(app, argc, argv);
    if (role == "agent") {
        if (stats_out.empty()) {
            std::fprintf(stderr, "marllb-demo: --role agent needs --stats-out FILE\n");
            return 64;
        }
        return run_agent(region, seconds, read_us, stats_out);
    }
    return run_lb(std::filesystem::read_symlink("/proc/self/exe").string(), region, seconds, publish_us, read_us, csv);
}
