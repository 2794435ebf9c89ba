// Row 11 of the LB-model table (docs/sim.md): when the LB publishes an observation and when it
// reads the agent's action. PublishSchedule answers marllb-sim's LB lcore after every burst;
// here it is driven by packet times alone, then with frames, a real region and an agent's
// action, as the LB lcore glues them (publish, then read and apply).
#include "lb.hpp"
#include "publish_schedule.hpp"

#include <marllb/shm.hpp>

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <unistd.h>

using namespace marllb;
using namespace marllb::sim;

namespace {
constexpr std::uint64_t kMs = 1'000'000, kT0 = 1'000'000 * kMs, kInterval = 200 * kMs; // SHM_UPT_DT 0.2 s
}

TEST_CASE("11. marllb: no publish before 0.2 s after the last one, then one on the first packet at or after it",
          "[lbmodel][timing]") {
    PublishSchedule s(LbModel::marllb, kInterval, kT0);
    CHECK_FALSE(s.after_burst(kT0 + 100 * kMs, 32).publish);
    CHECK_FALSE(s.after_burst(kT0 + 200 * kMs - 1, 32).publish);
    const PublishSchedule::Due empty = s.after_burst(kT0 + 200 * kMs, 0); // due, but no packet: nothing
    CHECK_FALSE(empty.publish);
    CHECK_FALSE(empty.read_actions);
    const PublishSchedule::Due first = s.after_burst(kT0 + 250 * kMs, 1); // the first packet after it
    CHECK(first.publish);
    CHECK(first.read_actions);
    // The next is due 0.2 s after this publish, not at the 400 ms boundary: publishes drift later.
    CHECK_FALSE(s.after_burst(kT0 + 400 * kMs, 32).publish);
    CHECK_FALSE(s.after_burst(kT0 + 450 * kMs - 1, 32).publish);
    CHECK(s.after_burst(kT0 + 450 * kMs, 1).publish);        // exactly 0.2 s later is due
    CHECK_FALSE(s.after_burst(kT0 + 450 * kMs, 1).publish);  // another burst at that time: done already
    CHECK(s.next_publish() == kT0 + 650 * kMs);
}

TEST_CASE("11. marllb over irregular bursts: every publish >= 0.2 s after the last, on the first packet due, "
          "actions read only at publishes", "[lbmodel][timing]") {
    PublishSchedule s(LbModel::marllb, kInterval, kT0);
    std::uint64_t x = 12345, t = kT0, last = kT0;
    unsigned publishes = 0, reads = 0;
    for (int i = 0; i < 20'000; ++i) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        t += (x >> 33) % (3 * kMs); // gaps of 0 to 3 ms
        const unsigned n = unsigned((x >> 20) % 4) == 0 ? 0 : 1 + unsigned((x >> 40) % 32); // a quarter empty
        const bool due = n > 0 && t >= last + kInterval;
        const PublishSchedule::Due d = s.after_burst(t, n);
        REQUIRE(d.publish == due);
        REQUIRE(d.read_actions == d.publish);
        if (d.publish) {
            last = t;
            ++publishes;
        }
        reads += d.read_actions;
    }
    INFO("simulated " << double(t - kT0) / 1e9 << " s");
    CHECK(publishes > 100);
    CHECK(reads == publishes);
}

TEST_CASE("11. clean: a 0.2 s timer with or without packets, no drift, actions read after every burst", "[lbmodel][timing]") {
    PublishSchedule s(LbModel::clean, kInterval, kT0);
    const PublishSchedule::Due early = s.after_burst(kT0 + 100 * kMs, 0);
    CHECK_FALSE(early.publish);
    CHECK(early.read_actions);
    CHECK(s.after_burst(kT0 + 200 * kMs, 0).publish); // the timer needs no packet
    CHECK_FALSE(s.after_burst(kT0 + 250 * kMs, 5).publish);
    CHECK(s.after_burst(kT0 + 400 * kMs, 5).publish); // on the boundary, not 0.2 s after the last
    CHECK(s.after_burst(kT0 + 1'300 * kMs, 1).publish); // fell behind: one publish, not four
    CHECK_FALSE(s.after_burst(kT0 + 1'400 * kMs, 1).publish);
    CHECK(s.after_burst(kT0 + 1'500 * kMs, 1).publish);
}

TEST_CASE("11. an action written between publishes takes effect at the next publish (marllb), at the next burst (clean)",
          "[lbmodel][timing][shm]") {
    for (LbModel m : {LbModel::marllb, LbModel::clean}) {
        INFO(describe(m));
        const std::string name = "marllb_test_timing_" + std::to_string(::getpid()) + "_" + std::string(describe(m));
        struct Unlink {
            const std::string &n;
            ~Unlink() { (void)shm::unlink_region(n); }
        } unlink{name};
        auto region = shm::LbRegion::create(name);
        REQUIRE(region);
        auto agent = shm::AgentRegion::attach(name);
        REQUIRE(agent);
        LoadBalancer lb(LbConfig{.capacities = {1, 1}, .policy = Policy::agent_sed, .model = m});
        PublishSchedule sched(m, kInterval, kT0);
        shm::MsgOut msg{};
        std::uint32_t flow = 0;
        // A burst at t of n SYNs of new flows, then what the LB lcore does after a burst.
        // Returns how many of the burst's flows went to server 0.
        const auto burst = [&](std::uint64_t t, unsigned n) {
            unsigned on_0 = 0;
            for (unsigned i = 0; i < n; ++i) {
                std::uint8_t f[kFrameLen];
                build_frame(f, FlowKey{0x0A000000u | ++flow, kVip, 40000, kVipPort}, kTcpSyn, 1);
                on_0 += lb.process(f, sizeof f, t) == 0;
            }
            const PublishSchedule::Due d = sched.after_burst(t, n);
            if (d.publish) {
                lb.observe(t, msg);
                region->publish(msg);
            }
            if (d.read_actions && region->poll_action().status == MARLLB_POLL_APPLIED) lb.apply_action(*region->action());
            return on_0;
        };
        burst(kT0 + 200 * kMs, 1); // publishes observation 1 in both models
        shm::Observation o{};
        REQUIRE(agent->read_newest(o) == shm::Errc::ok);
        REQUIRE(o.msg.sequence_id == 1);
        // The agent's answer: server 0 off. Until it is applied, SED (no flow counted on yet)
        // sends each new flow to its hashed server, so about half of them to server 0.
        shm::MsgIn act{};
        act.sequence_id = o.msg.sequence_id;
        act.num_servers = 2;
        act.weights[1] = 1;
        REQUIRE(marllb_alias_build(act.weights, act.num_servers, act.alias_table) == 0);
        REQUIRE(agent->write_action(act, o.generation) == shm::Errc::ok);

        burst(kT0 + 250 * kMs, 32); // the burst after the write: its flows were placed before the read
        const unsigned between = burst(kT0 + 300 * kMs, 32) + burst(kT0 + 400 * kMs - 1, 32);
        if (m == LbModel::marllb) {
            CHECK(lb.counters().actions_applied == 0);
            CHECK(between > 10); // the capacities still in force
        } else {
            CHECK(lb.counters().actions_applied == 1);
            CHECK(between == 0);
        }
        burst(kT0 + 400 * kMs, 1); // marllb: the first packet 0.2 s after the last publish
        CHECK(lb.counters().actions_applied == 1);
        CHECK(lb.weights()[0] == 0.0f);
        CHECK(burst(kT0 + 410 * kMs, 32) == 0);
    }
}
