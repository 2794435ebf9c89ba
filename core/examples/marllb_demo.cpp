// marllb-demo: an LB process and an agent process exchanging observations and actions
// through one region, then a summary and one CSV row.
//
// The parent process is the LB: it publishes an observation every --publish-us and polls the
// action slot in a busy loop, as a data plane polls on every burst. It spawns itself as the
// agent (--role agent), which reads the newest observation every --read-us, answers it with
// capacity-proportional weights and an alias table, and reports its numbers in a file
// (--stats-out). Run alone (--role agent against an LB of your own), the agent prints them.
#include <marllb/measure/command_line.hpp>
#include <marllb/measure/percentile.hpp>
#include <marllb/measure/result_row.hpp>
#include <marllb/shm.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
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
    std::uint64_t last_seq = 0; // sequence id of the last observation read: observed + skipped == last_seq
    std::vector<std::uint64_t> read_ns, write_ns, age_us;
};

int run_agent(const std::string &region, double seconds, std::uint64_t read_us, const std::string &stats_out) {
    Expected<AgentRegion> agent = unexpected(Error{Errc::no_region, ""});
    const std::uint64_t give_up = marllb_now_mono_ns() + 5'000'000'000ull;
    while (!(agent = AgentRegion::attach(region)) && marllb_now_mono_ns() < give_up &&
           (agent.error().code == Errc::no_region || agent.error().code == Errc::not_ready))
        usleep(10'000);
    if (!agent) {
        fmt::print(stderr, "marllb-demo agent: {}\n", agent.error().message);
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
        s.last_seq = obs.msg.sequence_id;
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
    if (stats_out.empty()) { // run alone: the agent's own summary
        const auto rp = marllb::measure::summarize(s.read_ns), wp = marllb::measure::summarize(s.write_ns);
        fmt::print("\nmarllb-demo agent: {:.1f} s on region {}, a read every {} us\n", seconds, region, read_us);
        fmt::print("  observations read        {:>10}   (skipped by the slower cadence: {}; newest read: {})\n", s.observed,
                   s.skipped, s.last_seq);
        fmt::print("  torn reads retried       {:>10}   (fallbacks to an older slot: {})\n", s.retries, s.fallbacks);
        fmt::print("  actions written          {:>10}   (refused {})\n", s.written, s.refused);
        fmt::print("  read newest p50 {:.0f} ns, p99 {:.0f} ns; write action p50 {:.0f} ns, p99 {:.0f} ns\n", rp.p50, rp.p99,
                   wp.p50, wp.p99);
        return s.observed > 0 ? 0 : 1;
    }
    std::ofstream out(stats_out);
    out << s.reads << ' ' << s.observed << ' ' << s.skipped << ' ' << s.retries << ' ' << s.fallbacks << ' '
        << s.written << ' ' << s.refused << ' ' << s.last_seq << '\n';
    for (auto *v : {&s.read_ns, &s.write_ns, &s.age_us}) {
        out << v->size();
        for (auto x : *v) out << ' ' << x;
        out << '\n';
    }
    out.close();
    if (!out) {
        fmt::print(stderr, "marllb-demo: cannot write '{}': {} (--stats-out)\n", stats_out, std::strerror(errno));
        return 3;
    }
    return 0;
}

// ---- LB process (the parent) -------------------------------------------------------------

struct LbNumbers {
    double seconds = 0;
    std::uint64_t publish_us = 0, read_us = 0, published = 0, applied = 0, rejected = 0;
    AgentStats a;
    Percentiles publish, read, write, applied_ns, age_us;
};

marllb::measure::ResultRow csv_row(const LbNumbers &n) {
    marllb::measure::ResultRow r;
    r.add("seconds", n.seconds).add("publish_us", n.publish_us).add("read_us", n.read_us).add("published", n.published)
        .add("read", n.a.observed).add("skipped", n.a.skipped).add("torn_retries", n.a.retries).add("fallbacks", n.a.fallbacks)
        .add("actions_written", n.a.written).add("actions_applied", n.applied).add("actions_rejected", n.rejected)
        .add("publish_p50_ns", n.publish.p50).add("publish_p99_ns", n.publish.p99).add("read_p50_ns", n.read.p50)
        .add("read_p99_ns", n.read.p99).add("write_action_p50_ns", n.write.p50).add("write_action_p99_ns", n.write.p99)
        .add("applied_p50_ns", n.applied_ns.p50).add("applied_p99_ns", n.applied_ns.p99).add("age_p50_us", n.age_us.p50)
        .add("age_p99_us", n.age_us.p99);
    return r;
}

std::vector<std::uint64_t> read_vector(std::istream &in) {
    std::size_t n = 0;
    in >> n;
    std::vector<std::uint64_t> v(n);
    for (auto &x : v) in >> x;
    return v;
}

int run_lb(const std::string &self, const std::string &region, double seconds, std::uint64_t publish_us,
           std::uint64_t read_us, const std::string &csv_path) {
    if (!csv_path.empty()) // checked before the run: a row refused at its end would lose it
        if (auto ok = csv_row({}).check_appendable(csv_path); !ok) {
            fmt::print(stderr, "marllb-demo: {} (--csv)\n", ok.error().message);
            return 2;
        }
    (void)unlink_region(region); // a demo region left by an earlier run
    auto lb = LbRegion::create(region);
    if (!lb) {
        fmt::print(stderr, "marllb-demo: {}\n", lb.error().message);
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
        fmt::print(stderr, "marllb-demo: cannot start the agent process {}\n", self);
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
        fmt::print(stderr, "marllb-demo: the agent process failed (status {})\n", status);
        return 2;
    }
    std::ifstream in(stats_file);
    AgentStats a;
    in >> a.reads >> a.observed >> a.skipped >> a.retries >> a.fallbacks >> a.written >> a.refused >> a.last_seq;
    a.read_ns = read_vector(in);
    a.write_ns = read_vector(in);
    a.age_us = read_vector(in);
    std::filesystem::remove(stats_file);

    const std::uint64_t published = lb->next_sequence() - 1;
    const auto pp = marllb::measure::summarize(publish_ns), rp = marllb::measure::summarize(a.read_ns),
               wp = marllb::measure::summarize(a.write_ns), ap = marllb::measure::summarize(applied_ns),
               agep = marllb::measure::summarize(a.age_us);
    fmt::print("\nmarllb-demo: {:.1f} s, LB publishes every {} us, agent reads every {} us, region {}\n\n",
                seconds, publish_us, read_us, region);
    fmt::print("  observations published   {:10}\n", published);
    // Every publish is read, skipped by the agent's slower cadence, or came after its last read.
    const std::uint64_t after_last = published - std::min(published, a.last_seq);
    fmt::print("  observations read        {:>10}   (skipped by the slower cadence: {}; published after the agent's last read: {})\n",
               a.observed, a.skipped, after_last);
    fmt::print("  torn reads retried       {:10}   (fallbacks to an older slot: {})\n",
                a.retries, a.fallbacks);
    fmt::print("  actions written          {:10}\n", a.written);
    fmt::print("  actions applied          {:10}   (rejected {}, stale {})\n\n", applied,
                rejected, stale);
    fmt::print("  {:<28} {:8} {:9} {:9} {:9} {:9} {:9}\n", "latency", "count", "p50", "p90", "p99", "p99.9", "max");
    auto row = [](const char *what, const Percentiles &p) {
        fmt::print("  {:<28} {:8} {:9.0f} {:9.0f} {:9.0f} {:9.0f} {:9.0f}\n", what, p.count, p.p50, p.p90, p.p99, p.p999, p.max);
    };
    row("LB publish (ns)", pp);
    row("agent read newest (ns)", rp);
    row("agent write action (ns)", wp);
    row("action written->applied (ns)", ap);
    row("observation age at read (us)", agep);
    fmt::print("\n  (cold caches: each operation runs once per cadence tick; ages come from the cadences)\n");

    if (!csv_path.empty()) {
        const LbNumbers n{seconds, publish_us, read_us, published, applied, rejected, a, pp, rp, wp, ap, agep};
        if (auto written = csv_row(n).append_to(csv_path); !written) {
            fmt::print(stderr, "marllb-demo: {} (--csv)\n", written.error().message);
            return 2;
        }
        fmt::print("  row appended to {}\n", csv_path);
    }
    const bool accounted = a.observed + a.skipped + after_last == published;
    if (!accounted)
        fmt::print(stderr, "marllb-demo: read {} + skipped {} + after the last read {} != published {}\n", a.observed, a.skipped,
                   after_last, published);
    const bool healthy = published > 0 && a.observed > 0 && applied > 0 && rejected == 0 && accounted;
    if (!healthy) fmt::print(stderr, "marllb-demo: the exchange did not complete (see the counts above)\n");
    return healthy ? 0 : 1;
}

} // namespace

int main(int argc, char **argv) {
    CLI::App app{"marllb-demo: an LB process and an agent process exchanging observations and actions "
                 "through one shared-memory region"};
    std::string role = "lb", region = "marllb_demo", stats_out, csv;
    double seconds = 5;
    std::uint64_t publish_us = 2000, read_us = 2500;
    app.add_option("--role", role, "lb (starts the agent too) or agent")->capture_default_str()->check(CLI::IsMember({"lb", "agent"}));
    app.add_option("--region", region, "region name in /dev/shm")->capture_default_str();
    app.add_option("--seconds", seconds, "how long to run")->capture_default_str()->check(CLI::Range(0.1, 3600.0));
    app.add_option("--publish-us", publish_us, "LB publish interval (MARLLB: 200000)")->capture_default_str()->check(CLI::Range(10, 10'000'000));
    app.add_option("--read-us", read_us, "agent read interval (MARLLB: 250000)")->capture_default_str()->check(CLI::Range(10, 10'000'000));
    app.add_option("--csv", csv, "append a result row to this CSV file (lb role)");
    app.add_option("--stats-out", stats_out, "agent role: write its numbers to this file for the LB (default: print them)");
    app.footer("Example: marllb-demo --seconds 2 --publish-us 2000 --read-us 2500 (the LB starts its agent itself)\n"
               "         marllb-demo --role agent --region marllb_lb0 (an agent alone, for an LB already running)\n");
    marllb::measure::add_version_flag(app, "marllb-demo");
    if (const int rc = marllb::measure::parse_command_line(app, argc, argv); rc >= 0) return rc;
    if (role == "agent" && !stats_out.empty())
        if (auto ok = marllb::measure::check_writable(stats_out); !ok) {
            fmt::print(stderr, "marllb-demo: {} (--stats-out)\n", ok.error().message);
            return 2;
        }
    if (role == "agent") return run_agent(region, seconds, read_us, stats_out);
    return run_lb(std::filesystem::read_symlink("/proc/self/exe").string(), region, seconds, publish_us, read_us, csv);
}
