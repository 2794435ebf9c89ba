// The action in force survives an LB restart: the LB is a separate process, SIGKILLed, and a
// new LB process reopens the region. What the new LB applies is its exit code (the peer
// `lb-serve` exits with the sequence id of its action in force), and it must match the
// verdict the agent reads in the header.
#include "support/process.hpp"

#include <marllb/measure/payload.hpp>
#include <marllb/shm.hpp>

#include <catch2/catch.hpp>

#include <optional>
#include <unistd.h>

using namespace marllb::shm;
using namespace marllb::test;
using marllb::measure::fill_action;

namespace {

using Cleanup = marllb::test::RegionCleanup;

// Polls `cond` every 100 us for up to 10 s.
template <class F> bool eventually(F &&cond) {
    for (int i = 0; i < 100000; ++i) {
        if (cond()) return true;
        usleep(100);
    }
    return false;
}

AgentRegion attach_when_ready(const std::string &name) {
    std::optional<AgentRegion> agent;
    REQUIRE(eventually([&] {
        auto a = AgentRegion::attach(name);
        if (a) agent.emplace(std::move(*a));
        return a.has_value();
    }));
    return std::move(*agent);
}

// A new LB process reopens the region, polls for 300 ms and exits with its action in force.
int restarted_lb_action(const std::string &name) {
    Child lb({MARLLB_TEST_PEER, "lb-serve", name, "--count", "0", "--ms", "300"});
    return lb.wait();
}

} // namespace

TEST_CASE("restart: a late answer refused as stale, then an LB SIGKILL: the new LB keeps the action in force",
          "[restart][action]") {
    const auto name = unique_region("restart_stale");
    Cleanup c{name};
    Child lb({MARLLB_TEST_PEER, "lb-serve", name, "--count", "5"});
    auto agent = attach_when_ready(name);
    REQUIRE(eventually([&] { return agent.published_sequence() == 5; }));

    marllb_msg_in_t a;
    fill_action(a, 5);
    REQUIRE(agent.write_action(a, 1) == Errc::ok);
    REQUIRE(eventually([&] { return agent.verdicts().applied_action_seq == 5; }));
    fill_action(a, 3); // a late answer to an older observation
    REQUIRE(agent.write_action(a, 1) == Errc::ok);
    REQUIRE(eventually([&] { return agent.verdicts().actions_stale == 1; }));

    lb.kill_now(SIGKILL);
    CHECK(lb.wait() == 128 + SIGKILL);
    CHECK(restarted_lb_action(name) == 5);
    const auto v = agent.verdicts();
    CHECK(v.generation == 2);
    CHECK(v.applied_action_seq == 5);
    CHECK(v.actions_stale == 1); // the late answer is not judged a second time
}

TEST_CASE("restart: an agent SIGKILLed mid-write, then an LB SIGKILL: the new LB keeps the action in force",
          "[restart][action]") {
    const auto name = unique_region("restart_midwrite");
    Cleanup c{name};
    Child lb({MARLLB_TEST_PEER, "lb-serve", name, "--count", "5"});
    {
        auto probe = attach_when_ready(name); // wait until the region is there, then let go
    }
    Child agent({MARLLB_TEST_PEER, "agent-die-mid-write", name, "--count", "4"});
    CHECK(agent.wait() == 128 + SIGKILL);
    // The LB saw the odd lock (BUSY) or not yet: either way it keeps action 4.
    usleep(5000);
    lb.kill_now(SIGKILL);
    CHECK(lb.wait() == 128 + SIGKILL);

    CHECK(restarted_lb_action(name) == 4);
    auto opts = default_options();
    opts.flags |= MARLLB_OPT_ALLOW_STALE; // the restarted LB has gone again
    std::optional<AgentRegion> reader;
    {
        auto r = AgentRegion::attach(name, opts);
        REQUIRE(r);
        reader.emplace(std::move(*r));
    }
    const auto v = reader->verdicts();
    CHECK(v.generation == 2);
    CHECK(v.applied_action_seq == 4);

    // A new agent's action still applies over the lock the dead one left odd.
    Child lb2({MARLLB_TEST_PEER, "lb-serve", name, "--count", "1", "--ms", "300"});
    reader.reset();
    auto agent2 = attach_when_ready(name);
    REQUIRE(eventually([&] { return agent2.published_sequence() == 6; }));
    marllb_msg_in_t a;
    fill_action(a, 6);
    REQUIRE(agent2.write_action(a, 3) == Errc::ok);
    CHECK(lb2.wait() == 6);
    CHECK(agent2.verdicts().applied_action_seq == 6);
}
