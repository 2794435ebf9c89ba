// Protocol, one thread: ring order and loss accounting, the newest-mode fallback, raw
// reservoirs, the action slot's verdicts, heartbeats, and repair after a crash (simulated by
// leaving the ring as a killed writer would). The concurrent versions are the stress tests.
#include "support/process.hpp"
#include "support/raw_region.hpp"

#include <marllb/measure/payload.hpp>
#include <marllb/shm.hpp>

#include <catch2/catch.hpp>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <limits>
#include <memory>
#include <sys/wait.h>
#include <thread>
#include <optional>
#include <random>
#include <unistd.h>

using namespace marllb::shm;
using namespace marllb::test;
using namespace marllb::measure;

namespace {

struct Fixture {
    std::string name;
    std::optional<LbRegion> lb;
    std::optional<AgentRegion> agent;
    std::unique_ptr<RawRegion> raw; // the test's own mapping: it stands in for a killed writer
    explicit Fixture(const char *tag, std::uint32_t flags = 0, std::uint32_t num_servers = 0)
        : name(unique_region(tag)) {
        auto opts = default_options();
        opts.flags = flags;
        opts.num_servers = num_servers;
        auto l = LbRegion::create(name, opts);
        REQUIRE(l);
        lb.emplace(std::move(*l));
        auto a = AgentRegion::attach(name);
        REQUIRE(a);
        agent.emplace(std::move(*a));
        raw = std::make_unique<RawRegion>(lb->path());
        REQUIRE(raw->ok());
    }
    ~Fixture() { (void)unlink_region(name); }
    std::uint64_t publish() {
        marllb_msg_out_t m;
        fill_observation(m, lb->next_sequence());
        return lb->publish(m);
    }
    void restart_lb(std::uint32_t num_servers = 0) {
        lb.reset();
        auto opts = default_options();
        opts.num_servers = num_servers;
        auto l = LbRegion::reopen(name, opts);
        REQUIRE(l);
        lb.emplace(std::move(*l));
    }
    // The ring's slot of seq: the test stands in for a writer killed mid-publish.
    marllb_obs_slot_t &slot_of(std::uint64_t seq) { return raw->slot_of(seq); }
    // Writes an action straight into the action section, bypassing the agent's checks, as a
    // buggy or hostile agent would.
    // meta: written before msg when given (write_mono_ns, obs_generation, reserved4).
    struct Meta {
        std::uint64_t write_mono_ns;
        std::uint32_t obs_generation;
        std::uint32_t reserved;
    };
    void raw_write_action(const marllb_msg_in_t &a, std::optional<Meta> meta = std::nullopt) {
        const int fd = ::open(lb->path().c_str(), O_RDWR);
        REQUIRE(fd >= 0);
        std::uint64_t lock = 0;
        REQUIRE(pread(fd, &lock, 8, MARLLB_ACTION_OFFSET) == 8);
        lock = (lock | 1) + 1;
        if (meta)
            REQUIRE(pwrite(fd, &*meta, sizeof *meta, MARLLB_ACTION_OFFSET + offsetof(marllb_action_section_t, write_mono_ns)) ==
                    ssize_t(sizeof *meta));
        REQUIRE(pwrite(fd, &a, sizeof a, MARLLB_ACTION_OFFSET + offsetof(marllb_action_section_t, msg)) ==
                ssize_t(sizeof a));
        REQUIRE(pwrite(fd, &lock, 8, MARLLB_ACTION_OFFSET) == 8);
        close(fd);
    }
};

} // namespace

TEST_CASE("sequence ids start at 1, a reader gets exactly what was published", "[protocol]") {
    Fixture f("basic");
    Observation obs;
    CHECK(f.agent->read_newest(obs) == Errc::again);
    CHECK(f.agent->read_next(obs) == Errc::again);

    marllb_msg_out_t m{};
    CHECK(f.lb->publish(m) == 1);
    CHECK(m.sequence_id == 1);
    CHECK(m.timestamp_us != 0); // stamped because it was 0
    REQUIRE(f.agent->read_newest(obs) == Errc::ok);
    CHECK(obs.msg.sequence_id == 1);
    CHECK(obs.generation == 1);
    CHECK(obs.publish_mono_ns != 0);

    CHECK(f.publish() == 2);
    REQUIRE(f.agent->read_newest(obs) == Errc::ok);
    CHECK(obs.msg.sequence_id == 2);
    CHECK(observation_intact(obs.msg));
    CHECK(obs.skipped == 0);
}

TEST_CASE("newest mode counts the messages it skipped, never goes back, never returns a message twice", "[protocol]") {
    Fixture f("newest");
    for (int i = 0; i < 7; ++i) f.publish();
    Observation obs;
    REQUIRE(f.agent->read_newest(obs) == Errc::ok);
    CHECK(obs.msg.sequence_id == 7);
    CHECK(obs.skipped == 6);
    CHECK(f.agent->read_newest(obs) == Errc::again); // nothing newer than 7
    CHECK(f.publish() == 8);
    REQUIRE(f.agent->read_newest(obs) == Errc::ok);
    CHECK(obs.msg.sequence_id == 8);
    CHECK(obs.skipped == 0);

    SECTION("a newest slot being written falls back to the previous complete slot, if newer") {
        f.publish(); // 9
        f.publish(); // 10
        auto &s10 = f.slot_of(10);
        const std::uint64_t saved = s10.lock;
        s10.lock = 2 * 14 - 1; // as if the writer had lapped the ring and were writing 14
        Observation o;
        REQUIRE(f.agent->read_newest(o) == Errc::ok);
        CHECK(o.msg.sequence_id == 9);
        CHECK(o.fallback == 1);
        CHECK(o.retries == 4);
        CHECK(o.skipped == 0);
        CHECK(observation_intact(o.msg));
        CHECK(f.agent->read_newest(o) == Errc::again); // 9 was returned; 8 and 7 are older
        f.slot_of(9).lock = 2 * 13 - 1;
        CHECK(f.agent->read_newest(o) == Errc::again);
        s10.lock = saved;
        REQUIRE(f.agent->read_newest(o) == Errc::ok);
        CHECK(o.msg.sequence_id == 10);
        CHECK(o.fallback == 0);
    }
}

TEST_CASE("in-order mode returns every message once and counts loss to wrap exactly", "[protocol]") {
    Fixture f("inorder");
    Observation obs;
    for (int i = 0; i < 3; ++i) f.publish();
    for (std::uint64_t want = 1; want <= 3; ++want) {
        REQUIRE(f.agent->read_next(obs) == Errc::ok);
        CHECK(obs.msg.sequence_id == want);
        CHECK(obs.lost == 0);
    }
    CHECK(f.agent->read_next(obs) == Errc::again);

    for (int i = 0; i < 10; ++i) f.publish(); // 4..13: only 10..13 survive in 4 slots
    REQUIRE(f.agent->read_next(obs) == Errc::ok);
    CHECK(obs.msg.sequence_id == 10);
    CHECK(obs.lost == 6);
    for (std::uint64_t want = 11; want <= 13; ++want) {
        REQUIRE(f.agent->read_next(obs) == Errc::ok);
        CHECK(obs.msg.sequence_id == want);
        CHECK(obs.lost == 0);
    }
    CHECK(f.agent->total_lost() == 6);
}

TEST_CASE("randomized interleavings: lost + read == published, ids strictly increase", "[protocol][random]") {
    Fixture f("random");
    std::mt19937_64 rng(42);
    std::uint64_t reads = 0, last = 0;
    Observation obs;
    for (int round = 0; round < 20000; ++round) {
        const int writes = int(rng() % 7);
        for (int i = 0; i < writes; ++i) f.publish();
        const int tries = int(rng() % 4);
        for (int i = 0; i < tries; ++i) {
            if (f.agent->read_next(obs) != Errc::ok) break;
            REQUIRE(obs.msg.sequence_id > last);
            REQUIRE(observation_intact(obs.msg));
            last = obs.msg.sequence_id;
            ++reads;
        }
    }
    while (f.agent->read_next(obs) == Errc::ok) ++reads;
    const std::uint64_t published = f.lb->next_sequence() - 1;
    CHECK(reads + f.agent->total_lost() == published);
    CHECK(f.agent->total_lost() > 0);
}

TEST_CASE("raw reservoirs belong to their observation and are never returned mismatched", "[protocol][reservoirs]") {
    Fixture f("reservoirs", MARLLB_OPT_RAW_RESERVOIRS);
    REQUIRE(f.agent->has_reservoirs());
    CHECK(f.lb->size() == MARLLB_REGION_SIZE_WITH_RESERVOIRS);
    static marllb_reservoir_data_t raw, got;
    marllb_msg_out_t m;
    for (int i = 0; i < 3; ++i) {
        const auto seq = f.lb->next_sequence();
        fill_observation(m, seq);
        fill_reservoirs(raw, seq);
        REQUIRE(f.lb->publish(m, &raw) == seq);
    }
    Observation obs;
    REQUIRE(f.agent->read_newest(obs) == Errc::ok);
    REQUIRE(f.agent->read_reservoirs(obs.msg.sequence_id, got) == Errc::ok);
    CHECK(reservoirs_intact(got, obs.msg.sequence_id));
    REQUIRE(f.agent->read_reservoirs(2, got) == Errc::ok); // the second buffer still holds 2
    CHECK(reservoirs_intact(got, 2));
    CHECK(f.agent->read_reservoirs(1, got) == Errc::gone); // 3 overwrote it
    CHECK(f.agent->read_reservoirs(4, got) == Errc::invalid); // not published yet

    Fixture plain("noreservoirs");
    CHECK(plain.agent->read_reservoirs(1, got) == Errc::invalid);
    CHECK(plain.lb->publish(m, &raw) == 0); // refused, nothing published
    CHECK(plain.lb->next_sequence() == 1);
}

TEST_CASE("reservoirs a dead LB completed are never returned for the restarted LB's observation", "[protocol][reservoirs][recovery]") {
    Fixture f("reservoirs_crash", MARLLB_OPT_RAW_RESERVOIRS);
    static marllb_reservoir_data_t raw, got;
    marllb_msg_out_t m;
    for (std::uint64_t seq = 1; seq <= 4; ++seq) {
        fill_observation(m, seq);
        fill_reservoirs(raw, seq);
        REQUIRE(f.lb->publish(m, &raw) == seq);
    }
    // The LB dies publishing 5: its reservoirs complete (tagged 5), its slot half-written.
    auto *res = f.raw->reservoirs();
    fill_reservoirs(raw, 5);
    std::memcpy(&res[5 % MARLLB_RESERVOIR_BUFFERS].data, &raw, sizeof raw);
    res[5 % MARLLB_RESERVOIR_BUFFERS].lock = 2 * 5;
    f.slot_of(5).lock = 2 * 5 - 1;
    f.restart_lb();
    CHECK(f.publish() == 5); // the new LB's own 5, without reservoirs
    CHECK(f.agent->read_reservoirs(5, got) == Errc::gone);
    CHECK(f.publish() == 6); // 6 without reservoirs: its buffer holds 4's and never changes
    CHECK(f.agent->read_reservoirs(6, got) == Errc::gone);
    REQUIRE(f.agent->read_reservoirs(4, got) == Errc::ok);
    CHECK(reservoirs_intact(got, 4));
}

TEST_CASE("the action slot: applied, unchanged, stale, and the LB's private copy", "[protocol][action]") {
    Fixture f("action");
    CHECK(f.lb->poll_action().status == MARLLB_POLL_UNCHANGED);
    CHECK(f.lb->action() == nullptr);
    for (int i = 0; i < 5; ++i) f.publish();

    marllb_msg_in_t a;
    fill_action(a, 3);
    REQUIRE(f.agent->write_action(a, 1) == Errc::ok);
    CHECK(f.lb->poll_action().status == MARLLB_POLL_APPLIED);
    REQUIRE(f.lb->action() != nullptr);
    CHECK(std::memcmp(f.lb->action(), &a, sizeof a) == 0);
    CHECK(f.lb->poll_action().status == MARLLB_POLL_UNCHANGED);

    fill_action(a, 3);
    REQUIRE(f.agent->write_action(a, 1) == Errc::ok);
    CHECK(f.lb->poll_action().status == MARLLB_POLL_STALE); // same observation answered twice
    fill_action(a, 2);
    REQUIRE(f.agent->write_action(a, 1) == Errc::ok);
    CHECK(f.lb->poll_action().status == MARLLB_POLL_STALE); // older
    CHECK(f.lb->action()->sequence_id == 3);

    fill_action(a, 5);
    REQUIRE(f.agent->write_action(a, 1) == Errc::ok);
    CHECK(f.lb->poll_action().status == MARLLB_POLL_APPLIED);
    const auto v = f.agent->verdicts();
    CHECK(v.applied_action_seq == 5);
    CHECK(v.actions_applied == 2);
    CHECK(v.actions_stale == 2);
    CHECK(v.published_seq == 5);
}

TEST_CASE("an invalid action is refused by the agent API and rejected by the LB, the previous stays", "[protocol][action]") {
    Fixture f("badaction");
    for (int i = 0; i < 5; ++i) f.publish();
    marllb_msg_in_t good;
    fill_action(good, 4);
    REQUIRE(f.agent->write_action(good, 1) == Errc::ok);
    REQUIRE(f.lb->poll_action().status == MARLLB_POLL_APPLIED);

    marllb_msg_in_t bad = good;
    bad.sequence_id = 5;
    bad.alias_table[2].alias = 40; // out of range for 16 servers
    RejectReason why{};
    CHECK(f.agent->write_action(bad, 1, &why) == Errc::rejected);
    CHECK(why == MARLLB_ACTION_ALIAS_INDEX_RANGE);
    CHECK(f.lb->poll_action().status == MARLLB_POLL_UNCHANGED); // never written

    f.raw_write_action(bad); // a hostile agent skips the checks
    const auto r = f.lb->poll_action();
    CHECK(r.status == MARLLB_POLL_REJECTED);
    CHECK(r.reason == MARLLB_ACTION_ALIAS_INDEX_RANGE);
    CHECK(f.lb->action()->sequence_id == 4);
    CHECK(std::memcmp(f.lb->action(), &good, sizeof good) == 0);
    const auto v = f.agent->verdicts();
    CHECK(v.actions_rejected == 1);
    CHECK(v.last_reject_reason == MARLLB_ACTION_ALIAS_INDEX_RANGE);
    CHECK(v.last_rejected_seq == 5);
    CHECK(f.raw->header()->rejects_by_reason[MARLLB_ACTION_ALIAS_INDEX_RANGE] == 1);
}

TEST_CASE("an action for another server count is refused by the agent and by the LB, the action in force stays", "[protocol][action][servers]") {
    Fixture f("server_count", 0, 7); // an LB of 7 servers
    CHECK(f.agent->num_servers() == 7);
    for (int i = 0; i < 5; ++i) f.publish();
    marllb_msg_in_t good;
    fill_action(good, 4, 7);
    REQUIRE(f.agent->write_action(good, 1) == Errc::ok);
    REQUIRE(f.lb->poll_action().status == MARLLB_POLL_APPLIED);
    const auto written = f.raw->action()->actions_written;

    for (std::uint32_t n : {8u, 3u}) { // one too many (the heavy weight on a server that is not there), too few
        INFO("num_servers " << n);
        marllb_msg_in_t wrong;
        fill_action(wrong, 5, n);
        if (n == 8) wrong.weights[7] = 1000.0f, marllb_alias_build(wrong.weights, 8, wrong.alias_table);
        RejectReason why{};
        CHECK(f.agent->write_action(wrong, 1, &why) == Errc::rejected);
        CHECK(why == MARLLB_ACTION_SERVER_COUNT);
        CHECK(f.raw->action()->actions_written == written); // nothing written
        CHECK(f.lb->poll_action().status == MARLLB_POLL_UNCHANGED);

        f.raw_write_action(wrong); // raw bytes: the LB's own check
        const auto r = f.lb->poll_action();
        CHECK(r.status == MARLLB_POLL_REJECTED);
        CHECK(r.reason == MARLLB_ACTION_SERVER_COUNT);
        REQUIRE(f.lb->action() != nullptr);
        CHECK(std::memcmp(f.lb->action(), &good, sizeof good) == 0);
    }
    CHECK(f.raw->header()->rejects_by_reason[MARLLB_ACTION_SERVER_COUNT] == 2);
    CHECK(f.agent->verdicts().last_reject_reason == MARLLB_ACTION_SERVER_COUNT);
}

TEST_CASE("a new server set: actions for the old one are refused, the action in force is dropped", "[protocol][action][servers]") {
    Fixture f("server_set", 0, 7);
    f.publish();
    marllb_msg_in_t a;
    fill_action(a, 1, 7);
    REQUIRE(f.agent->write_action(a, 1) == Errc::ok);
    REQUIRE(f.lb->poll_action().status == MARLLB_POLL_APPLIED);
    f.publish(); // 2, still of 7 servers

    REQUIRE(f.lb->set_servers(8) == Errc::ok); // a server added: observations from 3 on
    CHECK(f.lb->set_servers(0) == Errc::invalid);
    CHECK(f.lb->set_servers(65) == Errc::invalid);
    CHECK(f.lb->action() == nullptr); // not half-applied to the new set
    CHECK(f.lb->server_set_seq() == 3);
    CHECK(f.agent->num_servers() == 8);
    CHECK(f.agent->verdicts().applied_action_seq == 0);

    fill_action(a, 2, 8); // the right count, but it answers an observation of the old set
    RejectReason why{};
    CHECK(f.agent->write_action(a, 1, &why) == Errc::rejected);
    CHECK(why == MARLLB_ACTION_SERVER_SET);
    f.raw_write_action(a);
    auto r = f.lb->poll_action();
    CHECK(r.status == MARLLB_POLL_REJECTED);
    CHECK(r.reason == MARLLB_ACTION_SERVER_SET);
    CHECK(f.lb->action() == nullptr);

    f.publish(); // 3: the new set's first observation
    fill_action(a, 3, 8);
    REQUIRE(f.agent->write_action(a, 1) == Errc::ok);
    REQUIRE(f.lb->poll_action().status == MARLLB_POLL_APPLIED);
    CHECK(f.lb->action()->num_servers == 8);

    SECTION("a restarted LB of the same count keeps the set and re-adopts its action") {
        f.restart_lb(8);
        CHECK(f.lb->server_set_seq() == 3);
        CHECK(f.lb->poll_action().status == MARLLB_POLL_APPLIED);
        CHECK(f.lb->action()->sequence_id == 3);
    }
    SECTION("a restarted LB of another count starts a new set and re-adopts nothing") {
        f.restart_lb(7);
        CHECK(f.lb->server_set_seq() == 4);
        CHECK(f.agent->num_servers() == 7);
        CHECK(f.lb->poll_action().status == MARLLB_POLL_UNCHANGED);
        CHECK(f.lb->action() == nullptr);
    }
}

TEST_CASE("an action whose metadata is junk is rejected, a write time from the future is reported as unknown", "[protocol][action]") {
    Fixture f("junk_meta");
    for (int i = 0; i < 8; ++i) f.publish();
    marllb_msg_in_t a;
    std::uint64_t seq = 1;
    const auto now = marllb_now_mono_ns();
    using Meta = Fixture::Meta;
    for (const Meta junk : {Meta{now, 0xffffffffu, 0}, Meta{now, 2, 0}, Meta{now, 1, 7}}) {
        INFO("generation " << junk.obs_generation << ", reserved " << junk.reserved);
        fill_action(a, seq++);
        f.raw_write_action(a, junk);
        const auto r = f.lb->poll_action();
        CHECK(r.status == MARLLB_POLL_REJECTED);
        CHECK(r.reason == MARLLB_ACTION_META);
        CHECK(f.lb->action() == nullptr);
    }
    // The write time is reported, never judged: one the LB's clock has not reached (junk, or
    // an agent in another time namespace) is applied on its content and reported as 0.
    for (const std::uint64_t later : {std::uint64_t(UINT64_MAX), std::uint64_t(now + 3'600'000'000'000ull)}) {
        INFO("write time " << later);
        fill_action(a, seq++);
        f.raw_write_action(a, Meta{later, 1, 0});
        CHECK(f.lb->poll_action().status == MARLLB_POLL_APPLIED);
        CHECK(f.lb->action_write_mono_ns() == 0);
    }
    std::memset(f.raw->action()->reserved3, 0xab, sizeof f.raw->action()->reserved3); // never read
    fill_action(a, seq);
    f.raw_write_action(a, Meta{now, 1, 0});
    CHECK(f.lb->poll_action().status == MARLLB_POLL_APPLIED);
    CHECK(f.lb->action_write_mono_ns() == now);
}

TEST_CASE("a vfork child shares its parent's agent handle, as a thread does: its write is accepted", "[protocol][action]") {
    // The contract (shm.h): E_BUSY is for another address space, which has its own copy of the
    // handle; a vfork child runs in the parent's memory while the parent waits.
#if defined(__SANITIZE_THREAD__)
    WARN("ThreadSanitizer runs vfork as fork (its interceptor): shown by the release and ASan builds only");
    return;
#endif
    Fixture f("vfork_writer");
    for (int i = 0; i < 5; ++i) f.publish();
    marllb_msg_in_t a;
    fill_action(a, 5);
    volatile int result = -1;
    const pid_t pid = vfork();
    if (pid == 0) {
        result = int(f.agent->write_action(a, 1));
        _exit(0);
    }
    REQUIRE(pid > 0);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(result == int(Errc::ok));
    CHECK(f.lb->poll_action().status == MARLLB_POLL_APPLIED);
}

namespace {
// A child made by `spawn` (fork-like: 0 in the child) writes on its parent's agent handle; the
// write must be refused (busy) and nothing reach the LB.
void child_write_is_refused(Fixture &f, pid_t (*spawn)()) {
    for (int i = 0; i < 5; ++i) f.publish();
    marllb_msg_in_t a;
    fill_action(a, 5);
    const pid_t pid = spawn();
    if (pid == 0) _exit(f.agent->write_action(a, 1) == Errc::busy ? 0 : 1);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(f.lb->poll_action().status == MARLLB_POLL_UNCHANGED); // nothing was written
    REQUIRE(f.agent->write_action(a, 1) == Errc::ok);           // the parent still can
    CHECK(f.lb->poll_action().status == MARLLB_POLL_APPLIED);
}
} // namespace

TEST_CASE("a process forked after attach cannot write actions on its parent's handle", "[protocol][action]") {
    Fixture f("fork_writer");
    child_write_is_refused(f, fork);
}

TEST_CASE("a child made without the fork handlers (_Fork) cannot write actions on its parent's handle either", "[protocol][action]") {
    // glibc's _Fork() (like a raw clone or syscall(SYS_fork)) runs no pthread_atfork handler;
    // the kernel still wipes the writer's MADV_WIPEONFORK token in the child.
    Fixture f("fork_writer_nohandlers");
    child_write_is_refused(f, _Fork);
}

TEST_CASE("two threads writing on one agent handle: the overlapping write is refused, nothing mixed applies", "[protocol][action]") {
    Fixture f("two_threads");
    for (int i = 0; i < 64; ++i) f.publish();
    std::atomic<std::uint64_t> refused{0}, other_errors{0};
    std::atomic<bool> stop{false};
    auto writer = [&](std::uint64_t first) {
        marllb_msg_in_t a;
        // Until the threads have overlapped at least once (bounded): on a loaded machine one
        // thread may run its whole share before the other starts.
        for (int k = 0; k < 2'000'000 && (k < 20000 || refused.load(std::memory_order_relaxed) == 0); ++k) {
            fill_action(a, first + std::uint64_t(k % 32), 8 + std::uint32_t(k % 50));
            const Errc e = f.agent->write_action(a, 1);
            if (e == Errc::busy) refused.fetch_add(1, std::memory_order_relaxed);
            else if (e != Errc::ok) other_errors.fetch_add(1, std::memory_order_relaxed);
        }
    };
    std::uint64_t mixed = 0, applied = 0;
    std::thread poller([&] {
        LbRegion &lb = *f.lb;
        while (!stop.load(std::memory_order_relaxed)) {
            if (lb.poll_action().status == MARLLB_POLL_APPLIED) {
                ++applied;
                if (!action_intact(*lb.action())) ++mixed;
            }
        }
    });
    std::thread t1(writer, 1), t2(writer, 33);
    t1.join();
    t2.join();
    stop = true;
    poller.join();
    std::printf("two writer threads: refused %llu, applied %llu\n", (unsigned long long)refused.load(),
                (unsigned long long)applied);
    CHECK(refused.load() > 0);
    CHECK(other_errors.load() == 0);
    CHECK(mixed == 0);
}

TEST_CASE("heartbeats: each side can tell whether its peer stamped recently", "[protocol][liveness]") {
    Fixture f("heartbeat");
    CHECK_FALSE(f.lb->agent_alive(1'000'000'000));
    CHECK_FALSE(f.agent->lb_alive(1'000'000'000));
    f.agent->heartbeat();
    f.lb->heartbeat();
    CHECK(f.lb->agent_alive(1'000'000'000));
    CHECK(f.agent->lb_alive(1'000'000'000));
    usleep(20'000);
    CHECK_FALSE(f.lb->agent_alive(5'000'000)); // 20 ms old, 5 ms allowed
    CHECK_FALSE(f.agent->lb_alive(5'000'000));
}

TEST_CASE("losses counted by a read_next that found nothing are reported with the next message", "[protocol][wrap]") {
    Fixture f("pending_lost");
    for (int i = 0; i < 8; ++i) f.publish(); // the ring holds 5..8
    std::uint64_t saved[4];
    for (std::uint64_t seq = 5; seq <= 8; ++seq) {
        saved[seq - 5] = f.slot_of(seq).lock;
        f.slot_of(seq).lock = 2 * seq - 1; // every slot mid-write: nothing can be returned
    }
    Observation obs;
    CHECK(f.agent->read_next(obs) == Errc::again);
    CHECK(f.agent->total_lost() == 8); // 1..4 wrapped, 5..8 being overwritten
    CHECK(f.agent->pending_lost() == 8);
    for (std::uint64_t seq = 5; seq <= 8; ++seq) f.slot_of(seq).lock = saved[seq - 5];
    CHECK(f.publish() == 9);
    REQUIRE(f.agent->read_next(obs) == Errc::ok);
    CHECK(obs.msg.sequence_id == 9);
    CHECK(obs.lost == 8); // the sum of out.lost stays equal to total_lost()
    CHECK(f.agent->pending_lost() == 0);
    CHECK(f.agent->total_lost() == 8);
}

TEST_CASE("a restarted LB repairs a half-written slot and continues the sequence", "[protocol][recovery]") {
    Fixture f("repair");
    for (int i = 0; i < 5; ++i) f.publish();
    f.slot_of(6).lock = 2 * 6 - 1; // died while writing 6 over slot of 2
    f.restart_lb();
    const auto &rep = f.lb->reopen_report();
    CHECK(rep.repaired_slots == 1);
    CHECK(rep.generation == 2);
    CHECK(rep.next_seq == 6);
    CHECK(f.slot_of(6).lock == 0);
    CHECK(f.raw->header()->repaired_slots == 1);

    Observation obs;
    REQUIRE(f.agent->read_next(obs) == Errc::ok); // 1 wrapped, 2 destroyed by the half write
    CHECK(obs.msg.sequence_id == 3);
    CHECK(obs.lost == 2);
    CHECK(f.publish() == 6);
    REQUIRE(f.agent->read_newest(obs) == Errc::ok);
    CHECK(obs.msg.sequence_id == 6);
    CHECK(obs.generation == 2);
    CHECK(observation_intact(obs.msg));
}

TEST_CASE("a restarted LB publishes a slot its predecessor completed but did not publish", "[protocol][recovery]") {
    Fixture f("republish");
    for (int i = 0; i < 5; ++i) f.publish();
    // Complete slot 6 by hand, leave published_seq at 5: killed between W2 and P1.
    auto &s = f.slot_of(6);
    fill_observation(s.msg, 6);
    s.generation = 1;
    s.lock = 12;
    f.restart_lb();
    CHECK(f.lb->reopen_report().republished == 1);
    CHECK(f.lb->next_sequence() == 7);
    Observation obs;
    REQUIRE(f.agent->read_newest(obs) == Errc::ok);
    CHECK(obs.msg.sequence_id == 6);
    CHECK(observation_intact(obs.msg));
}

TEST_CASE("a restarted LB re-adopts the action in force, and a restarted agent's actions apply", "[protocol][recovery][action]") {
    Fixture f("readopt");
    for (int i = 0; i < 5; ++i) f.publish();
    marllb_msg_in_t a;
    fill_action(a, 5);
    REQUIRE(f.agent->write_action(a, 1) == Errc::ok);
    REQUIRE(f.lb->poll_action().status == MARLLB_POLL_APPLIED);

    f.restart_lb();
    CHECK(f.lb->action() == nullptr);
    CHECK(f.lb->poll_action().status == MARLLB_POLL_APPLIED);
    REQUIRE(f.lb->action() != nullptr);
    CHECK(f.lb->action()->sequence_id == 5);
    CHECK(f.raw->header()->actions_applied == 2);

    // The agent restarts: its action echoes an observation id, not a counter of its own,
    // so its first action after the restart is newer and applies (MARLLB's reset bug).
    f.agent.reset();
    auto again = AgentRegion::attach(f.name);
    REQUIRE(again);
    f.agent.emplace(std::move(*again));
    CHECK(f.publish() == 6);
    Observation obs;
    REQUIRE(f.agent->read_newest(obs) == Errc::ok);
    fill_action(a, obs.msg.sequence_id);
    REQUIRE(f.agent->write_action(a, obs.generation) == Errc::ok);
    CHECK(f.lb->poll_action().status == MARLLB_POLL_APPLIED);
    CHECK(f.lb->action()->sequence_id == 6);
    CHECK(f.lb->action_generation() == 2);
}

TEST_CASE("a corrupted action record is not re-adopted, and the verdicts then name no action", "[protocol][recovery][action]") {
    Fixture f("badrecord");
    for (int i = 0; i < 5; ++i) f.publish();
    marllb_msg_in_t a;
    fill_action(a, 5);
    REQUIRE(f.agent->write_action(a, 1) == Errc::ok);
    REQUIRE(f.lb->poll_action().status == MARLLB_POLL_APPLIED);
    // Both saved copies: a weight gone NaN (the slot still holds the good action, but the
    // record is what a restarted LB trusts; it must check it like any action).
    for (auto &saved : f.raw->action_record()->saved)
        saved.msg.weights[0] = std::numeric_limits<float>::quiet_NaN();
    f.restart_lb();
    CHECK(f.lb->poll_action().status == MARLLB_POLL_UNCHANGED); // the slot was judged already
    CHECK(f.lb->action() == nullptr);
    CHECK(f.agent->verdicts().applied_action_seq == 0);
}

TEST_CASE("restart: a newest saved action the new LB refuses does not bring back the older one it replaced",
          "[protocol][recovery][action]") {
    // The two saved buffers hold the action in force and the one before it. When the newest
    // complete copy is refused at reopen (here: its write time is ahead of the new LB's clock,
    // as when the LB restarts on another CLOCK_MONOTONIC: a time namespace, a restore on
    // another host, a region dir that outlived a reboot), the older copy is an action the
    // agent had already replaced: re-adopting it would put superseded weights back in force.
    Fixture f("supersede");
    for (int i = 0; i < 5; ++i) f.publish();
    marllb_msg_in_t a;
    fill_action(a, 4);
    REQUIRE(f.agent->write_action(a, 1) == Errc::ok);
    REQUIRE(f.lb->poll_action().status == MARLLB_POLL_APPLIED);
    fill_action(a, 5);
    REQUIRE(f.agent->write_action(a, 1) == Errc::ok);
    REQUIRE(f.lb->poll_action().status == MARLLB_POLL_APPLIED); // 5 replaces 4
    auto &saved = f.raw->action_record()->saved;
    auto &newest = saved[saved[1].lock > saved[0].lock ? 1 : 0];
    REQUIRE(newest.msg.sequence_id == 5);
    newest.write_mono_ns = marllb_now_mono_ns() + 3'600'000'000'000ull; // its clock ran an hour ahead
    f.restart_lb();
    (void)f.lb->poll_action();
    const MsgIn *in_force = f.lb->action();
    CHECK((in_force == nullptr || in_force->sequence_id == 5)); // never 4, which 5 replaced
}

TEST_CASE("an agent that died mid-write leaves the previous action in force", "[protocol][recovery][action]") {
    Fixture f("agentdeath");
    for (int i = 0; i < 5; ++i) f.publish();
    marllb_msg_in_t a;
    fill_action(a, 4);
    REQUIRE(f.agent->write_action(a, 1) == Errc::ok);
    REQUIRE(f.lb->poll_action().status == MARLLB_POLL_APPLIED);
    // Simulate death between W0 and W2: lock odd, payload half new.
    const int fd = ::open(f.lb->path().c_str(), O_RDWR);
    REQUIRE(fd >= 0);
    std::uint64_t lock = 0;
    REQUIRE(pread(fd, &lock, 8, MARLLB_ACTION_OFFSET) == 8);
    lock += 1;
    REQUIRE(pwrite(fd, &lock, 8, MARLLB_ACTION_OFFSET) == 8);
    const std::uint64_t half = 5;
    REQUIRE(pwrite(fd, &half, 8, MARLLB_ACTION_OFFSET + offsetof(marllb_action_section_t, msg)) == 8);
    close(fd);
    CHECK(f.lb->poll_action().status == MARLLB_POLL_BUSY);
    CHECK(f.lb->poll_action().status == MARLLB_POLL_UNCHANGED); // one load per burst from now on
    CHECK(f.lb->action()->sequence_id == 4);
    // A new agent writes over the odd lock: the next even value is new, so it applies.
    f.agent.reset();
    auto again = AgentRegion::attach(f.name);
    REQUIRE(again);
    f.agent.emplace(std::move(*again));
    fill_action(a, 5);
    REQUIRE(f.agent->write_action(a, 1) == Errc::ok);
    CHECK(f.lb->poll_action().status == MARLLB_POLL_APPLIED);
    CHECK(f.lb->action()->sequence_id == 5);
}
