// A cheap self-checking observation for the flat-out scenarios: every 32-bit word of the
// server stats is derived from the sequence id, so a torn copy (two messages mixed) is caught
// while filling and checking cost ~0.1-0.3 us instead of the full payload's ~3 us
// (core/tests/support/payload.hpp, used where the check is off the measured path).
#pragma once

#include <marllb/shm_layout.h>

#include <cstdint>
#include <cstring>

namespace marllb::scenarios {

inline constexpr std::size_t kStatWords = sizeof(marllb_msg_out_t::as_stats) / 4;

inline void fill_fast(marllb_msg_out_t &m, std::uint64_t seq) noexcept {
    m.sequence_id = seq;
    m.timestamp_us = seq | 1;
    m.active_as_bitmap = ~std::uint64_t(0);
    m.num_active_as = 64;
    m.reserved = std::uint32_t(seq * 0x9E3779B1u);
    std::uint32_t w[kStatWords];
    const std::uint32_t base = std::uint32_t(seq * 0x9E3779B1u);
    for (std::uint32_t j = 0; j < kStatWords; ++j) w[j] = base + j;
    std::memcpy(m.as_stats, w, sizeof w);
}

inline bool intact_fast(const marllb_msg_out_t &m) noexcept {
    const std::uint32_t base = std::uint32_t(m.sequence_id * 0x9E3779B1u);
    if (m.timestamp_us != (m.sequence_id | 1) || m.reserved != base || m.num_active_as != 64) return false;
    std::uint32_t w[kStatWords];
    std::memcpy(w, m.as_stats, sizeof w);
    std::uint32_t bad = 0;
    for (std::uint32_t j = 0; j < kStatWords; ++j) bad |= w[j] ^ (base + j);
    return bad == 0;
}

} // namespace marllb::scenarios
