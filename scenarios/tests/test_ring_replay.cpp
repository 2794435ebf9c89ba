// The ring-of-4 replay that judges marllb-scenario-wrap: its predictions on schedules whose
// loss is known by hand, its handling of reads that overlap a publish, and that it flags a
// reader which loses more than the ring forces.
#include "ring_replay.hpp"

#include <catch2/catch.hpp>

using namespace marllb::scenarios;

namespace {
// Publish k at k * 1000 ns, taking 100 ns.
std::vector<Span> publishes(std::uint64_t n) {
    std::vector<Span> p;
    for (std::uint64_t k = 0; k < n; ++k) p.push_back({k * 1000, k * 1000 + 100});
    return p;
}
ReadEvent read_at(std::uint64_t t, std::uint64_t seq) { return {{t, t + 50}, seq}; }
} // namespace

TEST_CASE("a reader keeping up loses nothing, one that waits 6 publishes loses 2", "[replay]") {
    const auto p = publishes(10);
    // Reads 500 ns after publishes 1, 2, 3 (sequences 1..3), then after publish 9 (sequence 9):
    // the ring holds 6..9, the next wanted is 4, so 4 and 5 are lost and 6 is returned.
    const std::vector<ReadEvent> r{read_at(500, 1), read_at(1500, 2), read_at(2500, 3), read_at(8500, 6)};
    const ReplayResult res = replay_ring(p, r, 4, 200);
    REQUIRE(res.lost == std::vector<std::uint64_t>{2});
    CHECK(res.ambiguous == 0);
    CHECK(res.disagreeing == 0);
}

TEST_CASE("a read before anything is published returns nothing", "[replay]") {
    const auto p = publishes(3);
    const ReplayResult res = replay_ring(p, {{{0, 10}, 0}, read_at(500, 1)}, 4, 0);
    CHECK(res.lost == std::vector<std::uint64_t>{0});
    CHECK(res.disagreeing == 0);
}

TEST_CASE("a reader that loses one more than the ring forces is caught", "[replay]") {
    const auto p = publishes(10);
    // As above, but the reader returns 7 (a ring of 3): 4, 5 and 6 lost.
    const std::vector<ReadEvent> r{read_at(500, 1), read_at(1500, 2), read_at(2500, 3), read_at(8500, 7)};
    const ReplayResult res = replay_ring(p, r, 4, 200);
    CHECK(res.lost == std::vector<std::uint64_t>{2});
    CHECK_FALSE(res.contains(3));
    CHECK(res.disagreeing == 1);
    CHECK(res.first_disagreeing == 3);
}

TEST_CASE("a read overlapping the publish that overwrites its message allows both outcomes", "[replay]") {
    const auto p = publishes(10);
    // Last returned 1; a read during publish 6 (sequence 6 destroys 2): 2 (before) or 3 (during
    // or after, losing 2).
    const std::vector<ReadEvent> r{read_at(500, 1), {{5050, 5080}, 3}};
    const ReplayResult res = replay_ring(p, r, 4, 0);
    CHECK(res.ambiguous == 1);
    CHECK(res.lost == std::vector<std::uint64_t>{0, 1});
    CHECK(res.disagreeing == 0);
}

TEST_CASE("the guard widens a publish: a read just after it counts as overlapping", "[replay]") {
    const auto p = publishes(3);
    const std::vector<ReadEvent> r{{{150, 160}, 1}};
    CHECK(replay_ring(p, r, 4, 0).ambiguous == 0);
    CHECK(replay_ring(p, r, 4, 100).ambiguous == 1);
}
