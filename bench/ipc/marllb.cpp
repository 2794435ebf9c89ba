// marllb-shm between the two processes:
//   BM_ObsOneWay/marllb_shm      LB publishes, agent busy-polls published_seq and reads it
//   BM_ActionOneWay/marllb_shm   agent writes an action, LB polls and applies it
//   BM_FullLoop/marllb_shm       LB publishes, agent answers, LB applies: round trip
//   BM_ObsPaired/marllb_shm      BM_ObsOneWay's events alternating with the copy floor's
//   BM_ObsPairedPrefetched/marllb_shm  the same, the LB fetching its next slot for writing ahead
#include "harness.hpp"

#include <sys/mman.h>


namespace marllb::bench::ipc {

using namespace marllb::shm;

namespace {

// An action over 64 servers of equal weight (its alias table is the same for any weight).
MsgIn uniform_action() {
    MsgIn a{};
    a.num_servers = 64;
    for (auto &w : a.weights) w = 1.0f;
    marllb_alias_build(a.weights, 64, a.alias_table);
    return a;
}

// One benchmark's region and control block, released on every exit path (skips included).
struct BenchRegion {
    Control *c = make_control();
    std::string name;
    Expected<LbRegion> lb;
    explicit BenchRegion(const char *tag) : name(region_name(tag)), lb(fresh(name)) {}
    static Expected<LbRegion> fresh(const std::string &n) {
        (void)unlink_region(n); // left by an interrupted run
        return LbRegion::create(n);
    }
    ~BenchRegion() {
        (void)unlink_region(name);
        if (c) munmap(c, sizeof *c);
    }
    [[nodiscard]] bool ok() const { return c && lb; }
};

} // namespace

void BM_ObsOneWay_marllb_shm(benchmark::State &state) {
    BenchRegion r("obs");
    if (!r.ok()) return state.SkipWithError("cannot create the region");
    Control *c = r.c;
    auto &lb = r.lb;
    auto agent = AgentRegion::attach(r.name);
    if (!agent) return state.SkipWithError(agent.error().message.c_str());
    // In-order reads: every event is received unless the ring wrapped (then counted lost).
    one_way(
        state, c, [&](MsgOut &m) { lb->publish(m); },
        [&](MsgOut &m) {
            Observation obs;
            for (;;) {
                for (bool done = false; agent->published_sequence() == agent->last_returned(); __builtin_ia32_pause()) {
                    g_receiver_watch.tick();
                    if (done) return false; // checked once more after the sender finished
                    done = c->sender_done.load(std::memory_order_acquire);
                }
                if (agent->read_next(obs) == Errc::ok) break;
            }
            m = obs.msg;
            return true;
        },
        Receiver::polls);
}

// The one-way observation and its floor in one repetition, event by event: even events go
// through the floor's buffer (FloorBox), odd ones are published into the region, at the same
// 200 us cadence, and the receiver polls both. Each repetition reports both transports' counters
// (the floor's prefixed floor_), so their ratio is taken within one repetition: the host moves
// these vCPUs between placements whose cross-core latency differs by 2-3x, and two benchmarks
// in separate repetitions can land in different ones (a ratio of medians over repetitions then
// moved from 0.61 to 1.37 between two runs of the same code). Each transport gets 1,000 events.
// `prefetched`: the LB calls prefetch_next_slot() right after each floor event, half a period
// before its own publish, as marllb-sim's LB does ahead of a publish (its Warmer); the floor's
// sender does nothing ahead. The fetch, right after the floor's copy, slows the floor's event:
// this benchmark's floor is not the plain one (docs/benchmarks.md).
static void obs_paired(benchmark::State &state, bool prefetched) {
    BenchRegion r("pair");
    if (!r.ok()) return state.SkipWithError("cannot create the region");
    void *mem = mmap(nullptr, sizeof(FloorBox), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED) return state.SkipWithError("mmap failed");
    auto *box = new (mem) FloorBox;
    Control *c = r.c;
    auto &lb = r.lb;
    auto agent = AgentRegion::attach(r.name);
    if (!agent) {
        munmap(mem, sizeof(FloorBox));
        return state.SkipWithError(agent.error().message.c_str());
    }
    std::uint64_t floor_seen = 0;
    one_way(
        state, c,
        [&, k = std::uint64_t(0)](MsgOut &m) mutable { // the sender's events in order: k = 0, 1, 2, ...
            if (k++ % 2 == 0) {
                box->send(m);
                if (prefetched) lb->prefetch_next_slot();
            } else {
                lb->publish(m);
            }
        },
        [&](MsgOut &m) {
            Observation obs;
            for (bool done = false;; __builtin_ia32_pause()) {
                g_receiver_watch.tick();
                if (box->try_receive(m, floor_seen)) return true;
                if (agent->published_sequence() != agent->last_returned()) {
                    if (agent->read_next(obs) == Errc::ok) {
                        m = obs.msg;
                        return true;
                    }
                    continue;
                }
                if (done) return false; // checked once more after the sender finished
                done = c->sender_done.load(std::memory_order_acquire);
            }
        },
        Receiver::polls, Pairing::alternate);
    munmap(mem, sizeof(FloorBox));
}

void BM_ObsPaired_marllb_shm(benchmark::State &state) { obs_paired(state, false); }
void BM_ObsPairedPrefetched_marllb_shm(benchmark::State &state) { obs_paired(state, true); }

void BM_ActionOneWay_marllb_shm(benchmark::State &state) {
    BenchRegion r("act");
    if (!r.ok()) return state.SkipWithError("cannot create the region");
    Control *c = r.c;
    const std::string &name = r.name;
    auto &lbx = r.lb;
    MsgOut obs{};
    for (std::int64_t k = 0; k <= kEvents; ++k) lbx->publish(obs); // actions may answer 1..kEvents
    if (std::string e = pin(g_cpu_receiver); !e.empty()) return state.SkipWithError(e.c_str());
    const pid_t child = fork_sender(c, [&] {
        auto agent = AgentRegion::attach(name);
        if (!agent) _exit(2);
        MsgIn a;
        const std::uint64_t t0 = wait_start(c);
        for (std::int64_t k = 0; k < kEvents; ++k) {
            const std::uint64_t t = t0 + std::uint64_t(k) * kPeriodNs;
            marllb::measure::fill_action(a, std::uint64_t(k) + 1, MARLLB_MAX_AS); // before its time
            spin_until(t);
            a.timestamp_us = t; // scheduled time (benchmark convention)
            (void)agent->write_action(a, 1);
            if (now_ns() - t >= kStallNs) c->sender_stalled[k].store(1, std::memory_order_relaxed);
        }
        c->sender_done.store(true, std::memory_order_release);
    });
    if (child < 0) return state.SkipWithError(cannot_pin_child(c, g_cpu_sender).c_str());
    while (lbx->agent_pid() == 0) __builtin_ia32_pause(); // the agent has attached
    Tally tally;
    g_receiver_watch.reset();
    c->start_ns.store(now_ns() + 2'000'000, std::memory_order_release);
    for (auto _ : state) {
        // An action overwritten before the LB polled it is lost (counted below); after the
        // last event the remaining iterations end at once.
        bool applied = false;
        for (bool done = false; !applied; __builtin_ia32_pause()) {
            g_receiver_watch.tick();
            done = c->sender_done.load(std::memory_order_acquire); // before the poll: no last write missed
            applied = lbx->poll_action().status == MARLLB_POLL_APPLIED;
            if (done) break;
        }
        if (!applied) {
            state.SetIterationTime(1e-9);
            continue;
        }
        const MsgIn *a = lbx->action();
        const std::uint64_t t = a->timestamp_us, lat = now_ns() - t;
        g_receiver_watch.tick();
        if (!marllb::measure::action_intact_but_timestamp(*a)) ++tally.torn; // after the latency is taken
        tally.lat.push_back(lat);
        tally.event.push_back(std::uint32_t(a->sequence_id - 1)); // event k answers k + 1
        tally.receiver_stalled.push_back(g_receiver_watch.resumed_ns > t);
        state.SetIterationTime(double(lat) * 1e-9);
    }
    stop_child(child); // reaped: every flag the sender set is visible from here on
    tally.lost = std::uint64_t(kEvents) - tally.lat.size(); // each action is applied at most once
    tally.report(state, c);
}

void BM_FullLoop_marllb_shm(benchmark::State &state) {
    BenchRegion r("loop");
    if (!r.ok()) return state.SkipWithError("cannot create the region");
    const std::string &name = r.name;
    auto &lbx = r.lb;
    if (std::string e = pin(g_cpu_receiver); !e.empty()) return state.SkipWithError(e.c_str());
    const pid_t child = fork_sender(r.c, [&] {
        auto agent = AgentRegion::attach(name);
        if (!agent) _exit(2);
        MsgIn a = uniform_action();
        Observation obs;
        StallWatch watch; // the agent's own: flags the events it stalled on (sender_stalled)
        std::uint64_t seen = 0;
        for (;;) { // answer every observation at once
            while (agent->published_sequence() == seen) {
                watch.tick();
                __builtin_ia32_pause();
            }
            if (agent->read_newest(obs) != Errc::ok) continue; // again: nothing newer than seen
            seen = obs.msg.sequence_id;
            a.sequence_id = seen;
            (void)agent->write_action(a, obs.generation); // a failed write is a loss the code caused
            r.c->agent_answered_ns.store(now_ns(), std::memory_order_relaxed);
            r.c->agent_answered_seq.store(seen, std::memory_order_release); // after the time: see Control
            watch.tick();
            if (watch.resumed_ns > obs.msg.active_as_bitmap && seen - 1 < std::uint64_t(kEvents))
                r.c->sender_stalled[seen - 1].store(1, std::memory_order_relaxed); // event k is seq k + 1
        }
    });
    if (child < 0) return state.SkipWithError(cannot_pin_child(r.c, g_cpu_sender).c_str());
    while (lbx->agent_pid() == 0) __builtin_ia32_pause(); // the agent has attached
    Tally tally;
    tally.lost_calm = 0;
    MsgOut m{};
    const std::uint64_t t0 = now_ns() + 2'000'000;
    std::int64_t k = 0;
    g_receiver_watch.reset();
    for (auto _ : state) {
        const std::uint64_t t = t0 + std::uint64_t(k) * kPeriodNs;
        fill(m, std::uint64_t(k));
        // The wait is watched too (a gap in it that ends after t is a stall of this event); a
        // spin_until without ticks would read as one gap of the whole period, every event.
        while (now_ns() < t) {
            g_receiver_watch.tick();
            __builtin_ia32_pause();
        }
        g_receiver_watch.tick();
        m.active_as_bitmap = t;
        const std::uint64_t seq = lbx->publish(m); // seq k + 1: the region is fresh
        const std::uint64_t give_up = t + 100'000'000;
        bool applied = false;
        std::uint64_t polled_ns = 0; // the time just before the wait's last poll
        for (std::uint64_t now = now_ns(); !applied && now < give_up; now = now_ns()) {
            g_receiver_watch.tick();
            polled_ns = now;
            applied = lbx->poll_action().status == MARLLB_POLL_APPLIED && lbx->action()->sequence_id == seq;
            if (!applied) __builtin_ia32_pause();
        }
        const std::uint64_t lat = now_ns() - t;
        g_receiver_watch.tick();
        if (!applied) {
            ++tally.lost;
            // Host or code: the code's when the agent wrote its answer and the LB polled 1 ms
            // or more after that write returned, and still did not apply it. Otherwise the
            // host's: the agent did not answer within give_up (it was not running), or the LB
            // was not running from the answer to give_up (no poll after it). A stall watch
            // cannot decide it: over the 100 ms of a wait some gap of 4 us is almost certain.
            const bool answered = r.c->agent_answered_seq.load(std::memory_order_acquire) >= seq;
            if (answered && polled_ns > r.c->agent_answered_ns.load(std::memory_order_relaxed) + 1'000'000)
                ++tally.lost_calm;
        }
        tally.lat.push_back(lat);
        tally.event.push_back(std::uint32_t(k++));
        tally.receiver_stalled.push_back(g_receiver_watch.resumed_ns > t);
        state.SetIterationTime(double(lat) * 1e-9);
    }
    stop_child(child); // reaped: every flag the agent set is visible from here on
    tally.report(state, r.c);
}

} // namespace marllb::bench::ipc
