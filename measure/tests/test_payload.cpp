// The self-checking payloads catch a message mixed from two: any single word changed, or any
// word taken from another sequence id, makes the check fail.
#include "marllb/measure/payload.hpp"

#include <catch2/catch.hpp>

using namespace marllb::measure;

TEST_CASE("full observation: intact as filled, torn when any byte comes from another message", "[payload]") {
    marllb_msg_out_t a, b;
    fill_observation(a, 41);
    fill_observation(b, 42);
    CHECK(observation_intact(a));
    CHECK(observation_intact(b));
    auto *pa = reinterpret_cast<unsigned char *>(&a);
    const auto *pb = reinterpret_cast<const unsigned char *>(&b);
    std::size_t caught = 0, differ = 0;
    for (std::size_t i = 0; i < sizeof a; ++i) {
        if (pa[i] == pb[i]) continue;
        ++differ;
        const unsigned char keep = pa[i];
        pa[i] = pb[i]; // one byte of the next message: a torn copy
        caught += !observation_intact(a);
        pa[i] = keep;
    }
    CHECK(differ > sizeof a / 2);
    CHECK(caught == differ);
}

TEST_CASE("fast observation: each stats word and header word is checked, the bitmap is free", "[payload]") {
    marllb_msg_out_t a, b;
    fill_fast(a, 7);
    fill_fast(b, 8);
    CHECK(intact_fast(a));
    a.active_as_bitmap = 123456789; // a benchmark's scheduled time rides here
    CHECK(intact_fast(a));
    for (std::size_t j = 0; j < kStatWords; ++j) {
        marllb_msg_out_t t = a;
        std::memcpy(reinterpret_cast<unsigned char *>(t.as_stats) + 4 * j,
                    reinterpret_cast<const unsigned char *>(b.as_stats) + 4 * j, 4);
        if (!intact_fast(t)) continue;
        FAIL("stats word " << j << " taken from message 8 was not caught");
    }
    marllb_msg_out_t t = a;
    t.reserved = b.reserved;
    CHECK_FALSE(intact_fast(t));
    t = a;
    t.timestamp_us = b.timestamp_us;
    CHECK_FALSE(intact_fast(t));
}

TEST_CASE("action: valid, and torn when a weight or alias entry comes from another action", "[payload]") {
    marllb_msg_in_t a, b;
    fill_action(a, 5, 64);
    fill_action(b, 6, 64);
    CHECK(action_intact(a));
    marllb_msg_in_t t = a;
    t.weights[63] = b.weights[63] == a.weights[63] ? a.weights[63] + 1 : b.weights[63];
    CHECK_FALSE(action_intact(t));
    t = a;
    t.alias_table[0].prob = a.alias_table[0].prob == 0.5f ? 0.25f : 0.5f;
    CHECK_FALSE(action_intact(t));
}

TEST_CASE("reservoirs: intact for their sequence, torn for another", "[payload]") {
    static marllb_reservoir_data_t r;
    fill_reservoirs(r, 3);
    CHECK(reservoirs_intact(r, 3));
    CHECK_FALSE(reservoirs_intact(r, 4));
    r.flow_duration[63].values[127] += 1;
    CHECK_FALSE(reservoirs_intact(r, 3));
}

TEST_CASE("action with a caller's timestamp: still checked everywhere else", "[payload]") {
    marllb_msg_in_t a;
    fill_action(a, 9, 64);
    a.timestamp_us = 987654321; // a benchmark's scheduled send time
    CHECK(action_intact_but_timestamp(a));
    CHECK_FALSE(action_intact(a));
    a.weights[10] += 1;
    CHECK_FALSE(action_intact_but_timestamp(a));
}
