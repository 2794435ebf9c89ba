// Stress: writer and reader at full speed, in two threads (what ThreadSanitizer checks) and
// in two processes (what production runs). Every message carries a self-checking payload;
// the tests count accepted messages that are not intact ("torn accepted", must be 0) and
// sequence regressions (must be 0), and print retry and fallback counts.
//
// What they cannot prove: that no interleaving breaks the protocol (the spin model in
// docs/ covers the protocol's steps), nor weak-memory behaviour beyond what x86 shows.
#include "support/process.hpp"

#include <marllb/measure/payload.hpp>
#include <marllb/shm.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <thread>

using namespace marllb::shm;
using namespace marllb::test;
using namespace marllb::measure;

namespace {

std::uint64_t env_count(const char *var, std::uint64_t fallback) {
    const char *v = std::getenv(var);
    return v ? std::strtoull(v, nullptr, 10) : fallback;
}

struct ReaderTally {
    std::uint64_t reads = 0, accepted = 0, torn_accepted = 0, regressions = 0, lost = 0;
    std::uint64_t retries = 0, fallbacks = 0, again = 0;
};

// One read in newest or in-order mode, checked: intact payload, ids never going back.
void checked_read(AgentRegion &agent, bool in_order, ReaderTally &t) {
    Observation obs;
    const std::uint64_t before = agent.last_returned();
    const Errc e = in_order ? agent.read_next(obs) : agent.read_newest(obs);
    ++t.reads;
    if (e != Errc::ok) {
        ++t.again;
        return;
    }
    ++t.accepted;
    if (!observation_intact(obs.msg)) ++t.torn_accepted;
    const std::uint64_t seq = obs.msg.sequence_id;
    if (seq <= before) ++t.regressions; // both modes: never back, never the same message twice
    t.lost += obs.lost;
    t.retries += obs.retries;
    t.fallbacks += obs.fallback;
}

void print_tally(const char *what, const ReaderTally &t) {
    std::printf("%s: reads=%llu accepted=%llu torn_accepted=%llu regressions=%llu lost=%llu "
                "retries=%llu fallbacks=%llu nothing_new=%llu\n",
                what, (unsigned long long)t.reads, (unsigned long long)t.accepted,
                (unsigned long long)t.torn_accepted, (unsigned long long)t.regressions,
                (unsigned long long)t.lost, (unsigned long long)t.retries,
                (unsigned long long)t.fallbacks, (unsigned long long)t.again);
}

struct Region {
    std::string name;
    explicit Region(const char *tag) : name(unique_region(tag)) {}
    ~Region() { (void)unlink_region(name); }
};

// Waits until `pid` has taken its role on the region (its pid is recorded at open), so a
// kill lands in its steady state rather than in process start-up, which sanitizer builds
// make slow. Gives up after 10 s.
template <class PidOf> bool wait_for_role(PidOf pid_of, pid_t pid) {
    const std::uint64_t give_up = marllb_now_mono_ns() + 10'000'000'000ull;
    while (pid_of() != pid)
        if (marllb_now_mono_ns() > give_up) return false;
        else usleep(100);
    return true;
}

AgentRegion attach_or_fail(const std::string &name) {
    auto a = AgentRegion::attach(name);
    REQUIRE(a);
    return std::move(*a);
}

} // namespace

TEST_CASE("threads: full-speed writer and reader, both directions, nothing torn accepted", "[stress][threads]") {
    Region r("threads");
    auto lbx = LbRegion::create(r.name, [] { auto o = default_options(); o.flags = MARLLB_OPT_RAW_RESERVOIRS; return o; }());
    REQUIRE(lbx);
    LbRegion lb = std::move(*lbx);
    AgentRegion agent = attach_or_fail(r.name);
    const std::uint64_t target = env_count("MARLLB_STRESS_READS", MARLLB_STRESS_THREAD_READS);

    std::atomic<bool> stop{false};
    std::uint64_t applied = 0, rejected = 0, action_torn = 0, action_regressions = 0;
    std::thread writer([&] {
        marllb_msg_out_t m;
        static marllb_reservoir_data_t raw;
        std::uint64_t last_applied = 0;
        while (!stop.load(std::memory_order_relaxed)) {
            const auto seq = lb.next_sequence();
            fill_observation(m, seq);
            if (seq % 64 == 0) { // now and then with raw reservoirs
                fill_reservoirs(raw, seq);
                lb.publish(m, &raw);
            } else {
                lb.publish(m);
            }
            const auto p = lb.poll_action();
            if (p.status == MARLLB_POLL_REJECTED) ++rejected;
            if (p.status == MARLLB_POLL_APPLIED) {
                ++applied;
                if (!action_intact(*lb.action())) ++action_torn;
                if (lb.action()->sequence_id <= last_applied) ++action_regressions;
                last_applied = lb.action()->sequence_id;
            }
        }
    });
    ReaderTally t;
    std::uint64_t res_ok = 0, res_torn = 0;
    static marllb_reservoir_data_t got;
    marllb_msg_in_t a;
    // A read that finds nothing newer returns at once, so calls alone say little: also take
    // target / 100 messages (the writer may get a core late on a loaded machine), time-capped.
    const std::uint64_t give_up = marllb_now_mono_ns() + 60'000'000'000ull;
    while ((t.reads < target || t.accepted < target / 100) && marllb_now_mono_ns() < give_up) {
        checked_read(agent, (t.reads / 1024) % 2 == 1, t);
        if (t.reads % 256 == 0) {
            Observation obs;
            if (agent.read_newest(obs) == Errc::ok) {
                fill_action(a, obs.msg.sequence_id);
                REQUIRE(agent.write_action(a, obs.generation) == Errc::ok);
                const auto s = obs.msg.sequence_id & ~std::uint64_t(63);
                if (s && agent.read_reservoirs(s, got) == Errc::ok) {
                    ++res_ok;
                    if (!reservoirs_intact(got, s)) ++res_torn;
                }
            }
        }
    }
    stop = true;
    writer.join();
    print_tally("threads", t);
    std::printf("threads: actions applied=%llu rejected=%llu reservoirs read=%llu\n",
                (unsigned long long)applied, (unsigned long long)rejected, (unsigned long long)res_ok);
    CHECK(t.torn_accepted == 0);
    CHECK(t.regressions == 0);
    CHECK(t.accepted >= target / 100);
    CHECK(action_torn == 0);
    CHECK(action_regressions == 0);
    CHECK(rejected == 0);
    CHECK(applied > 0);
    CHECK(res_torn == 0);
}

TEST_CASE("processes: an LB process at full speed, an agent checking every message", "[stress][process]") {
    Region r("procs");
    { auto lb = LbRegion::create(r.name); REQUIRE(lb); }
    Child lb({MARLLB_TEST_PEER, "lb", r.name});
    REQUIRE(lb.pid() > 0);
    auto opts = default_options();
    opts.flags |= MARLLB_OPT_ALLOW_STALE; // the child may not have reopened it yet
    auto ax = AgentRegion::attach(r.name, opts);
    REQUIRE(ax);
    AgentRegion agent = std::move(*ax);
    const std::uint64_t target = env_count("MARLLB_STRESS_READS", MARLLB_STRESS_PROCESS_READS);
    ReaderTally t;
    const std::uint64_t give_up = marllb_now_mono_ns() + 60'000'000'000ull; // as in the threads case
    while ((t.reads < target || t.accepted < target / 100) && marllb_now_mono_ns() < give_up)
        checked_read(agent, (t.reads / 4096) % 2 == 1, t);
    lb.kill_now();
    lb.wait();
    print_tally("processes", t);
    CHECK(t.torn_accepted == 0);
    CHECK(t.regressions == 0);
    CHECK(t.accepted >= target / 100); // a writer at full speed does not starve the reader
}

TEST_CASE("wrap: a reader slower than the writer counts exactly writes - reads as lost", "[stress][process][wrap]") {
    Region r("wrap");
    { auto lb = LbRegion::create(r.name); REQUIRE(lb); }
    constexpr std::uint64_t kWrites = 200000;
    Child lb({MARLLB_TEST_PEER, "lb", r.name, "--count", std::to_string(kWrites)});
    auto opts = default_options();
    opts.flags |= MARLLB_OPT_ALLOW_STALE;
    auto ax = AgentRegion::attach(r.name, opts);
    REQUIRE(ax);
    AgentRegion agent = std::move(*ax);
    ReaderTally t;
    while (agent.last_returned() < kWrites) {
        const std::uint64_t before = t.accepted;
        checked_read(agent, true, t);
        if (t.accepted == before) continue;
        // ~5 us per message: slower than the writer's ~1-2 us, faster than a sleep.
        const std::uint64_t until = marllb_now_mono_ns() + 5000;
        while (marllb_now_mono_ns() < until) {
        }
    }
    REQUIRE(lb.wait() == 0);
    print_tally("wrap", t);
    CHECK(t.torn_accepted == 0);
    CHECK(t.regressions == 0);
    CHECK(t.accepted + t.lost == kWrites);
    CHECK(agent.total_lost() == t.lost);
    CHECK(t.lost > 0);
}

TEST_CASE("crash: SIGKILL the LB at random moments, restart it on the same region", "[stress][process][crash]") {
    Region r("crashlb");
    { auto lb = LbRegion::create(r.name); REQUIRE(lb); }
    auto opts = default_options();
    opts.flags |= MARLLB_OPT_ALLOW_STALE;
    auto ax = AgentRegion::attach(r.name, opts);
    REQUIRE(ax);
    AgentRegion agent = std::move(*ax);

    std::atomic<bool> stop{false};
    ReaderTally t;
    std::thread reader([&] {
        while (!stop.load(std::memory_order_relaxed)) checked_read(agent, t.reads % 2 == 0, t);
    });
    const std::uint64_t kills = env_count("MARLLB_CRASH_KILLS", MARLLB_CRASH_KILLS_DEFAULT);
    std::uint64_t repaired = 0, republished = 0, seq_regressions = 0;
    std::uint64_t last_next = 1, generation = 1;
    std::uint64_t rng = 99;
    for (std::uint64_t k = 0; k < kills; ++k) {
        {
            Child lb({MARLLB_TEST_PEER, "lb", r.name});
            REQUIRE(lb.pid() > 0);
            REQUIRE(wait_for_role([&] { return agent.lb_pid(); }, lb.pid()));
            usleep(useconds_t(marllb_rand64(&rng) % 2000));
            lb.kill_now();
            lb.wait();
        }
        // Restart the LB here, as an LB process would: repair, continue, check.
        auto restarted = LbRegion::reopen(r.name);
        REQUIRE(restarted);
        const auto &rep = restarted->reopen_report();
        repaired += rep.repaired_slots;
        republished += rep.republished;
        if (rep.next_seq < last_next) ++seq_regressions;
        last_next = rep.next_seq;
        REQUIRE(rep.generation > generation);
        generation = rep.generation;
    }
    stop = true;
    reader.join();
    // After every kill, a last LB publishes 8 messages, each read before the next: an in-order
    // reader gets every one, intact and in order (no slot left blocked by a dead writer).
    {
        auto last = LbRegion::reopen(r.name);
        REQUIRE(last);
        Observation drain;
        while (agent.read_next(drain) == Errc::ok) {
        }
        marllb_msg_out_t m;
        for (int i = 0; i < 8; ++i) {
            fill_observation(m, last->next_sequence());
            const std::uint64_t seq = last->publish(m);
            Observation o;
            REQUIRE(agent.read_next(o) == Errc::ok);
            CHECK(o.msg.sequence_id == seq);
            CHECK(observation_intact(o.msg));
        }
    }
    print_tally("crash-lb", t);
    std::printf("crash-lb: kills=%llu repaired=%llu republished=%llu final_next_seq=%llu generation=%llu\n",
                (unsigned long long)kills, (unsigned long long)repaired, (unsigned long long)republished,
                (unsigned long long)last_next, (unsigned long long)generation);
    CHECK(t.torn_accepted == 0);
    CHECK(t.regressions == 0);
    CHECK(seq_regressions == 0);
    CHECK(repaired > 0); // some kills landed mid-write, and the restart repaired them
    CHECK(t.accepted > 0);
}

TEST_CASE("crash: SIGKILL the agent at random moments, the LB keeps the previous action", "[stress][process][crash]") {
    Region r("crashagent");
    auto lbx = LbRegion::create(r.name);
    REQUIRE(lbx);
    LbRegion lb = std::move(*lbx);
    std::atomic<bool> stop{false};
    std::uint64_t applied = 0, rejected = 0, busy = 0, torn = 0, regressions = 0, lost_action = 0;
    std::thread lb_thread([&] {
        marllb_msg_out_t m;
        std::uint64_t last = 0;
        while (!stop.load(std::memory_order_relaxed)) {
            fill_observation(m, lb.next_sequence());
            lb.publish(m);
            lb.heartbeat();
            for (int i = 0; i < 64; ++i) { // several bursts per observation
                const auto p = lb.poll_action();
                if (p.status == MARLLB_POLL_REJECTED) ++rejected;
                if (p.status == MARLLB_POLL_BUSY) ++busy;
                if (p.status == MARLLB_POLL_APPLIED) {
                    ++applied;
                    if (lb.action()->sequence_id <= last) ++regressions;
                    last = lb.action()->sequence_id;
                }
                if (last && (!lb.action() || !action_intact(*lb.action()))) ++torn;
                if (last && !lb.action()) ++lost_action;
            }
        }
    });
    const std::uint64_t kills = env_count("MARLLB_CRASH_KILLS", MARLLB_CRASH_KILLS_DEFAULT) / 4;
    std::uint64_t rng = 7;
    for (std::uint64_t k = 0; k < kills; ++k) {
        Child agent({MARLLB_TEST_PEER, "agent", r.name});
        REQUIRE(agent.pid() > 0);
        REQUIRE(wait_for_role([&] { return lb.agent_pid(); }, agent.pid()));
        usleep(useconds_t(marllb_rand64(&rng) % 2000));
        agent.kill_now();
        agent.wait();
    }
    stop = true;
    lb_thread.join();
    std::printf("crash-agent: kills=%llu applied=%llu rejected=%llu busy_polls=%llu\n",
                (unsigned long long)kills, (unsigned long long)applied, (unsigned long long)rejected,
                (unsigned long long)busy);
    CHECK(applied > 0);
    CHECK(rejected == 0);
    CHECK(torn == 0);
    CHECK(regressions == 0);
    CHECK(lost_action == 0);
}
