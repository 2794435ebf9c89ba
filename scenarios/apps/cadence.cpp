// marllb-scenario-cadence: the production cadence (publish every 200 ms, read every 250 ms)
// with cold caches, LB and agent in two processes pinned by the placement planner.
//
//   reactive: the agent waits for each observation (from 200 us before its scheduled time),
//             reads it and answers at once; the LB busy-polls the action slot as a data plane
//             does on every burst. Measures the publish call, publish -> visible, the read,
//             the action write, action -> applied, and end to end (publish start -> applied).
//             Half a period after each event comes a null event on the same cold caches and
//             the same schedule, without the region: the LB copies 2,848 bytes into shared
//             memory and raises a one-line signal, the agent copies them out, copies an
//             action's bytes back and raises another line, the LB copies those. Its stages are the floor of the region's (null_* rows), and its
//             tail is the host's: end to end p99 is judged against the null's p99 + 10 us.
//             --rehearse-us N: N us before each event both sides rehearse (the LB prefetches
//             the next slot for writing, the agent runs its read path on the last observation
//             and prefetches the action lines): the cold budget without cold code and TLB.
//             --hugepages DIR: the region on a hugetlbfs mount (one TLB entry for all of it).
//   periodic: the agent reads the newest observation every 250 ms on its own clock: messages
//             skipped by the slower cadence (counted apart from loss to wrap, which newest
//             mode cannot have) and staleness.
// Latencies run from the scheduled time of each event (no coordinated omission); torn
// observations are detected by self-checking payloads and must be zero.
#include "scenario.hpp"

#include <marllb/measure/payload.hpp>

#include <algorithm>
#include <atomic>
#include <cstring>
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
    // The null event. The LB writes payload then signal (release); the agent acquires signal,
    // copies payload, then writes answer_ns and answer (release); the LB acquires answer.
    // Each line has one writer; the payload is never written while the agent copies it (the
    // next null event comes a period later, after the answer).
    alignas(64) std::atomic<std::uint64_t> signal{0};
    std::uint64_t signal_ns = 0; // when the LB began the null publish (written before signal)
    alignas(64) std::atomic<std::uint64_t> answer{0};
    std::uint64_t answer_ns = 0; // when the agent began its answer (written before answer)
    alignas(64) unsigned char payload[sizeof(marllb_msg_out_t)];
    alignas(64) unsigned char answer_payload[sizeof(marllb_msg_in_t)];
    double null_visible[kMax], null_read[kMax], null_answer_write[kMax];
    std::uint64_t null_n = 0, null_bad = 0;
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
    double rehearse_us = 0;
    std::string hugepages;
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
    app.add_option("--rehearse-us", rehearse_us,
                   "reactive: both sides rehearse this many us before each event (LB: prefetch the next slot; agent: "
                   "its read path on the last observation and the action lines); 0: no rehearsal")
        ->check(CLI::Range(0.0, 100000.0));
    app.add_option("--hugepages", hugepages,
                   "the region in this hugetlbfs directory, on huge pages (mount one and reserve pages first: "
                   "scripts/hugepages.sh)");
    app.footer("Example: marllb-scenario-cadence --seconds 10 --regime reactive (rows in results/runs/<time>-<pid>/cadence.csv)\n");
    if (int rc = parse(app, argc, argv); rc >= 0) return rc;

    const std::string tag = cache + (prefetch ? "-prefetch" : "") + (rehearse_us > 0 ? "-rehearse" : "") +
                            (hugepages.empty() ? "" : "-huge");
    Setting s;
    if (int rc = begin(c, s, "cadence", tag); rc >= 0) return rc;
    const std::string name = "marllb_scn_cadence_" + std::to_string(getpid());
    shm::Options opts = shm::default_options();
    if (!hugepages.empty()) {
        opts.dir = hugepages.c_str();
        opts.flags |= MARLLB_OPT_HUGEPAGES;
    }
    auto lb = shm::LbRegion::create(name, opts);
    if (!lb) {
        fmt::print(stderr, "marllb-scenario-cadence: {}\n", lb.error().message);
        return 2;
    }
    if (!hugepages.empty() && !lb->huge_pages()) {
        fmt::print(stderr, "marllb-scenario-cadence: --hugepages {}: the region is not on huge pages ({}); "
                           "mount a hugetlbfs there and reserve pages (scripts/hugepages.sh)\n",
                   hugepages, lb->notes());
        lb->close();
        (void)shm::unlink_region(name, opts);
        return 2;
    }
    const std::uint64_t rehearse_ns = std::uint64_t(rehearse_us * 1e3);
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
            auto a = shm::AgentRegion::attach(name, opts);
            if (!a) return 3;
            shm::Observation o;
            if (reactive) {
                unsigned char copy[sizeof(marllb_msg_out_t)];
                // The action each event answers with (its sequence id set on the event): building
                // it is the agent's policy, not the region's, and stays out of the timed path.
                shm::MsgIn act{};
                act.num_servers = 8;
                for (unsigned i = 0; i < 8; ++i) act.weights[i] = 1.0f;
                marllb_alias_build(act.weights, 8, act.alias_table);
                marllb_msg_in_t answer_bytes{};
                for (unsigned i = 0; i < 8; ++i) answer_bytes.weights[i] = 1.0f;
                for (std::size_t k = 0; k < events; ++k) {
                    if (cold) thrash_caches();
                    spin_until(sh->start_ns + k * period - 200'000);
                    a->heartbeat();
                    if (rehearse_ns) { // at the same time before the event as the LB's
                        spin_until(sh->start_ns + k * period - std::min<std::uint64_t>(rehearse_ns, 200'000));
                        a->rehearse();
                    }
                    const std::uint64_t give_up = sh->start_ns + k * period + 50'000'000;
                    while (a->published_sequence() <= k && now_ns() < give_up) {
                    }
                    const std::uint64_t tv = now_ns();
                    if (a->read_newest(o) == shm::Errc::ok) {
                        const std::uint64_t tr = now_ns();
                        act.sequence_id = o.msg.sequence_id; // the answer, built before the event
                        const std::uint64_t w0 = now_ns();
                        (void)a->write_action(act, o.generation);
                        const std::uint64_t w1 = now_ns();
                        // Recorded after answering: not on the measured path.
                        sh->visible[sh->n] = double(tv - o.publish_mono_ns);
                        sh->read[sh->n] = double(tr - tv);
                        sh->action_write[sh->n] = double(w1 - w0);
                        sh->retries += o.retries;
                        sh->torn += !measure::observation_intact(o.msg);
                        ++sh->n;
                    }
                    // The null event, half a period later: same cold caches, same schedule.
                    if (cold) thrash_caches();
                    const std::uint64_t tn = sh->start_ns + k * period + period / 2;
                    spin_until(tn - 200'000);
                    if (rehearse_ns) { // the null's rehearsal, as the region's: its answer lines owned
                        spin_until(tn - std::min<std::uint64_t>(rehearse_ns, 200'000));
                        for (std::size_t i = 0; i < sizeof sh->answer_payload; i += 64)
                            __builtin_prefetch(sh->answer_payload + i, 1, 3);
                    }
                    while (sh->signal.load(std::memory_order_acquire) != k + 1 && now_ns() < tn + 50'000'000) {
                    }
                    const std::uint64_t nv = now_ns();
                    if (sh->signal.load(std::memory_order_relaxed) != k + 1) continue; // never signalled
                    std::memcpy(copy, sh->payload, sizeof copy);
                    asm volatile("" : : "r"(copy) : "memory"); // the copy happens, all of it
                    const std::uint64_t nr = now_ns();
                    // The answer: an action's bytes copied into shared memory, then its line.
                    sh->answer_ns = nr;
                    std::memcpy(sh->answer_payload, &answer_bytes, sizeof answer_bytes);
                    sh->answer.store(k + 1, std::memory_order_release);
                    sh->null_answer_write[sh->null_n] = double(now_ns() - nr);
                    sh->null_visible[sh->null_n] = double(nv - sh->signal_ns);
                    sh->null_read[sh->null_n] = double(nr - nv);
                    marllb_msg_out_t check;
                    std::memcpy(&check, copy, sizeof check);
                    sh->null_bad += check.sequence_id != k + 1; // the bytes of this event, after answering
                    ++sh->null_n;
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

        std::vector<double> write, applied, e2e, action_read, null_write, null_applied, null_e2e;
        for (auto *v : {&write, &applied, &e2e, &action_read, &null_write, &null_applied, &null_e2e}) v->reserve(events);
        std::uint64_t unanswered = 0, null_unanswered = 0;
        marllb_msg_out_t msg;
        std::uint64_t published = 0;
        for (std::size_t k = 0; k < events; ++k) {
            if (cold) thrash_caches();
            const std::uint64_t t = sh->start_ns + k * period;
            measure::fill_observation(msg, lb->next_sequence());
            if (rehearse_ns) {
                spin_until(t - rehearse_ns);
                lb->rehearse();
            } else if (prefetch) {
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
            // Progress, when the event is over (never between a publish and its answer).
            auto progress = [&] {
                if (!c.quiet && (k + 1) % 50 == 0) fmt::print(stderr, "  {}: {} / {} observations\n", rg, k + 1, events);
            };
            if (!reactive) {
                progress();
                continue;
            }
            // From the publish, as the null's: a publish that began more than the wait after its
            // scheduled time (the host stalled this process) would otherwise give up before it
            // started and count give_up - t0 as a wrapped, huge latency.
            const std::uint64_t give_up = t0 + 50'000'000;
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
            progress();
            // The null event: a plain copy into shared memory and a one-line signal.
            if (cold) thrash_caches();
            marllb_msg_out_t null_msg;
            measure::fill_observation(null_msg, k + 1);
            if (rehearse_ns) { // the null's rehearsal, as the region's: the lines it writes owned
                spin_until(t + period / 2 - rehearse_ns);
                for (std::size_t i = 0; i < sizeof sh->payload; i += 64) __builtin_prefetch(sh->payload + i, 1, 3);
                __builtin_prefetch(&sh->signal, 1, 3);
            }
            spin_until(t + period / 2);
            const std::uint64_t n0 = now_ns();
            sh->signal_ns = n0;
            std::memcpy(sh->payload, &null_msg, sizeof null_msg);
            sh->signal.store(k + 1, std::memory_order_release);
            const std::uint64_t n1 = now_ns();
            null_write.push_back(double(n1 - n0));
            const std::uint64_t null_give_up = n0 + 50'000'000;
            while (sh->answer.load(std::memory_order_acquire) != k + 1 && now_ns() < null_give_up) {
            }
            marllb_msg_in_t got;
            std::memcpy(&got, sh->answer_payload, sizeof got); // the LB takes the answer's bytes
            asm volatile("" : : "r"(&got) : "memory");
            const std::uint64_t na = now_ns();
            if (sh->answer.load(std::memory_order_relaxed) == k + 1) {
                null_applied.push_back(double(na - sh->answer_ns));
                null_e2e.push_back(double(na - n0));
            } else {
                null_e2e.push_back(double(null_give_up - n0)), ++null_unanswered;
            }
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
            const std::size_t e2e_at = rows.size() - 1;
            rows.push_back(row("null_publish_call", null_write));
            rows.push_back(row("null_publish_to_visible", std::vector<double>(sh->null_visible, sh->null_visible + sh->null_n)));
            rows.push_back(row("null_read_call", std::vector<double>(sh->null_read, sh->null_read + sh->null_n)));
            rows.push_back(row("null_action_write_call",
                               std::vector<double>(sh->null_answer_write, sh->null_answer_write + sh->null_n)));
            rows.push_back(row("null_action_to_applied", null_applied));
            rows.push_back(row("null_end_to_end", null_e2e));
            if (null_unanswered) rows.back().note = std::to_string(null_unanswered) + " null events unanswered within 50 ms";
            if (sh->null_bad) rows.back().fail("peer_exit", std::to_string(sh->null_bad) + " null events copied the wrong bytes");
            // The end-to-end tail against the null's: its per-run limit (targets.toml
            // end_to_end_over_null) is the null's same quantity plus the target's over_null.
            // A run whose null events went unanswered has no floor: the limit is then 0 (a miss
            // that says so), never a tail both sides share.
            for (const Target &t : s.targets.targets)
                if (applies(t, rows[e2e_at]) && t.per_run_limit && t.over_null >= 0) {
                    double null_q = 0;
                    const bool have = null_unanswered == 0 && sh->null_n == events && quantity(rows.back(), t.quantity, null_q);
                    rows[e2e_at].expected = have ? null_q + t.over_null : 0;
                    if (!have) rows[e2e_at].note += (rows[e2e_at].note.empty() ? "" : "; ") + std::string("no null floor: null events unanswered");
                }
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
    (void)shm::unlink_region(name, opts);
    const int rc = write_rows(c, s, rows);
    return torn_total ? 1 : rc;
}
