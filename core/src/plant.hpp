// Test builds only: slowdowns of a known size, planted to show that the benchmark gate
// catches them (docs/benchmarks.md, scripts/gate_series.sh). Configured with
// -DMARLLB_TEST_PLANT=NAME (core/CMakeLists.txt); in a product build every hook is empty.
#pragma once

#include "seqlock.hpp"

#include <marllb/shm.h>

#include <cstdint>

namespace marllb::shm::plant {

inline std::uint64_t begin() noexcept {
#if defined(MARLLB_TEST_PLANT_READ_DELAY_NS) || defined(MARLLB_TEST_PLANT_READ_TAIL_NS)
    return marllb_now_mono_ns();
#else
    return 0;
#endif
}

inline void spin_for(std::uint64_t ns) noexcept {
    const std::uint64_t until = marllb_now_mono_ns() + ns;
    while (marllb_now_mono_ns() < until) {
    }
}

// Inside publish, before the slot becomes visible: the first `bytes` of the message copied
// into the slot a second time (the same values: readers see nothing different). Work of the
// same kind as the publish itself, so the slowdown is a fixed fraction of it on any host.
inline void publish(void *slot_msg, const void *msg) noexcept {
#ifdef MARLLB_TEST_PLANT_PUBLISH_EXTRA_BYTES
    detail::copy_to_shared(slot_msg, msg, MARLLB_TEST_PLANT_PUBLISH_EXTRA_BYTES);
#else
    (void)slot_msg, (void)msg;
#endif
}

// At the end of a read that returns a message: a fixed delay (the one-way latency grows by
// it), or a delay of one read in 50 (2 % of events: above the 99th percentile).
inline void read(std::uint64_t began) noexcept {
    (void)began;
#ifdef MARLLB_TEST_PLANT_READ_DELAY_NS
    spin_for(MARLLB_TEST_PLANT_READ_DELAY_NS);
#endif
#ifdef MARLLB_TEST_PLANT_READ_TAIL_NS
    static thread_local std::uint64_t reads = 0;
    if (++reads % 50 == 0) spin_for(MARLLB_TEST_PLANT_READ_TAIL_NS);
#endif
}

// The work of the call done a second time, with the same values, so the LB sees nothing
// different: the action's checks in one call of two (validate_1.5x: +50 % of the call), or the
// checks and the copy into the slot in three calls of five (write_action_1.5x: they were ~85 %
// of a write, whose lock, clock and counter make the rest, so +60 % of them was +50 % of the
// call; in one call of two the measured growth was 1.29-1.45; since the checks' fast path they
// are ~80 % and the plant ~+47 %, docs/benchmarks.md). Work of the same kind as the call, so
// the slowdown is a fixed fraction of it on any host.
template <unsigned Of, unsigned Calls, class Work> inline void again_in([[maybe_unused]] Work &&work) noexcept {
#if defined(MARLLB_TEST_PLANT_VALIDATE_AGAIN) || defined(MARLLB_TEST_PLANT_WRITE_ACTION_AGAIN)
    static thread_local std::uint64_t calls = 0;
    if (++calls % Calls < Of) work();
#endif
}

inline constexpr bool validate_again =
#ifdef MARLLB_TEST_PLANT_VALIDATE_AGAIN
    true;
#else
    false;
#endif
inline constexpr bool write_action_again =
#ifdef MARLLB_TEST_PLANT_WRITE_ACTION_AGAIN
    true;
#else
    false;
#endif

// In the LB's poll, one newer action in 50 consumed without being applied (reported stale):
// a lost action that no host caused, which the full loop's lost_calm must count (action_drop).
inline bool drop_action() noexcept {
#ifdef MARLLB_TEST_PLANT_DROP_ACTION
    static thread_local std::uint64_t actions = 0;
    return ++actions % 50 == 0;
#else
    return false;
#endif
}

} // namespace marllb::shm::plant
