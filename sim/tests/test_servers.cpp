// Processor-sharing servers: service rates, the 32-worker limit, the 128-connection backlog
// and the reset beyond it; server-set parsing.
#include "servers.hpp"

#include <catch2/catch.hpp>

using namespace marllb::sim;

TEST_CASE("two jobs on one core share it: each takes twice as long", "[servers]") {
    PsServer s(1.0);
    REQUIRE(s.admit());
    REQUIRE(s.admit());
    s.request(0, 1.0, 0);
    s.request(1, 1.0, 0);
    CHECK(s.next_completion() == 2'000'000'000ull);
    CHECK(s.complete(2'000'000'000ull) <= 1);
    CHECK(s.next_completion() == 2'000'000'000ull); // the other one finished at the same time
}

TEST_CASE("a 2-core server runs two jobs at full speed, three at 2/3 each", "[servers]") {
    PsServer s(2.0);
    for (int i = 0; i < 3; ++i) REQUIRE(s.admit());
    s.request(0, 1.0, 0);
    s.request(1, 1.0, 0);
    CHECK(s.next_completion() == 1'000'000'000ull);
    s.request(2, 1.0, 0);
    CHECK(s.next_completion() == 1'500'000'000ull);
}

TEST_CASE("32 workers run, 128 wait, the 161st connection is reset", "[servers]") {
    PsServer s(1.0);
    for (unsigned i = 0; i < kMaxWorkers + kBacklog; ++i) {
        REQUIRE(s.admit());
        s.request(i, 1.0, 0);
    }
    CHECK(s.active() == kMaxWorkers);
    CHECK(s.queued() == kBacklog);
    CHECK_FALSE(s.admit());
    // Completing one lets a queued job in and frees one admission.
    s.complete(s.next_completion());
    CHECK(s.active() == kMaxWorkers);
    CHECK(s.queued() == kBacklog - 1);
    CHECK(s.admit());
}

TEST_CASE("server sets: lists, presets, files, and clear errors", "[servers][bad-input]") {
    CHECK(parse_server_set("marllb7").value() == std::vector<double>{1, 1, 1, 1, 2, 2, 2});
    CHECK(parse_server_set("marllb24").value().size() == 24);
    CHECK(parse_server_set("2,4, 0.5").value() == std::vector<double>{2, 4, 0.5});
    for (const char *bad : {"", "1,,x", "1,-2", "0", "nan", "@/nonexistent"}) {
        INFO(bad);
        auto r = parse_server_set(bad);
        REQUIRE_FALSE(r.has_value());
        CHECK_THAT(r.error().message, Catch::Contains("marllb7"));
    }
    std::string many = "1";
    for (int i = 1; i < 65; ++i) many += ",1";
    CHECK_THAT(parse_server_set(many).error().message, Catch::Contains("65 servers; at most 64"));
}

TEST_CASE("a server list with an empty item is refused, not read as a shorter list", "[servers][bad-input]") {
    for (const char *bad : {"1,,2", ",1,2", "1,2,", "1, ,2", "1,\n,2"}) {
        INFO(bad);
        auto r = parse_server_set(bad);
        REQUIRE_FALSE(r.has_value());
        CHECK_THAT(r.error().message, Catch::Contains("an empty item between commas") && Catch::Contains(bad));
    }
    CHECK(parse_server_set("1 2\n4").value() == std::vector<double>{1, 2, 4}); // white space alone separates too
    CHECK(parse_server_set("1,\n2,\n").has_value() == false);
    CHECK(parse_server_set("1,\n2\n").value() == std::vector<double>{1, 2});
}
