// Self-checking payloads: every word of a message is derived from its sequence id, so a copy
// that mixes two messages (a torn read) differs from the message its sequence id names.
//
// Two strengths of the same idea:
//   fill_observation / observation_intact  every byte of a msg_out_t (features included),
//                                          ~3 us per fill and check: off the measured path
//   fill_fast / intact_fast                the header words and the 704 32-bit words of the
//                                          server stats, ~0.1-0.3 us: for flat-out loops;
//                                          active_as_bitmap is left free for the caller
// plus the same for the raw reservoirs and for actions.
#pragma once

#include <marllb/shm.h>

#include <cstddef>
#include <cstdint>
#include <cstring>

namespace marllb::measure {

inline std::uint64_t mix64(std::uint64_t x) {
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

// The observation the LB publishes as `seq` (sequence_id included, as publish sets it).
inline void fill_observation(marllb_msg_out_t &m, std::uint64_t seq) {
    m.sequence_id = seq;
    m.timestamp_us = mix64(seq) | 1; // non-zero: publish keeps it
    m.active_as_bitmap = mix64(seq + 1);
    m.num_active_as = std::uint32_t(seq % 65);
    for (std::uint32_t i = 0; i < MARLLB_MAX_AS; ++i) {
        const std::uint64_t h = mix64(seq * 64 + i);
        m.as_stats[i].n_flow_on = std::uint32_t(h);
        for (std::uint32_t k = 0; k < MARLLB_FEATURES_PER_AS; ++k)
            m.as_stats[i].reservoir_features[k] = float((h >> (k * 3)) & 0xffff);
    }
    std::uint32_t sum = 0;
    const auto *b = reinterpret_cast<const unsigned char *>(&m);
    for (std::size_t i = 0; i < sizeof m; ++i)
        if (i < offsetof(marllb_msg_out_t, reserved) || i >= offsetof(marllb_msg_out_t, as_stats))
            sum = sum * 31 + b[i];
    m.reserved = sum; // checksum over every other byte
}

// True if `m` is exactly the observation its sequence id names.
inline bool observation_intact(const marllb_msg_out_t &m) {
    marllb_msg_out_t want;
    fill_observation(want, m.sequence_id);
    return std::memcmp(&want, &m, sizeof m) == 0;
}

inline void fill_reservoirs(marllb_reservoir_data_t &r, std::uint64_t seq) {
    for (std::uint32_t i = 0; i < MARLLB_MAX_AS; ++i)
        for (std::uint32_t k = 0; k < MARLLB_RESERVOIR_CAPACITY; ++k) {
            r.fct[i].values[k] = float((seq + i + k) % 4096);
            r.fct[i].timestamps[k] = seq;
            r.flow_duration[i].values[k] = float((seq * 3 + i + k) % 4096);
            r.flow_duration[i].timestamps[k] = seq;
        }
}

inline bool reservoirs_intact(const marllb_reservoir_data_t &r, std::uint64_t seq) {
    static thread_local marllb_reservoir_data_t want;
    fill_reservoirs(want, seq);
    return std::memcmp(&want, &r, sizeof r) == 0;
}

// A valid action answering observation `seq` over n servers, every weight derived from seq.
inline void fill_action(marllb_msg_in_t &a, std::uint64_t seq, std::uint32_t n = 16) {
    std::memset(&a, 0, sizeof a);
    a.sequence_id = seq;
    a.timestamp_us = mix64(seq);
    a.num_servers = n;
    for (std::uint32_t i = 0; i < n; ++i) a.weights[i] = float(1 + (mix64(seq * 64 + i) % 100));
    marllb_alias_build(a.weights, n, a.alias_table);
}

inline bool action_intact(const marllb_msg_in_t &a) {
    marllb_msg_in_t want;
    fill_action(want, a.sequence_id, a.num_servers);
    return std::memcmp(&want, &a, sizeof a) == 0;
}

// The same check with timestamp_us left free: a benchmark carries its scheduled send time there.
inline bool action_intact_but_timestamp(const marllb_msg_in_t &a) {
    marllb_msg_in_t t = a;
    t.timestamp_us = mix64(a.sequence_id); // what fill_action puts there
    return action_intact(t);
}

// ---- the fast observation
inline constexpr std::size_t kStatWords = sizeof(marllb_msg_out_t::as_stats) / 4;

inline void fill_fast(marllb_msg_out_t &m, std::uint64_t seq) noexcept {
    m.sequence_id = seq;
    m.timestamp_us = seq | 1; // non-zero: publish keeps it
    m.active_as_bitmap = ~std::uint64_t(0);
    m.num_active_as = 64;
    m.reserved = std::uint32_t(seq * 0x9E3779B1u);
    std::uint32_t w[kStatWords];
    const std::uint32_t base = std::uint32_t(seq * 0x9E3779B1u);
    for (std::uint32_t j = 0; j < kStatWords; ++j) w[j] = base + j;
    std::memcpy(m.as_stats, w, sizeof w);
}

// True if every word fill_fast derives from m.sequence_id has its value (active_as_bitmap
// is not checked: a benchmark may carry its scheduled send time there).
inline bool intact_fast(const marllb_msg_out_t &m) noexcept {
    const std::uint32_t base = std::uint32_t(m.sequence_id * 0x9E3779B1u);
    if (m.timestamp_us != (m.sequence_id | 1) || m.reserved != base || m.num_active_as != 64) return false;
    std::uint32_t w[kStatWords];
    std::memcpy(w, m.as_stats, sizeof w);
    std::uint32_t bad = 0;
    for (std::uint32_t j = 0; j < kStatWords; ++j) bad |= w[j] ^ (base + j);
    return bad == 0;
}

} // namespace marllb::measure
