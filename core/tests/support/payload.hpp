// Self-checking payloads: every word of a message is derived from its sequence id, so a copy
// that mixes two messages (a torn read) differs from the message its sequence id names.
#pragma once

#include <marllb/shm.h>

#include <cstdint>
#include <cstring>

namespace marllb::test {

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

} // namespace marllb::test
