// marllb-soak: an LB process and an agent process on one region for a given time, each
// SIGKILLed at random moments and restarted, every message and action checked. Ends with one
// summary row (appended to --csv): messages, torn accepted (must be 0), sequence regressions
// (must be 0), repairs, recoveries. Exit status 0 only if both invariants held.
//
// The children report cumulative counters for their current life on stdout, one line every
// 100 ms and at once on any violation; the parent adds up each life's last line.
#include <marllb/measure/command_line.hpp>
#include <marllb/measure/payload.hpp>
#include <marllb/measure/result_row.hpp>
#include <marllb/shm.hpp>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <poll.h>
#include <spawn.h>
#include <string>
#include <sys/wait.h>
#include <unistd.h>
#include <vector>

extern char **environ;

using namespace marllb;
using namespace marllb::shm;

namespace {

void pace(std::uint64_t us) {
    if (us) usleep(useconds_t(us));
}

// ---- children -----------------------------------------------------------------------------

int child_lb(const std::string &region, std::uint64_t publish_us) {
    auto lb = LbRegion::open(region);
    if (!lb) {
        fmt::print(stderr, "soak lb: {}\n", lb.error().message);
        return 2;
    }
    const auto &rep = lb->reopen_report();
    std::uint64_t published = 0, applied = 0, rejected = 0, busy = 0, torn = 0, regress = 0;
    std::uint64_t last_applied = 0, last_report = 0;
    MsgOut m;
    auto report = [&] {
        fmt::print("lb {} {} {} {} {} {} {} {} {}\n", published,
                    applied, rejected, busy,
                    torn, regress, rep.repaired_slots, rep.republished,
                    lb->generation());
        std::fflush(stdout);
    };
    report();
    for (;;) {
        measure::fill_observation(m, lb->next_sequence());
        lb->publish(m);
        ++published;
        lb->heartbeat();
        const auto p = lb->poll_action();
        if (p.status == MARLLB_POLL_REJECTED) ++rejected;
        if (p.status == MARLLB_POLL_BUSY) ++busy;
        if (p.status == MARLLB_POLL_APPLIED) {
            ++applied;
            const bool bad = !measure::action_intact(*lb->action()), back = lb->action()->sequence_id < last_applied;
            torn += bad;
            regress += back;
            last_applied = lb->action()->sequence_id;
            if (bad || back) report();
        }
        if (const auto now = marllb_now_mono_ns(); now - last_report > 100'000'000) {
            last_report = now;
            report();
        }
        pace(publish_us);
    }
}

int child_agent(const std::string &region, std::uint64_t read_us) {
    Expected<AgentRegion> agent = unexpected(Error{Errc::no_region, ""});
    const std::uint64_t give_up = marllb_now_mono_ns() + 10'000'000'000ull;
    auto opts = default_options();
    opts.flags |= MARLLB_OPT_ALLOW_STALE; // the LB may be down at this moment: wait it out
    while (!(agent = AgentRegion::attach(region, opts)) && marllb_now_mono_ns() < give_up) usleep(1000);
    if (!agent) {
        fmt::print(stderr, "soak agent: {}\n", agent.error().message);
        return 2;
    }
    std::uint64_t reads = 0, accepted = 0, torn = 0, regress = 0, lost = 0, retries = 0, written = 0;
    std::uint64_t last_report = 0, answered = 0;
    Observation obs;
    MsgIn action;
    auto report = [&] {
        fmt::print("agent {} {} {} {} {} {} {}\n", reads,
                    accepted, torn, regress,
                    lost, retries, written);
        std::fflush(stdout);
    };
    report();
    for (;;) {
        const std::uint64_t before = agent->last_returned();
        // First read of a life in newest mode: in-order reading starts from what the ring holds.
        const bool in_order = before != 0 && reads % 2 == 1;
        const Errc e = in_order ? agent->read_next(obs) : agent->read_newest(obs);
        ++reads;
        if (e == Errc::ok) {
            ++accepted;
            const bool bad = !measure::observation_intact(obs.msg);
            const bool back = obs.msg.sequence_id <= before; // both modes: never a message twice
            torn += bad;
            regress += back;
            lost += obs.lost;
            retries += obs.retries;
            if (bad || back) report();
            if (obs.msg.sequence_id > answered) {
                measure::fill_action(action, obs.msg.sequence_id);
                if (agent->write_action(action, obs.generation) == Errc::ok) ++written;
                answered = obs.msg.sequence_id;
            }
        }
        agent->heartbeat();
        if (const auto now = marllb_now_mono_ns(); now - last_report > 100'000'000) {
            last_report = now;
            report();
        }
        pace(read_us);
    }
}

// ---- the parent ---------------------------------------------------------------------------

struct Life {
    pid_t pid = -1;
    int out = -1;
    std::string buffer, last_line;
};

struct Totals {
    std::uint64_t lb_kills = 0, agent_kills = 0, lb_starts = 0, agent_starts = 0;
    std::uint64_t published = 0, applied = 0, rejected = 0, busy = 0, actions_torn = 0, action_regressions = 0;
    std::uint64_t repaired = 0, republished = 0, generation = 0;
    std::uint64_t reads = 0, accepted = 0, torn = 0, regressions = 0, lost = 0, retries = 0, written = 0;
};

Life spawn(const std::string &self, std::vector<std::string> args) {
    int fds[2];
    Life life;
    if (pipe(fds) != 0) return life;
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    args.insert(args.begin(), self);
    std::vector<char *> argv;
    for (auto &a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&life.pid, self.c_str(), &fa, nullptr, argv.data(), environ) != 0) life.pid = -1;
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    life.out = fds[0];
    return life;
}

void drain(Life &life) {
    char buf[4096];
    for (;;) {
        struct pollfd p{life.out, POLLIN, 0};
        if (poll(&p, 1, 0) <= 0 || !(p.revents & (POLLIN | POLLHUP))) return;
        const ssize_t n = read(life.out, buf, sizeof buf);
        if (n <= 0) return;
        life.buffer.append(buf, std::size_t(n));
        for (auto nl = life.buffer.find('\n'); nl != std::string::npos; nl = life.buffer.find('\n')) {
            life.last_line = life.buffer.substr(0, nl);
            life.buffer.erase(0, nl + 1);
        }
    }
}

void add_life(const Life &life, Totals &t) {
    unsigned long long v[9] = {};
    if (std::sscanf(life.last_line.c_str(), "lb %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                    &v[3], &v[4], &v[5], &v[6], &v[7], &v[8]) == 9) {
        t.published += v[0], t.applied += v[1], t.rejected += v[2], t.busy += v[3], t.actions_torn += v[4];
        t.action_regressions += v[5], t.repaired += v[6], t.republished += v[7], t.generation = v[8];
    } else if (std::sscanf(life.last_line.c_str(), "agent %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                           &v[3], &v[4], &v[5], &v[6]) == 7) {
        t.reads += v[0], t.accepted += v[1], t.torn += v[2], t.regressions += v[3], t.lost += v[4];
        t.retries += v[5], t.written += v[6];
    }
}

void end_life(Life &life, Totals &t) {
    if (life.pid > 0) {
        kill(life.pid, SIGKILL);
        int status;
        waitpid(life.pid, &status, 0);
    }
    drain(life);
    add_life(life, t);
    if (life.out >= 0) close(life.out);
    life = Life{};
}

measure::ResultRow summary_row(double seconds, std::uint64_t publish_us, std::uint64_t read_us, const Totals &t, bool ok) {
    measure::ResultRow row;
    row.add("seconds", seconds).add("publish_us", publish_us).add("read_us", read_us).add("lb_kills", t.lb_kills)
        .add("agent_kills", t.agent_kills).add("published", t.published).add("reads", t.reads).add("accepted", t.accepted)
        .add("torn_accepted", t.torn).add("sequence_regressions", t.regressions).add("lost", t.lost)
        .add("torn_retries", t.retries).add("repaired_slots", t.repaired).add("republished", t.republished)
        .add("lb_recoveries", t.lb_starts - 1).add("agent_recoveries", t.agent_starts - 1)
        .add("actions_written", t.written).add("actions_applied", t.applied).add("actions_torn", t.actions_torn)
        .add("action_regressions", t.action_regressions).add("actions_rejected", t.rejected)
        .add("verdict", ok ? "PASS" : "FAIL");
    return row;
}

} // namespace

int main(int argc, char **argv) {
    CLI::App app{"marllb-soak: LB and agent processes with random SIGKILLs on both sides; one summary row"};
    std::string role = "parent", region = "marllb_soak_" + std::to_string(getpid()), csv;
    double seconds = 60, mean_kill_s = 1.0;
    std::uint64_t publish_us = 100, read_us = 100;
    app.add_option("--seconds", seconds, "how long to run")->capture_default_str()->check(CLI::Range(1.0, 7.0 * 86400));
    app.add_option("--mean-kill-s", mean_kill_s, "mean time between kills (uniform in [0, 2x])")->capture_default_str()->check(CLI::Range(0.01, 3600.0));
    app.add_option("--publish-us", publish_us, "LB pause between publishes (0 = full speed)")->capture_default_str();
    app.add_option("--read-us", read_us, "agent pause between reads (0 = full speed)")->capture_default_str();
    app.add_option("--csv", csv, "append the summary row to this CSV file");
    app.add_option("--role", role, "internal: parent, lb or agent")->group("");
    app.add_option("--region", region, "region name")->capture_default_str();
    app.footer("Example: marllb-soak --seconds 60 --mean-kill-s 0.5 --csv results/soak/soak.csv (scripts/soak.sh)\n");
    marllb::measure::add_version_flag(app, "marllb-soak");
    if (const int rc = marllb::measure::parse_command_line(app, argc, argv); rc >= 0) return rc;
    if (role == "lb") return child_lb(region, publish_us);
    if (role == "agent") return child_agent(region, read_us);

    if (!csv.empty()) // before the run: a row refused at its end would lose it
        if (auto can = summary_row(seconds, publish_us, read_us, Totals{}, false).check_appendable(csv); !can) {
            fmt::print(stderr, "marllb-soak: {} (--csv)\n", can.error().message);
            return 2;
        }
    const std::string self = std::filesystem::read_symlink("/proc/self/exe").string();
    (void)unlink_region(region);
    auto lb_args = std::vector<std::string>{"--role", "lb", "--region", region, "--publish-us", std::to_string(publish_us)};
    auto agent_args = std::vector<std::string>{"--role", "agent", "--region", region, "--read-us", std::to_string(read_us)};
    Totals t;
    Life lb = spawn(self, lb_args), agent = spawn(self, agent_args);
    t.lb_starts = t.agent_starts = 1;
    std::uint64_t rng = std::uint64_t(getpid()) * 7919;
    const std::uint64_t start = marllb_now_mono_ns(), end = start + std::uint64_t(seconds * 1e9);
    std::uint64_t next_kill = start + marllb_rand64(&rng) % std::uint64_t(2 * mean_kill_s * 1e9);
    std::uint64_t next_progress = start + 10'000'000'000ull;
    while (marllb_now_mono_ns() < end) {
        usleep(2000);
        drain(lb);
        drain(agent);
        const std::uint64_t now = marllb_now_mono_ns();
        if (now >= next_kill) {
            if (marllb_rand64(&rng) % 2) {
                end_life(lb, t);
                ++t.lb_kills;
                lb = spawn(self, lb_args);
                ++t.lb_starts;
            } else {
                end_life(agent, t);
                ++t.agent_kills;
                agent = spawn(self, agent_args);
                ++t.agent_starts;
            }
            next_kill = now + marllb_rand64(&rng) % std::uint64_t(2 * mean_kill_s * 1e9);
        }
        if (now >= next_progress) {
            fmt::print(stderr, "soak: {:5.0f} s  lb kills {}  agent kills {}\n", double(now - start) / 1e9,
                         t.lb_kills, t.agent_kills);
            next_progress += 10'000'000'000ull;
        }
    }
    end_life(lb, t);
    end_life(agent, t);
    (void)unlink_region(region);

    const bool ok = t.torn == 0 && t.regressions == 0 && t.actions_torn == 0 && t.action_regressions == 0 &&
                    t.rejected == 0 && t.accepted > 0 && t.applied > 0;
    fmt::print("\nmarllb-soak: {:.0f} s, {} LB kills, {} agent kills\n", seconds, t.lb_kills,
                t.agent_kills);
    fmt::print("  messages published     {}\n  messages accepted      {} (reads {}; newest mode may return one again)\n", t.published,
                t.accepted, t.reads);
    fmt::print("  torn accepted          {}   (must be 0)\n  sequence regressions   {}   (must be 0)\n",
                t.torn, t.regressions);
    fmt::print("  lost to wrap           {}\n  torn retries           {}\n", t.lost,
                t.retries);
    fmt::print("  slots repaired         {} (republished {})\n  LB recoveries          {} (final generation {})\n",
                t.repaired, t.republished, (t.lb_starts - 1),
                t.generation);
    fmt::print("  actions written        {}, applied {}, torn applied {}, regressions {}, rejected {}\n",
                t.written, t.applied, t.actions_torn,
                t.action_regressions, t.rejected);
    fmt::print("  verdict                {}\n", ok ? "PASS" : "FAIL");
    if (!csv.empty()) {
        const measure::ResultRow row = summary_row(seconds, publish_us, read_us, t, ok);
        if (auto written = row.append_to(csv); !written) {
            fmt::print(stderr, "marllb-soak: {}\n", written.error().message);
            return 2;
        }
        fmt::print("  row appended to {}\n", csv);
    }
    return ok ? 0 : 1;
}
