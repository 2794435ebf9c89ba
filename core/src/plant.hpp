// Test builds only: slowdowns of a known size, planted to show that the benchmark gate
// catches them (docs/benchmarks.md, scripts/gate_series.sh). Configured with
// -DMARLLB_TEST_PLANT=NAME (core/CMakeLists.txt); in a product build every hook is empty.
#pragma once

#include <marllb/shm.h>

#include <cstdint>

namespace marllb::shm::plant {

// Spins until the operation that began at `began` has taken `factor` times as long as it had
// when called: a slowdown proportional to the operation's own cost, whatever the machine.
inline void stretch([[maybe_unused]] std::uint64_t began, [[maybe_unused]] double factor) noexcept {
    const std::uint64_t spent = marllb_now_mono_ns() - began;
    const auto until = began + std::uint64_t(double(spent) * factor);
    while (marllb_now_mono_ns() < until) {
    }
}

inline std::uint64_t begin() noexcept {
#if defined(MARLLB_TEST_PLANT_PUBLISH_FACTOR) || defined(MARLLB_TEST_PLANT_READ_FACTOR) || \
    defined(MARLLB_TEST_PLANT_READ_TAIL_NS)
    return marllb_now_mono_ns();
#else
    return 0;
#endif
}

// Inside publish, before the slot becomes visible: the publish call and the one-way latency
// both grow.
inline void publish(std::uint64_t began) noexcept {
#ifdef MARLLB_TEST_PLANT_PUBLISH_FACTOR
    stretch(began, MARLLB_TEST_PLANT_PUBLISH_FACTOR);
#else
    (void)began;
#endif
}

// At the end of a read that returns a message. The tail plant delays one read in 50 (2 % of
// events: above the 99th percentile) by a fixed time.
inline void read(std::uint64_t began) noexcept {
#ifdef MARLLB_TEST_PLANT_READ_FACTOR
    stretch(began, MARLLB_TEST_PLANT_READ_FACTOR);
#endif
#ifdef MARLLB_TEST_PLANT_READ_TAIL_NS
    static thread_local std::uint64_t reads = 0;
    if (++reads % 50 == 0) {
        const std::uint64_t until = marllb_now_mono_ns() + MARLLB_TEST_PLANT_READ_TAIL_NS;
        while (marllb_now_mono_ns() < until) {
        }
    }
#endif
    (void)began;
}

} // namespace marllb::shm::plant
