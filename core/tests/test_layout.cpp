// Layout: the ABI's sizes, offsets and alignment, checked at run time as well as by the
// header's static asserts (so a change shows up as a failing test with the numbers).
#include <marllb/shm.h>

#include <catch2/catch.hpp>

#include <type_traits>

TEST_CASE("msg_out_t has the seed's fields in the seed's order and is 2,848 bytes", "[layout]") {
    CHECK(sizeof(marllb_msg_out_t) == 2848);
    CHECK(offsetof(marllb_msg_out_t, sequence_id) == 0);
    CHECK(offsetof(marllb_msg_out_t, timestamp_us) == 8);
    CHECK(offsetof(marllb_msg_out_t, active_as_bitmap) == 16);
    CHECK(offsetof(marllb_msg_out_t, num_active_as) == 24);
    CHECK(offsetof(marllb_msg_out_t, reserved) == 28);
    CHECK(offsetof(marllb_msg_out_t, as_stats) == 32);
    CHECK(sizeof(marllb_as_stats_t) == 44);
    CHECK(offsetof(marllb_as_stats_t, reservoir_features) == 4);
}

TEST_CASE("msg_in_t is 792 bytes: a 24-byte header, weights, alias table", "[layout]") {
    CHECK(sizeof(marllb_msg_in_t) == 792);
    CHECK(offsetof(marllb_msg_in_t, num_servers) == 16);
    CHECK(offsetof(marllb_msg_in_t, weights) == 24);
    CHECK(offsetof(marllb_msg_in_t, alias_table) == 24 + 256);
    CHECK(sizeof(marllb_alias_entry_t) == 8);
}

TEST_CASE("raw reservoirs are 196,608 bytes and the whole region stays under 1 MiB", "[layout]") {
    CHECK(sizeof(marllb_reservoir_data_t) == 196608);
    CHECK(MARLLB_REGION_SIZE_BASE == 20480);
    CHECK(MARLLB_REGION_SIZE_WITH_RESERVOIRS == 417792);
    CHECK(MARLLB_REGION_SIZE_WITH_RESERVOIRS < (1u << 20));
}

TEST_CASE("sections are page-aligned and hot words sit alone on their cache lines", "[layout]") {
    CHECK(MARLLB_RING_OFFSET % 4096 == 0);
    CHECK(MARLLB_ACTION_OFFSET % 4096 == 0);
    CHECK(MARLLB_RESERVOIR_OFFSET % 4096 == 0);
    CHECK(offsetof(marllb_obs_ring_t, slots) == 64);        // published_seq alone
    CHECK(sizeof(marllb_obs_slot_t) % 64 == 0);
    CHECK(offsetof(marllb_obs_slot_t, msg) % 64 == 0);
    CHECK(offsetof(marllb_action_section_t, agent_heartbeat_ns) == 64); // off the polled line
    CHECK(offsetof(marllb_action_section_t, msg) % 64 == 0);
    CHECK(offsetof(marllb_region_header_t, lb_heartbeat_ns) % 64 == 0);
    CHECK(offsetof(marllb_region_header_t, applied_action_seq) % 64 == 0);
    // Meta words are contiguous with the message so one copy takes both under the lock.
    CHECK(offsetof(marllb_obs_slot_t, publish_mono_ns) + 16 == offsetof(marllb_obs_slot_t, msg));
    CHECK(offsetof(marllb_action_section_t, write_mono_ns) + 16 == offsetof(marllb_action_section_t, msg));
}

TEST_CASE("shared types are trivially copyable and standard layout", "[layout]") {
    STATIC_REQUIRE(std::is_trivially_copyable_v<marllb_msg_out_t>);
    STATIC_REQUIRE(std::is_standard_layout_v<marllb_msg_out_t>);
    STATIC_REQUIRE(std::is_trivially_copyable_v<marllb_msg_in_t>);
    STATIC_REQUIRE(std::is_standard_layout_v<marllb_msg_in_t>);
    STATIC_REQUIRE(std::is_trivially_copyable_v<marllb_region_header_t>);
    STATIC_REQUIRE(std::is_standard_layout_v<marllb_obs_ring_t>);
    STATIC_REQUIRE(std::is_standard_layout_v<marllb_action_section_t>);
    STATIC_REQUIRE(alignof(marllb_msg_out_t) == 8);
}
