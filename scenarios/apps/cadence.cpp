// marllb-scenario-cadence: the production cadence (publish every 200 ms, read every 250 ms)
// with cold caches, LB and agent in two processes pinned by the placement planner.
//
//   reactive: the agent waits for each observation (from 200 us before its scheduled time),
//             reads it and answers at once; the LB busy-polls the action slot as a data plane
//             does on every burst. Measures the publish call, publish -> visible, the read,
//             the action write, action -> applied, and end to end (publish start -> applied).
//   periodic: the agent reads the newest observation every 250 ms on its own clock: messages
//             skipped by the slower cadence (counted apart from loss to wrap, which newest
//             mode cannot have) and staleness.
// Latencies run from the scheduled time of each event (no coordinated omission); torn
// observations are detected by self-checking payloads and must be zero.
#include "scenario.hpp"

#include <marllb/measure/payload.hpp>

#include <atomic>
#include <cstdio>
#include <unistd.h>

using namespace marllb;
using namespace marllb::scenarios;

namespace {

constexpr std::size_t kMax = 4096;

struct Shared {
    std::atomic<int> ready{0};
    std::uint64_t start_ns = 0;
    double visible[kMax], read[kMax], action_write[kMax], staleness[kMax], pread[kMax];
    std::uint64_t n = 0, pn = 0, torn = 0, retries = 0, skipped = 0, reads = 0;
};

void spin_until(std::uint64_t t) {
    if (t > now_ns() + 300'000) sleep_until_ns(t - 200'000);
    while (now_ns() < t) {
    }
}

} // namespace

int main(int argc, char **argv) {
    Common c;
    double seconds = 60, publish_us = 200'000, read_us = 250'000;
    std::string regime = "both", cache = "cold";
    bool prefetch = false;
    CLI::App app{"marllb-scenario-cadence: publish -> visible, read, action -> applied and end-to-end latency at the "
                 "production cadence with cold caches; skipped vs lost at the reader's slower cadence",
                 "marllb-scenario-cadence"};
    add_common_options(app, c);
    app.add_option("--seconds", seconds, "seconds per regime")->check(marllb::sim::cli::positive);
    app.add_option("--publish-us", publish_us, "LB publish period")->check(CLI::Range(1000.0, 1e7));
    app.add_option("--read-us", read_us, "agent read period (periodic regime)")->check(CLI::Range(1000.0, 1e7));
    app.add_option("--regime", regime, "reactive, periodic or both")->check(CLI::IsMember({"reactive", "periodic", "both"}));
    app.add_option("--cache", cache, "cold (thrash the caches between events) or warm")->check(CLI::IsMember({"cold", "warm"}));
    app.add_flag("--prefetch", prefetch, "the LB prefetches the next slot for writing 100 us before each publish");
    app.footer("Example: marllb-scenario-cadence --seconds 10 --regime reactive (rows in results/runs/<time>-<pid>/cadence.csv)\n");
    if (int rc = parse(app, argc, argv); rc >= 0) return rc;

    const std::string tag = cache + (prefetch ? "-prefetch" : "");
    Setting s;
    if (int rc = begin(c, s, "cadence", tag); rc >= 0) return rc;
    const std::string name = "marllb_scn_cadence_" + std::to_string(getpid());
    auto lb = shm::LbRegion::create(name);
    if (!lb) {
        fmt::print(stderr, "marllb-scenario-cadence: {}\n", lb.error().message);
        return 2;
    }
    std::string err;
    if (!s.topo->bind_memory(lb->memory().data(), lb->memory().size(), s.placement,
                             s.mem_bind, &err))
        fmt::print(stderr, "marllb-scenario-cadence: {} (continuing unbound)\n", err);
    const bool cold = cache == "cold";
    const std::uint64_t period = std::uint64_t(publish_us * 1e3), rperiod = std::uint64_t(read_us * 1e3);
    std::vector<Row> rows;
    std::uint64_t torn_total = 0;

    for (const std::string &rg : {std::string("reactive"), std::string("periodic")}) {
        if (regime != "both" && regime != rg) continue;
        const std::size_t events = std::min<std::size_t>(kMax, std::size_t(seconds * 1e6 / publish_us));
        auto *sh = shared_block<Shared>();
        sh->start_ns = now_ns() + 300'000'000; // both sides start from the same schedule
        const bool reactive = rg == "reactive";
        const pid_t agent = fork_agent(s, [&] {
            auto a = shm::AgentRegion::attach(name);
            if (!a) return 3;
            shm::Observation o;
            if (reactive) {
                for (std::size_t k = 0; k < events; ++k) {
                    if (cold) thrash_caches();
                    spin_until(sh->start_ns + k * period - 200'000);
                    a->heartbeat();
                    const std::uint64_t give_up = sh->start_ns + k * period + 50'000'000;
                    while (a->published_sequence() <= k && now_ns() < give_up) {
                    }
                    const std::uint64_t tv = now_ns();
                    if (a->read_newest(o) != shm::Errc::ok) continue;
                    const std::uint64_t tr = now_ns();
                    sh->visible[sh->n] = double(tv - o.publish_mono_ns);
                    sh->read[sh->n] = double(tr - tv);
                    sh->retries += o.retries;
                    shm::MsgIn act{};
                    act.sequence_id = o.msg.sequence_id;
                    act.num_servers = 8;
                    for (unsigned i = 0; i < 8; ++i) act.weights[i] = 1.0f;
                    marllb_alias_build(act.weights, 8, act.alias_table);
                    const std::uint64_t w0 = now_ns();
                    (void)a->write_action(act, o.generation);
                    sh->action_write[sh->n] = double(now_ns() - w0);
                    sh->torn += !measure::observation_intact(o.msg); // after answering: not on the measured path
                    ++sh->n;
                }
            } else {
                const std::size_t reads = std::size_t(double(events) * publish_us / read_us);
                for (std::size_t k = 0; k < reads && sh->pn < kMax; ++k) {
                    if (cold) thrash_caches();
                    const std::uint64_t t = sh->start_ns + period / 2 + k * rperiod; // phase-shifted clock
                    spin_until(t);
                    if (a->read_newest(o) != shm::Errc::ok) continue;
                    const std::uint64_t tr = now_ns();
                    sh->pread[sh->pn] = double(tr - t);
                    sh->staleness[sh->pn] = double(tr - o.publish_mono_ns) / 1e6;
                    sh->torn += !measure::observation_intact(o.msg);
                    if (sh->pn > 0) sh->skipped += o.skipped; // the first read's count includes what came before this regime
                    ++sh->pn;
                    ++sh->reads;
                }
            }
            return 0;
        });

        std::vector<double> write, applied, e2e, action_read;
        std::uint64_t unanswered = 0;
        marllb_msg_out_t msg;
        std::uint64_t published = 0;
        for (std::size_t k = 0; k < events; ++k) {
            if (cold) thrash_caches();
            const std::uint64_t t = sh->start_ns + k * period;
            measure::fill_observation(msg, lb->next_sequence());
            if (prefetch) {
                spin_until(t - 100'000);
                lb->prefetch_next_slot();
            }
            spin_until(t);
            const std::uint64_t t0 = now_ns();
            lb->publish(msg);
            const std::uint64_t t1 = now_ns();
            lb->heartbeat();
            ++published;
            write.push_back(double(t1 - t0));
            if (!c.quiet && (k + 1) % 50 == 0)
                fmt::print(stderr, "  {}: {} / {} observations\n", rg, k + 1, events);
            if (!reactive) continue;
            const std::uint64_t give_up = t + 50'000'000;
            bool answered = false;
            while (now_ns() < give_up) { // the data plane's burst loop: poll on every iteration
                const std::uint64_t tp = now_ns();
                if (lb->poll_action().status == MARLLB_POLL_APPLIED && lb->action()->sequence_id == msg.sequence_id) {
                    const std::uint64_t ta = now_ns();
                    action_read.push_back(double(ta - tp));
                    applied.push_back(double(ta - lb->action_write_mono_ns()));
                    e2e.push_back(double(ta - t0));
                    answered = true;
                    break;
                }
            }
            // An answer not applied within the wait counts at the wait (a lower bound), so a slow
            // agent raises the percentiles instead of vanishing from them.
            if (!answered) e2e.push_back(double(give_up - t0)), ++unanswered;
        }
        const int agent_rc = wait_child(agent);
        torn_total += sh->torn;
        const std::string reg = rg + "-" + tag;
        Row base{.scenario = "cadence", .regime = reg, .cadence_us = publish_us, .read_us = reactive ? publish_us : read_us};
        base.published = published;
        base.torn_accepted = sh->torn;
        // write_rows judges each row against scenarios/targets.toml; `expected` shows the limit.
        auto row = [&](std::string metric, std::vector<double> v, std::string unit = "ns") {
            Row r = base;
            r.metric = std::move(metric);
            r.unit = std::move(unit);
            r.s = stats(std::move(v));
            r.read = reactive ? sh->n : sh->reads;
            r.retries = sh->retries;
            for (const Target &t : s.targets.targets)
                if (applies(t, r) && !t.per_run_limit) r.expected = t.limit;
            if (sh->torn) r.fail("no_torn_accepted", std::to_string(sh->torn) + " torn observations accepted");
            if (agent_rc != 0) r.fail("peer_exit", "agent exited with " + std::to_string(agent_rc));
            return r;
        };
        if (reactive) {
            rows.push_back(row("publish_call", write));
            rows.push_back(row("publish_to_visible", std::vector<double>(sh->visible, sh->visible + sh->n)));
            rows.push_back(row("read_call", std::vector<double>(sh->read, sh->read + sh->n)));
            rows.push_back(row("action_write_call", std::vector<double>(sh->action_write, sh->action_write + sh->n)));
            rows.push_back(row("action_read_call", action_read));
            rows.push_back(row("action_to_applied", applied));
            rows.push_back(row("end_to_end", e2e));
            if (unanswered)
                rows.back().note = std::to_string(unanswered) + " answers not applied within the LB's 50 ms wait (counted at 50 ms)";
        } else {
            Row r = row("read_from_schedule", std::vector<double>(sh->pread, sh->pread + sh->pn));
            rows.push_back(r);
            Row st = row("staleness", std::vector<double>(sh->staleness, sh->staleness + sh->pn), "ms");
            // Newest mode skips what the slower reader never asked for; wrap loss is an in-order
            // notion (marllb-scenario-wrap), so lost stays 0 here by construction.
            st.skipped = sh->skipped;
            st.expected = double(published) * (1.0 - publish_us / read_us);
            st.note = "skipped vs expected published*(1 - publish/read)";
            rows.push_back(st);
        }
    }
    lb->close();
    (void)shm::unlink_region(name);
    const int rc = write_rows(c, s, rows);
    return torn_total ? 1 : rc;
}
