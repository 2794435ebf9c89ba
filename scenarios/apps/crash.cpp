// marllb-scenario-crash: crash recovery on both sides.
//
//   lb-kill:    an LB process publishing every --lb-publish-us is SIGKILLed at a random
//               moment, --lb-kills times, and restarted (it reopens the region: generation + 1).
//               A live agent reads throughout: time from the restart to its first valid
//               observation of the new generation; torn accepted and sequence regressions: 0.
//   agent-kill: the agent (heartbeat every --heartbeat-ms, an action every --read-ms) is
//               SIGKILLed --agent-kills times: time until the LB, checking agent_alive with a
//               timeout of two heartbeats on every burst, notices and falls back; then the
//               agent restarts: time until the LB applies its first new action.
//               Target: noticed within two heartbeat intervals plus one publish cadence.
#include "scenario.hpp"

#include <marllb/measure/payload.hpp>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <random>
#include <sys/stat.h>
#include <unistd.h>

using namespace marllb;
using namespace marllb::scenarios;

namespace {
bool exists(const std::string &name) {
    struct stat st;
    return ::stat(("/dev/shm/" + name).c_str(), &st) == 0;
}
} // namespace

int main(int argc, char **argv) {
    Common c;
    unsigned lb_kills = 200, agent_kills = 20;
    double lb_publish_us = 1000, publish_ms = 200, heartbeat_ms = 50, read_ms = 250;
    std::uint64_t seed = 1;
    CLI::App app{"marllb-scenario-crash: recovery after SIGKILL of the LB or of the agent", "marllb-scenario-crash"};
    add_common_options(app, c);
    app.add_option("--lb-kills", lb_kills, "LB kills (0 skips the regime)");
    app.add_option("--agent-kills", agent_kills, "agent kills (0 skips the regime)");
    app.add_option("--lb-publish-us", lb_publish_us, "publish period of the LB that gets killed")->check(CLI::Range(50.0, 1e6));
    app.add_option("--publish-ms", publish_ms, "publish cadence in the agent-kill regime")->check(CLI::Range(1.0, 10000.0));
    app.add_option("--heartbeat-ms", heartbeat_ms, "agent heartbeat interval")->check(CLI::Range(1.0, 10000.0));
    app.add_option("--read-ms", read_ms, "agent decision interval")->check(CLI::Range(1.0, 10000.0));
    app.add_option("--seed", seed, "random kill moments");
    app.footer("Example: marllb-scenario-crash --lb-kills 20 --agent-kills 3 --publish-ms 20 --heartbeat-ms 20 --read-ms 50\n");
    if (int rc = parse(app, argc, argv); rc >= 0) return rc;
    Setting s;
    if (int rc = begin(c, s, "crash"); rc >= 0) return rc;
    std::mt19937_64 rng(seed);
    std::vector<Row> rows;
    bool failed = false;
    const std::string name = "marllb_scn_crash_" + std::to_string(getpid());

    if (lb_kills) { // ---- the LB dies; the agent (this process) stays
        const std::uint64_t period = std::uint64_t(lb_publish_us * 1e3);
        auto start_lb = [&] {
            return fork_agent(s, [&] {
                auto lb = shm::LbRegion::open(name);
                if (!lb) return 3;
                marllb_msg_out_t msg;
                for (std::uint64_t t = now_ns();; t += period) {
                    measure::fill_observation(msg, lb->next_sequence());
                    lb->publish(msg);
                    lb->heartbeat();
                    sleep_until_ns(t + period);
                }
            });
        };
        std::vector<double> recovery_ms;
        std::uint64_t torn = 0, regressions = 0, reads = 0, last = 0, missed = 0;
        std::optional<shm::AgentRegion> agent;
        for (unsigned k = 0; k < lb_kills; ++k) {
            const std::uint64_t t_start = now_ns();
            const pid_t lb = start_lb();
            while (!agent) {
                if (exists(name))
                    if (auto a = shm::AgentRegion::attach(name)) agent.emplace(std::move(*a));
                if (now_ns() - t_start > 5'000'000'000ull) break;
            }
            if (!agent) {
                fmt::print(stderr, "marllb-scenario-crash: the first LB never created its region\n");
                kill(lb, SIGKILL);
                wait_child(lb);
                return 2;
            }
            // The first observation of this incarnation (generation k + 1).
            shm::Observation o;
            bool seen = false;
            const std::uint64_t give_up = t_start + 5'000'000'000ull;
            while (now_ns() < give_up) {
                if (agent->read_newest(o) == shm::Errc::ok && o.generation == k + 1) {
                    recovery_ms.push_back(double(now_ns() - t_start) / 1e6);
                    seen = true;
                    break;
                }
            }
            missed += !seen;
            // Read until a random moment, then kill.
            const std::uint64_t kill_at = now_ns() + rng() % (5 * period);
            while (now_ns() < kill_at) {
                if (agent->read_newest(o) != shm::Errc::ok) continue;
                ++reads;
                torn += !measure::observation_intact(o.msg);
                regressions += o.msg.sequence_id <= last; // never the same message twice
                last = o.msg.sequence_id;
            }
            kill(lb, SIGKILL);
            wait_child(lb);
            if (!c.quiet && (k + 1) % 50 == 0) fmt::print(stderr, "  lb-kill: {} / {}\n", k + 1, lb_kills);
        }
        Row r{.scenario = "crash", .regime = "lb-kill", .metric = "restart_to_first_valid_observation", .unit = "ms",
              .cadence_us = lb_publish_us};
        r.s = stats(recovery_ms);
        r.read = reads, r.torn_accepted = torn, r.published = lb_kills;
        r.note = std::to_string(lb_kills) + " kills; " + std::to_string(regressions) + " sequence regressions; " +
                 std::to_string(missed) + " restarts never seen";
        if (torn) r.fail("no_torn_accepted", std::to_string(torn) + " torn observations accepted");
        if (regressions) r.fail("no_sequence_regression", std::to_string(regressions) + " regressions");
        if (missed) r.fail("recovery", std::to_string(missed) + " restarted LBs never seen");
        failed |= !r.broken.empty();
        rows.push_back(r);
        agent.reset();
        (void)shm::unlink_region(name);
    }

    if (agent_kills) { // ---- the agent dies; the LB (this process) stays
        auto lb = shm::LbRegion::create(name);
        if (!lb) {
            fmt::print(stderr, "marllb-scenario-crash: {}\n", lb.error().message);
            return 2;
        }
        const std::uint64_t hb = std::uint64_t(heartbeat_ms * 1e6), rd = std::uint64_t(read_ms * 1e6),
                            cadence = std::uint64_t(publish_ms * 1e6), timeout = 2 * hb;
        auto start_agent = [&] {
            return fork_agent(s, [&] {
                auto a = shm::AgentRegion::attach(name);
                if (!a) return 3;
                shm::Observation o;
                std::uint64_t next_hb = 0, next_read = 0;
                for (;;) {
                    const std::uint64_t t = now_ns();
                    if (t >= next_hb) a->heartbeat(), next_hb = t + hb;
                    if (t >= next_read && a->read_newest(o) == shm::Errc::ok) {
                        shm::MsgIn act{};
                        act.sequence_id = o.msg.sequence_id;
                        act.num_servers = 4;
                        for (unsigned i = 0; i < 4; ++i) act.weights[i] = 1.0f;
                        marllb_alias_build(act.weights, 4, act.alias_table);
                        (void)a->write_action(act, o.generation);
                        next_read = t + rd;
                    }
                    sleep_until_ns(std::min(next_hb, next_read));
                }
            });
        };
        marllb_msg_out_t msg;
        std::uint64_t next_pub = now_ns();
        // The LB's burst loop, every 50 us: publish when due, poll the action, check the agent.
        auto burst = [&] {
            const std::uint64_t t = now_ns();
            if (t >= next_pub) {
                measure::fill_observation(msg, lb->next_sequence());
                lb->publish(msg);
                lb->heartbeat();
                next_pub += cadence;
            }
            return lb->poll_action().status == MARLLB_POLL_APPLIED;
        };
        std::vector<double> noticed_ms, resumed_ms;
        std::uint64_t fallbacks = 0;
        pid_t agent = start_agent();
        std::uint64_t t_restart = now_ns();
        for (unsigned k = 0; k <= agent_kills; ++k) {
            // Until the (re)started agent's first action is applied.
            bool applied = false;
            while (!applied && now_ns() - t_restart < 10'000'000'000ull) {
                applied = burst();
                sleep_until_ns(now_ns() + 50'000);
            }
            if (!applied) {
                fmt::print(stderr, "marllb-scenario-crash: the agent never acted\n");
                failed = true;
                break;
            }
            if (k > 0) resumed_ms.push_back(double(now_ns() - t_restart) / 1e6);
            if (k == agent_kills) break;
            // Let it run, then kill it at a random moment.
            const std::uint64_t kill_at = now_ns() + rd + rng() % (2 * rd);
            while (now_ns() < kill_at) {
                burst();
                sleep_until_ns(now_ns() + 50'000);
            }
            kill(agent, SIGKILL);
            const std::uint64_t t_kill = now_ns();
            wait_child(agent);
            while (lb->agent_alive(timeout)) {
                burst();
                sleep_until_ns(now_ns() + 50'000);
            }
            const double noticed = double(now_ns() - t_kill) / 1e6;
            noticed_ms.push_back(noticed);
            ++fallbacks;

            t_restart = now_ns();
            agent = start_agent();
            if (!c.quiet && (k + 1) % 10 == 0) fmt::print(stderr, "  agent-kill: {} / {}\n", k + 1, agent_kills);
        }
        kill(agent, SIGKILL);
        wait_child(agent);
        // The limit's factors come from scenarios/targets.toml (agent_death_noticed).
        const Target *death = s.targets.target("agent_death_noticed");
        if (!death) {
            fmt::print(stderr, "marllb-scenario-crash: {} has no target 'agent_death_noticed'\n", s.targets.path);
            return 2;
        }
        const double target_ms = (death->heartbeats * double(hb) + death->cadences * double(cadence)) / 1e6;
        Row n{.scenario = "crash", .regime = "agent-kill", .metric = "kill_to_fallback", .unit = "ms", .cadence_us = publish_ms * 1e3,
              .read_us = read_ms * 1e3, .expected = target_ms};
        n.s = stats(noticed_ms);
        n.fallbacks = fallbacks;
        const auto late = std::count_if(noticed_ms.begin(), noticed_ms.end(), [&](double v) { return v > target_ms; });
        n.note = std::to_string(late) + " of " + std::to_string(noticed_ms.size()) + " kills noticed later than the limit";
        rows.push_back(n);
        Row rr = n;
        rr.metric = "restart_to_action_applied";
        rr.s = stats(resumed_ms);
        rr.expected = 0;
        rr.note = std::to_string(resumed_ms.size()) + " of " + std::to_string(agent_kills) + " restarts acted";
        if (resumed_ms.size() != agent_kills) rr.fail("recovery", "a restarted agent's action was never applied"), failed = true;
        rows.push_back(rr);
        lb->close();
        (void)shm::unlink_region(name);
    }
    const int rc = write_rows(c, s, rows);
    return failed ? 1 : rc;
}
